/* Training (handoff.training): the trainee's page (scenarios, their training queue, the session
   with the simulated person) and their progress page.  Nothing here talks to a real conversation.
   Text is only ever set with textContent. */
"use strict";

(function () {
  const { t, el, api } = HL;
  const API = "/console/api/training";
  const $ = function (id) { return document.getElementById(id); };

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_, k) { return String(values[k]); });
  }

  function checklist(list, items) {
    list.replaceChildren(...items.map(function (s) {
      const when = s.done ? " (" + fill(t("training_after"), { n: s.after_seconds }) + ")" : "";
      return el("li", { className: s.done ? "done" : "missed", dataset: { step: s.id, done: s.done } },
        (s.done ? "✓ " + t("training_done") : "✗ " + t("training_missed")) + ": " + s.text + when);
    }));
  }

  // ------------------------------------------------------------------ progress page
  async function progress() {
    const user = new URLSearchParams(location.search).get("user");
    const res = await api("GET", API + "/progress" + (user ? "?user=" + encodeURIComponent(user) : ""));
    if (res.status !== 200) return;
    $("tp-user").textContent = res.data.user;
    const missing = res.data.missing_required;
    $("tp-required").hidden = missing.length === 0;
    $("tp-missing").replaceChildren(...missing.map(function (m) { return el("li", null, m); }));
    $("tp-done").replaceChildren(...res.data.done.map(function (d) {
      const list = el("ul");
      checklist(list, d.checklist);
      return el("article", { className: "tp-session", dataset: { scenario: d.scenario_id } }, [
        el("h2", null, d.title + " · " + HL.formatStamp(d.closed_at)),
        el("p", null, fill(t("training_steps"), { done: d.steps_done, all: d.steps })),
        list,
        el("h3", null, t("training_feedback")),
        el("p", { className: "tp-feedback" }, d.feedback || t("training_no_feedback")),
      ]);
    }));
  }

  // ------------------------------------------------------------------ training page
  /* The scenarios and the trainee's sessions; a session is worked in the real console in
     training mode (CONSOLE), which a started scenario opens. */
  const CONSOLE = "/console/training/console";

  async function scenarios() {
    const res = await api("GET", API + "/scenarios");
    if (res.status !== 200) return;
    $("tr-scenarios").replaceChildren(...res.data.scenarios.map(function (s) {
      const start = el("button", { type: "button", className: "tr-start", dataset: { scenario: s.id } }, t("training_start"));
      start.addEventListener("click", async function () {
        start.disabled = true;
        const made = await api("POST", API + "/sessions", { scenario_id: s.id });
        if (made.status === 201) window.location.assign(CONSOLE);
        else start.disabled = false;
      });
      return el("li", null, [el("strong", null, s.title + " (" + s.language + ") "), el("span", null, s.summary + " "), start]);
    }));
  }

  async function queue() {
    const res = await api("GET", API + "/queue");
    if (res.status !== 200) return;
    const items = res.data.sessions;
    if (!items.length) { $("tr-queue").replaceChildren(el("li", null, t("training_queue_empty"))); return; }
    $("tr-queue").replaceChildren(...items.map(function (s) {
      const a = el("a", { href: CONSOLE, className: "tr-open", dataset: { session: s.id } },
        s.scenario_id + " · " + HL.priorityLabel(s.priority) + " · " + t("training_state_" + s.state));
      return el("li", null, [a]);
    }));
  }

  async function page() {
    await scenarios();
    await queue();
  }

  if ($("tp-done")) progress(); else page();
})();
