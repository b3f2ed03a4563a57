/* Why a conversation is where it is: the triage box of a conversation (intent, priority, language,
   and the risk or the rules behind the priority) and the risk marker of a queue row. */
"use strict";

HL.triage = (function () {
  const { t, el } = HL;
  const RANK = { low: 0, normal: 1, high: 2, critical: 3 };

  function languageName(code) {
    const names = HL.i18n.languages || {};
    if (!code) return names.und || "und";
    return Object.prototype.hasOwnProperty.call(names, code) ? names[code] : code;
  }

  function riskText(risk) {
    if (!risk) return "";
    const kind = risk.type ? t("risk_" + risk.type) : t("risk_unknown");
    return risk.reason ? kind + ": " + risk.reason : kind;
  }

  /* The queue's risk marker: a visible sign, the reason as its accessible text (and tooltip). */
  function marker(risk) {
    if (!risk) return null;
    const label = t("risk") + " – " + riskText(risk);
    return el("span", { className: "risk-marker", title: label, dataset: { riskType: risk.type || "" } }, [
      el("span", { attrs: { "aria-hidden": "true" } }, "⚠"),
      el("span", { className: "sr" }, label),
    ]);
  }

  function languageCode(code) {
    // An abbreviation: the code, with the language's name as its expansion.
    return el("abbr", { className: "queue-lang", title: languageName(code) }, code || "und");
  }

  /* The triage box: the latest message's triage, and the conversation's "why" (transcript API). */
  function render(dl, triage, why) {
    const rows = [];
    if (triage) {
      rows.push(el("dt", null, t("intent")), el("dd", { className: "triage-intent" }, HL.intentLabel(triage.intent)));
      rows.push(el("dt", null, t("priority")), el("dd", { className: "triage-priority prio-" + triage.priority }, HL.priorityLabel(triage.priority)));
      const conf = typeof triage.confidence === "number" ? Math.round(triage.confidence * 100) + " %" : "–";
      rows.push(el("dt", null, t("confidence")), el("dd", { className: "triage-confidence" }, conf));
    }
    const code = (why && why.language) || (triage && triage.language) || "und";
    rows.push(el("dt", null, t("language")), el("dd", { className: "why-language", dataset: { language: code } }, languageName(code) + " (" + code + ")"));
    if (why && why.risk) {
      rows.push(el("dt", null, t("risk")), el("dd", { className: "why-risk", dataset: { riskType: why.risk.type || "" } }, riskText(why.risk)));
    } else if (triage || why) {
      const rules = (why && why.matched_rules) || (triage && triage.matched_rules) || [];
      rows.push(el("dt", null, t("matched_rules")), el("dd", { className: "triage-rules" }, rules.join(", ") || "–"));
    }
    dl.replaceChildren.apply(dl, rows);
  }

  /* The "why" after a live message (and the conversation's summary that came with it). */
  function update(why, message, conversation) {
    const next = Object.assign({ risk: null, matched_rules: [], rules_priority: null }, why || {});
    if (conversation && conversation.language) next.language = conversation.language;
    const tr = message && message.triage;
    if (!tr) return next;
    if (tr.risk) next.risk = Object.assign({ seq: message.seq }, tr.risk);
    if ((RANK[tr.priority] || 0) >= (RANK[next.rules_priority] || 0)) {
      next.matched_rules = tr.matched_rules || [];
      next.rules_priority = tr.priority;
      next.rules_seq = message.seq;
    }
    return next;
  }

  return { languageName: languageName, riskText: riskText, marker: marker, languageCode: languageCode, render: render, update: update };
})();
