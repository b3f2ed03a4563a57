/* The console in training mode: once a training conversation is documented, its checklist (each
   expected step done or missed, and when) shows below the documentation.  Text only through
   textContent. */
"use strict";

(function () {
  const { t, el, api } = HL;
  const box = document.getElementById("training-result");
  if (!box) return;

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_, k) { return String(values[k]); });
  }

  async function show(id) {
    const res = await api("GET", "/console/api/training/sessions/" + id);
    if (res.status !== 200) return;
    const items = res.data.checklist;
    document.getElementById("training-result-steps").textContent = res.data.title + " · " +
      fill(t("training_steps"), { done: items.filter(function (s) { return s.done; }).length, all: items.length });
    document.getElementById("training-checklist").replaceChildren(...items.map(function (s) {
      const when = s.done ? " (" + fill(t("training_after"), { n: s.after_seconds }) + ")" : "";
      return el("li", { className: s.done ? "done" : "missed", dataset: { step: s.id, done: s.done } },
        (s.done ? "✓ " + t("training_done") : "✗ " + t("training_missed")) + ": " + s.text + when);
    }));
    box.hidden = false;
    document.getElementById("training-result-title").focus();
  }

  document.addEventListener("hl:documented", function (ev) { show(ev.detail.id); });
})();
