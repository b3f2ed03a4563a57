/* helpline chat widget.  Add to any page:
 *   <script src="https://HOST/widget.js" async></script>
 * Optional: data-lang="en" (or ar, fa, so, ti, tr, ru, bs, ku...) on the script tag (otherwise the
 * page's <html lang>, else Swedish); Arabic and Persian put the button at the bottom left.
 * Adds a floating "Chatta med oss" button that opens the chat (/chat?embed=1) in a panel.
 * Styles are set through the DOM (element.style), so the host page's CSP need not allow inline CSS.
 */
(function () {
  "use strict";
  if (window.__helplineWidget) { return; }
  window.__helplineWidget = true;

  var script = document.currentScript;
  if (!script) {
    var found = document.querySelectorAll('script[src*="/widget.js"]');
    script = found[found.length - 1];
  }
  if (!script || !script.src) { return; }
  var origin = new URL(script.src, location.href).origin;
  var want = (script.getAttribute("data-lang") || document.documentElement.lang || "sv").slice(0, 2).toLowerCase();
  // The server fills in the widget.* section of the person catalogue for every shipped language.
  var CATALOGUE = /*I18N*/{}/*I18N*/;
  if ((want === "hr" || want === "sr") && !CATALOGUE[want]) { want = "bs"; } // they read the Bosnian text
  var lang = CATALOGUE[want] ? want : "sv";
  var T = CATALOGUE[lang] || { open: "Chat", close: "Close", frame: "Chat" };
  // Arabic and Persian read right to left: the button and the panel sit at the bottom left.
  var rtl = lang === "ar" || lang === "fa";
  var side = rtl ? "left" : "right";

  function css(node, styles) {
    Object.keys(styles).forEach(function (k) { node.style[k] = styles[k]; });
  }
  function focusRing(node) {
    node.addEventListener("focus", function () { css(node, { outline: "3px solid #ffbf47", outlineOffset: "2px" }); });
    node.addEventListener("blur", function () { css(node, { outline: "none" }); });
  }

  function init() {
    var button = document.createElement("button");
    button.type = "button";
    button.id = "hl-widget-button";
    button.textContent = T.open;
    button.lang = lang;
    button.dir = rtl ? "rtl" : "ltr";
    button.setAttribute("aria-expanded", "false");
    button.setAttribute("aria-controls", "hl-widget-panel");
    button.style[side] = "16px";
    css(button, {
      position: "fixed", bottom: "16px", zIndex: "2147483000", padding: "12px 20px",
      minHeight: "44px", border: "2px solid #ffffff", borderRadius: "24px", background: "#1d3f6e", color: "#ffffff",
      font: "600 16px system-ui, -apple-system, 'Segoe UI', Roboto, Arial, sans-serif", cursor: "pointer",
      boxShadow: "0 2px 8px rgba(0,0,0,.3)"
    });
    focusRing(button);

    var panel = null;
    var frame = null;

    function build() {
      panel = document.createElement("div");
      panel.id = "hl-widget-panel";
      panel.setAttribute("role", "dialog");
      panel.setAttribute("aria-label", T.frame);
      panel.lang = lang;
      panel.dir = rtl ? "rtl" : "ltr";
      panel.style[side] = "8px";
      css(panel, {
        position: "fixed", bottom: "72px", zIndex: "2147483000",
        width: "min(400px, calc(100vw - 16px))", height: "min(640px, calc(100vh - 88px))",
        display: "flex", flexDirection: "column", background: "#ffffff", border: "1px solid #1d3f6e",
        borderRadius: "8px", boxShadow: "0 4px 16px rgba(0,0,0,.35)", overflow: "hidden"
      });
      var close = document.createElement("button");
      close.type = "button";
      close.textContent = T.close;
      css(close, {
        alignSelf: "stretch", minHeight: "40px", border: "0", background: "#e8ecf2", color: "#1d3f6e",
        font: "600 15px system-ui, -apple-system, 'Segoe UI', Roboto, Arial, sans-serif", cursor: "pointer"
      });
      focusRing(close);
      close.addEventListener("click", function () { toggle(false); button.focus(); });
      frame = document.createElement("iframe");
      frame.src = origin + "/chat?embed=1&lang=" + lang;
      frame.title = T.frame;
      frame.referrerPolicy = "no-referrer";
      frame.setAttribute("referrerpolicy", "no-referrer");
      css(frame, { flex: "1", width: "100%", border: "0" });
      panel.appendChild(close);
      panel.appendChild(frame);
      document.body.appendChild(panel);
    }

    function toggle(open) {
      if (open && !panel) { build(); }
      if (panel) { panel.style.display = open ? "flex" : "none"; }
      button.setAttribute("aria-expanded", open ? "true" : "false");
      if (open && frame) { frame.focus(); }
    }

    button.addEventListener("click", function () {
      toggle(!(panel && panel.style.display !== "none"));
    });
    document.addEventListener("keydown", function (ev) {
      if (ev.key === "Escape" && panel && panel.style.display !== "none") { toggle(false); button.focus(); }
    });
    window.addEventListener("message", function (ev) {
      if (ev.origin !== origin || !ev.data || ev.data.type !== "hl-quick-exit") { return; }
      var url = String(ev.data.url || "");
      if (panel && panel.parentNode) { panel.parentNode.removeChild(panel); }
      if (button.parentNode) { button.parentNode.removeChild(button); }
      if (/^https?:\/\//.test(url)) { window.location.replace(url); }
    });
    document.body.appendChild(button);
  }

  if (document.body) { init(); } else { document.addEventListener("DOMContentLoaded", init); }
}());
