/* Counsellors correct the triage of a person's message: the right intent and/or whether someone is
   in danger.  Mounted on each person's message of a conversation the counsellor holds (hl:message);
   the counsellor's own earlier corrections are marked when the transcript loads (hl:transcript). */
"use strict";

(function () {
  const { t, el, api } = HL;
  const shown = new Map(); // message id -> {li, done}

  function summary(c) {
    const parts = [];
    if (c.intent) parts.push(HL.intentLabel(c.intent));
    if (c.danger === true) parts.push(t("tc_danger_yes"));
    if (c.danger === false) parts.push(t("tc_danger_no"));
    return t("tc_corrected") + ": " + parts.join(" · ");
  }

  function mark(messageId, correction) {
    const entry = shown.get(messageId);
    if (!entry) return;
    entry.done.textContent = summary(correction);
    entry.done.hidden = false;
    entry.li.dataset.corrected = correction.state || "proposed";
  }

  function radio(name, value, label, checked) {
    const input = el("input", { type: "radio", name: name, value: value, checked: !!checked });
    return el("label", { className: "tc-choice" }, [input, document.createTextNode(" " + label)]);
  }

  function openForm(convId, m, entry) {
    if (entry.li.querySelector("form.tc-form")) return;
    const current = m.triage ? m.triage.intent : null;
    const select = el("select", { className: "tc-intent", id: "tc-intent-" + m.id });
    select.appendChild(el("option", { value: "" }, t("tc_intent_right")));
    Object.keys(HL.i18n.intents).forEach(function (name) {
      select.appendChild(el("option", { value: name, disabled: name === current }, HL.intentLabel(name)));
    });
    const group = "tc-danger-" + m.id;
    const danger = el("fieldset", { className: "tc-danger" }, [
      el("legend", null, t("tc_danger")),
      radio(group, "", t("tc_danger_right"), true),
      radio(group, "yes", t("tc_danger_yes")),
      radio(group, "no", t("tc_danger_no")),
    ]);
    const problem = el("p", { className: "tc-error problem", hidden: true, attrs: { role: "alert" } });
    const save = el("button", { type: "submit", className: "primary" }, t("tc_save"));
    const cancel = el("button", { type: "button" }, t("tc_cancel"));
    const form = el("form", { className: "tc-form" }, [
      el("fieldset", null, [
        el("legend", null, t("tc_legend")),
        el("label", { htmlFor: select.id }, t("tc_intent")),
        select,
        danger,
        el("div", { className: "row" }, [save, cancel]),
        problem,
      ]),
    ]);
    cancel.addEventListener("click", function () { form.remove(); entry.button.focus(); });
    form.addEventListener("submit", async function (ev) {
      ev.preventDefault();
      const picked = form.querySelector('input[name="' + group + '"]:checked');
      const body = { intent: select.value || null, danger: picked && picked.value ? picked.value === "yes" : null };
      save.disabled = true;
      const res = await api("POST", "/console/api/conversations/" + convId + "/messages/" + m.id + "/correction", body);
      save.disabled = false;
      if (res.status === 200 || res.status === 201) {
        form.remove();
        mark(m.id, res.data.correction);
        const notice = document.getElementById("notice");
        if (notice) notice.textContent = t("tc_saved");
        entry.button.focus();
      } else {
        problem.textContent = HL.errorText(res);
        problem.hidden = false;
      }
    });
    entry.li.appendChild(form);
    select.focus();
  }

  document.addEventListener("hl:message", function (ev) {
    const { id, li, message } = ev.detail;
    if (message.kind !== "person" || !message.id) return;
    if (shown.has(message.id) && shown.get(message.id).li.isConnected) return;
    const button = el("button", { type: "button", className: "tc-open link" }, t("tc_correct"));
    const done = el("span", { className: "tc-done", hidden: true });
    const entry = { li: li, done: done, button: button };
    shown.set(message.id, entry);
    button.addEventListener("click", function () { openForm(id, message, entry); });
    li.appendChild(el("div", { className: "tc-bar" }, [done, button]));
  });

  document.addEventListener("hl:transcript", function (ev) {
    const corrections = ev.detail.data.corrections || {};
    Object.keys(corrections).forEach(function (messageId) { mark(messageId, corrections[messageId]); });
  });
})();
