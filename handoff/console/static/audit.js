/* The audit page: filters, pages, and the CSV export of the same selection (audited on the server). */
"use strict";

(function () {
  const { t, el, api } = HL;
  const form = document.getElementById("audit-form");
  const body = document.querySelector("#a-events tbody");
  const status = document.getElementById("a-status");
  const pageEl = document.getElementById("a-page");
  const prev = document.getElementById("a-prev");
  const next = document.getElementById("a-next");
  const action = document.getElementById("a-action");
  const exportLink = document.getElementById("a-export");
  let page = 1;
  let pages = 1;

  function fmt(text, values) {
    return text.replace(/\{(\w+)\}/g, function (_, k) { return String(values[k]); });
  }

  function filters() {
    const q = new URLSearchParams();
    new FormData(form).forEach(function (value, key) { if (String(value).trim()) q.set(key, String(value).trim()); });
    return q;
  }

  async function run() {
    const q = filters();
    exportLink.href = "/console/api/audit-log.csv?" + q.toString();
    q.set("page", String(page));
    const res = await api("GET", "/console/api/audit-log?" + q.toString());
    if (res.status !== 200) { status.textContent = HL.errorText(res); return; }
    const data = res.data;
    pages = data.pages;
    const chosen = action.value;
    action.replaceChildren.apply(action, [el("option", { value: "" }, t("search_any"))].concat(data.actions.map(function (a) {
      return el("option", { value: a }, actionWords(a) || a);
    })));
    action.value = chosen;
    status.textContent = data.total ? fmt(t("search_hits"), { n: data.total }) : t("audit_none");
    pageEl.textContent = fmt(t("page_of"), { page: data.page, pages: data.pages });
    prev.disabled = data.page <= 1;
    next.disabled = data.page >= data.pages;
    body.replaceChildren.apply(body, data.events.map(function (e) {
      return el("tr", { dataset: { action: e.action } }, [
        el("td", null, HL.formatStamp(e.at)),
        el("td", { attrs: { translate: "no" } }, e.actor),
        el("td", null, actionWords(e.action) ? [el("span", null, actionWords(e.action) + " "), el("code", { className: "audit-code", attrs: { translate: "no" } }, e.action)] : [el("code", { attrs: { translate: "no" } }, e.action)]),
        el("td", { className: "mono", attrs: { translate: "no" } }, e.conversation_id || "–"),
        // The details are the record as stored (keys and values of the code): data, not words.
        el("td", { className: "mono", attrs: { translate: "no" } }, Object.keys(e.details || {}).length ? JSON.stringify(e.details) : ""),
      ]);
    }));
  }

  /* An action's words in the page's language (handoff/history/audit_labels.py), or null. */
  function actionWords(code) {
    const words = HL.i18n.audit_actions || {};
    return Object.prototype.hasOwnProperty.call(words, code) ? words[code] : null;
  }

  form.addEventListener("submit", function (ev) { ev.preventDefault(); page = 1; run(); });
  prev.addEventListener("click", function () { if (page > 1) { page -= 1; run(); } });
  next.addEventListener("click", function () { if (page < pages) { page += 1; run(); } });
  run();
})();
