/* The context pane of each conversation (templates/context/): five tabs, Triage, Person, Referral,
   Crime information and Documentation, as an accessible tab list: one tab stop, the arrow keys
   (mirrored for right-to-left), Home and End move between tabs and show their panel.
   Other scripts show a tab with HLContext.show(panel, "crime"). */
"use strict";

window.HLContext = (function () {
  function tabsOf(panel) {
    return Array.from(panel.querySelectorAll('.ctx-tabs [role="tab"]'));
  }

  function show(panel, key, focus) {
    tabsOf(panel).forEach(function (tab) {
      const on = tab.dataset.ctx === key;
      tab.setAttribute("aria-selected", on ? "true" : "false");
      tab.tabIndex = on ? 0 : -1;
      if (on && focus) tab.focus();
    });
    panel.querySelectorAll('.ctx-panel[role="tabpanel"]').forEach(function (p) {
      p.hidden = p.dataset.ctx !== key;
    });
    panel.dispatchEvent(new CustomEvent("hl:context", { detail: { key: key } }));
  }

  function mount(id, panel) {
    const tabs = tabsOf(panel);
    tabs.forEach(function (tab) {
      const key = tab.dataset.ctx;
      const body = panel.querySelector('.ctx-panel[data-ctx="' + key + '"]');
      tab.id = "ctx-tab-" + key + "-" + id;
      body.id = "ctx-panel-" + key + "-" + id;
      tab.setAttribute("aria-controls", body.id);
      body.setAttribute("aria-labelledby", tab.id);
      tab.addEventListener("click", function () { show(panel, key, false); });
      tab.addEventListener("keydown", function (ev) {
        const rtl = getComputedStyle(tab).direction === "rtl";
        const forward = rtl ? "ArrowLeft" : "ArrowRight";
        const back = rtl ? "ArrowRight" : "ArrowLeft";
        const i = tabs.indexOf(tab);
        let next = -1;
        if (ev.key === forward) next = (i + 1) % tabs.length;
        else if (ev.key === back) next = (i - 1 + tabs.length) % tabs.length;
        else if (ev.key === "Home") next = 0;
        else if (ev.key === "End") next = tabs.length - 1;
        if (next < 0) return;
        ev.preventDefault();
        show(panel, tabs[next].dataset.ctx, true);
      });
    });
  }

  document.addEventListener("hl:panel", function (ev) {
    if (ev.detail && ev.detail.id && ev.detail.panel) mount(ev.detail.id, ev.detail.panel);
  });
  return { show: show };
})();
