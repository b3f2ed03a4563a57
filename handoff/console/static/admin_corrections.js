/* The admin's handling of counsellors' corrections of the triage: accept (a new training example)
   or reject each proposed one, and how many corrections the active model still gets wrong.
   Text is only ever set with textContent (through HL.el). */
"use strict";

(function () {
  const { t, el, api } = HL;
  const API = "/console/api/triage/corrections";
  const notice = document.getElementById("notice");
  const problem = document.getElementById("problem");
  const body = document.querySelector("#correction-table tbody");
  const intentOptions = document.getElementById("intent-options");

  function say(text) {
    problem.hidden = true;
    notice.textContent = text;
  }

  function fail(res) {
    const d = res.data || {};
    const fields = d.fields && d.error !== "invalid_input" ? Object.values(d.fields) : [];
    problem.textContent = fields.length ? fields.join(" ") : HL.errorText(res);
    problem.hidden = false;
    notice.textContent = "";
  }

  function given(c) {
    const parts = [];
    if (c.intent) parts.push(HL.intentLabel(c.intent));
    if (c.danger === true) parts.push(t("tc_danger_yes"));
    if (c.danger === false) parts.push(t("tc_danger_no"));
    return parts.join(" · ") || "–";
  }

  function original(c) {
    const o = c.original || {};
    const parts = [HL.intentLabel(o.intent)];
    if (o.priority) parts.push(HL.priorityLabel(o.priority));
    if (o.risk) parts.push(t("risk_" + o.risk));
    return parts.join(" · ");
  }

  function row(c) {
    const accept = el("button", { type: "button", className: "primary accept" }, t("tc_accept"));
    const reject = el("button", { type: "button", className: "danger reject" }, t("tc_reject"));
    const actions = [];
    let intentChoice = null;
    if (!c.intent) {
      // The counsellor said only whether someone is in danger: the admin picks the intent.
      intentChoice = el("select", { className: "accept-intent", attrs: { "aria-label": t("tc_intent") } });
      intentChoice.appendChild(intentOptions.content.cloneNode(true));
      if (c.original && c.original.intent) intentChoice.value = c.original.intent;
      actions.push(intentChoice);
    }
    if (c.in_test_split || c.too_long) accept.disabled = true;
    actions.push(accept, reject);
    const textCell = el("td", { className: "tc-text", attrs: { translate: "no" } }, [el("span", null, c.text)]);
    if (c.in_test_split) textCell.appendChild(el("p", { className: "problem" }, t("tc_in_test_split")));
    const tr = el("tr", { dataset: { correctionId: c.id } }, [
      textCell,
      el("td", { className: "tc-original" }, original(c)),
      el("td", { className: "tc-given" }, given(c)),
      el("td", null, (c.counsellor || "–") + " · " + HL.formatStamp(c.updated_at)),
      el("td", null, [el("div", { className: "row" }, actions)]),
    ]);
    accept.addEventListener("click", async function () {
      accept.disabled = reject.disabled = true;
      const res = await api("POST", API + "/" + c.id + "/accept", intentChoice ? { intent: intentChoice.value } : {});
      if (res.status !== 200) { accept.disabled = reject.disabled = false; return fail(res); }
      say(t("tc_accepted"));
      document.dispatchEvent(new CustomEvent("hl:dataset", { detail: { revision: res.data.revision } }));
      refresh();
    });
    reject.addEventListener("click", async function () {
      accept.disabled = reject.disabled = true;
      const res = await api("POST", API + "/" + c.id + "/reject");
      if (res.status !== 200) { accept.disabled = reject.disabled = false; return fail(res); }
      say(t("tc_rejected"));
      refresh();
    });
    return tr;
  }

  async function loadList() {
    const res = await api("GET", API + "?state=proposed");
    if (res.status !== 200) return fail(res);
    const items = res.data.corrections;
    body.replaceChildren.apply(body, items.map(row));
    document.getElementById("corrections-empty").hidden = items.length > 0;
    document.getElementById("corrections-count").textContent = String(items.length);
  }

  async function loadEvaluation() {
    const res = await api("GET", API + "/evaluation");
    if (res.status !== 200) return;
    const d = res.data;
    ["accepted", "proposed"].forEach(function (state) {
      const cell = document.getElementById("eval-" + state);
      cell.textContent = d[state].wrong + " " + t("tc_eval_of") + " " + d[state].total;
      cell.dataset.wrong = String(d[state].wrong);
      cell.dataset.total = String(d[state].total);
    });
    document.getElementById("eval-model").textContent = d.model_version || "–";
  }

  function refresh() {
    loadList();
    loadEvaluation();
  }

  document.addEventListener("hl:models", loadEvaluation);
  loadList();
})();
