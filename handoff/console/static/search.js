/* The supervisors' search: filters, one page of results at a time; opening a result is audited
   on the server (documentation here, a transcript on its own page). */
"use strict";

(function () {
  const { t, el, api } = HL;
  const form = document.getElementById("search-form");
  const body = document.querySelector("#s-results tbody");
  const status = document.getElementById("s-status");
  const pageEl = document.getElementById("s-page");
  const prev = document.getElementById("s-prev");
  const next = document.getElementById("s-next");
  const record = document.getElementById("s-record");
  const intent = document.getElementById("s-intent");
  let page = 1;
  let pages = 1;

  Object.keys(HL.i18n.intents).forEach(function (key) {
    intent.appendChild(el("option", { value: key }, HL.intentLabel(key)));
  });

  function fmt(text, values) {
    return text.replace(/\{(\w+)\}/g, function (_, k) { return String(values[k]); });
  }

  async function run() {
    const q = new URLSearchParams();
    new FormData(form).forEach(function (value, key) { if (String(value).trim()) q.set(key, String(value).trim()); });
    q.set("page", String(page));
    const res = await api("GET", "/console/api/search?" + q.toString());
    if (res.status !== 200) { status.textContent = HL.errorText(res); return; }
    const data = res.data;
    pages = data.pages;
    status.textContent = data.total ? fmt(t("search_hits"), { n: data.total }) : t("search_none");
    pageEl.textContent = fmt(t("page_of"), { page: data.page, pages: data.pages });
    prev.disabled = data.page <= 1;
    next.disabled = data.page >= data.pages;
    body.replaceChildren.apply(body, data.results.map(function (r) {
      let open;
      if (r.kind === "transcripts") {
        open = el("a", { href: "/console/conversations/" + r.conversation_id, className: "s-open", target: "_blank", rel: "noopener" }, t("search_open_transcript"));
      } else {
        open = el("button", { type: "button", className: "s-open" }, t("search_open"));
        open.addEventListener("click", function () { openRecord(r.conversation_id); });
      }
      return el("tr", { dataset: { conversationId: r.conversation_id } }, [
        el("td", null, HL.formatStamp(r.created_at)),
        el("td", null, HL.channelLabel(r.channel)),
        el("td", null, HL.intentLabel(r.intent)),
        el("td", null, r.municipality_code || "–"),
        el("td", null, r.matches === undefined ? "–" : String(r.matches)),
        el("td", null, [open]),
      ]);
    }));
  }

  async function openRecord(id) {
    const res = await api("GET", "/console/api/search/records/" + id);
    if (res.status !== 200) { record.replaceChildren(el("p", { className: "problem" }, HL.errorText(res))); return; }
    record.replaceChildren(
      el("h2", null, t("search_record") + " · " + HL.formatStamp(res.data.created_at)),
      el("p", { className: "s-summary" }, res.data.summary || "–")
    );
  }

  form.addEventListener("submit", function (ev) { ev.preventDefault(); page = 1; run(); });
  prev.addEventListener("click", function () { if (page > 1) { page -= 1; run(); } });
  next.addEventListener("click", function () { if (page < pages) { page += 1; run(); } });
  run();
})();
