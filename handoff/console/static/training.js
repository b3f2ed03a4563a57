/* Training (handoff.training): the trainee's page (scenarios, their training queue, the session
   with the simulated person) and their progress page.  Nothing here talks to a real conversation.
   Text is only ever set with textContent. */
"use strict";

(function () {
  const { t, el, api, errorText, intentLabel } = HL;
  const API = "/console/api/training";
  const $ = function (id) { return document.getElementById(id); };
  let current = null;
  let timer = null;
  let formFields = null;

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
  async function scenarios() {
    const res = await api("GET", API + "/scenarios");
    if (res.status !== 200) return;
    $("tr-scenarios").replaceChildren(...res.data.scenarios.map(function (s) {
      const start = el("button", { type: "button", className: "tr-start", dataset: { scenario: s.id } }, t("training_start"));
      start.addEventListener("click", async function () {
        const made = await api("POST", API + "/sessions", { scenario_id: s.id });
        if (made.status === 201) { await queue(); open(made.data.id); }
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
      const b = el("button", { type: "button", className: "tr-open", dataset: { session: s.id } },
        s.scenario_id + " · " + HL.priorityLabel(s.priority) + " · " + t("training_state_" + s.state));
      b.addEventListener("click", function () { open(s.id); });
      return el("li", null, [b]);
    }));
  }

  function show(view) {
    $("tr-session").hidden = false;
    $("tr-title").textContent = view.title;
    $("tr-meta").textContent = view.channel + " · " + intentLabel(view.intent) + " · " + HL.priorityLabel(view.priority) + " · " + t("training_state_" + view.state);
    $("tr-claim").hidden = view.state !== "queued";
    const open_ = view.state === "assigned";
    for (const id of ["tr-reply-form", "tr-referral-box", "tr-disclosure-box", "tr-close-box"]) $(id).hidden = !open_;
    $("tr-transcript").replaceChildren(...view.messages.map(function (m) {
      const who = m.kind === "hint" ? t("training_hint") + ": " : "";
      // The person's lines carry the real triage, as in the console.
      const triage = m.kind === "person" && m.triage
        ? el("span", { className: "triage" }, " · " + intentLabel(m.triage.intent) + " · " + HL.priorityLabel(m.triage.priority)) : null;
      return el("li", { className: "msg " + m.kind, dataset: { kind: m.kind } }, [
        el("span", { className: "when" }, HL.formatTime(m.at) + " "), el("span", { className: "text" }, who + m.text), triage]);
    }));
    $("tr-typing").hidden = !view.typing;
    const d = view.actions.disclosure;
    $("tr-disclosure-state").textContent = d ? t("training_disclosure_" + d.state) : "";
    $("tr-result").hidden = view.state !== "closed";
    if (view.state === "closed") {
      checklist($("tr-checklist"), view.checklist);
      $("tr-feedback").textContent = view.feedback || t("training_no_feedback");
    }
  }

  async function refresh() {
    if (!current) return;
    const res = await api("GET", API + "/sessions/" + current);
    if (res.status === 200) show(res.data);
  }

  function open(id) {
    current = id;
    $("tr-problem").textContent = "";
    refresh();
    if (timer) clearInterval(timer);
    timer = setInterval(refresh, 1000);
  }

  async function act(path, body) {
    const res = await api("POST", API + "/sessions/" + current + path, body);
    if (res.status === 200) { $("tr-problem").textContent = ""; show(res.data); await queue(); }
    else {
      const fields = res.data && res.data.fields ? Object.values(res.data.fields).join(" ") : "";
      $("tr-problem").textContent = errorText(res) + (fields ? " " + fields : "");
    }
    return res;
  }

  function docField(f) {
    const lang = HL.i18n.lang;
    const label = f.label[lang] || f.label.sv;
    const id = "tr-doc-" + f.key;
    let input;
    if (f.type === "choice") {
      input = el("select", { id: id, dataset: { key: f.key, type: f.type } }, [el("option", { value: "" }, "–"),
        ...(f.values || []).map(function (v) { return el("option", { value: v.value }, v.label[lang] || v.label.sv); })]);
    } else if (f.type === "multi_choice") {
      input = el("select", { id: id, multiple: true, dataset: { key: f.key, type: f.type } },
        (f.values || []).map(function (v) { return el("option", { value: v.value }, v.label[lang] || v.label.sv); }));
    } else if (f.type === "bool") {
      input = el("input", { id: id, type: "checkbox", dataset: { key: f.key, type: f.type } });
    } else {
      input = el(f.type === "text" ? "textarea" : "input", { id: id, dataset: { key: f.key, type: f.type } });
    }
    return el("div", { className: "field" }, [el("label", { htmlFor: id }, label), input]);
  }

  function docValues() {
    const values = {};
    for (const input of $("tr-doc-fields").querySelectorAll("[data-key]")) {
      const type = input.dataset.type;
      if (type === "bool") values[input.dataset.key] = input.checked;
      else if (type === "multi_choice") {
        const picked = Array.from(input.selectedOptions).map(function (o) { return o.value; });
        if (picked.length) values[input.dataset.key] = picked;
      } else if (type === "recipients") {
        if (input.value.trim()) values[input.dataset.key] = input.value.split(",").map(function (s) { return s.trim(); });
      } else if (input.value.trim()) values[input.dataset.key] = input.value.trim();
    }
    return values;
  }

  async function page() {
    $("tr-claim").addEventListener("click", function () { act("/claim"); });
    $("tr-reply-form").addEventListener("submit", async function (ev) {
      ev.preventDefault();
      const text = $("tr-reply").value.trim();
      if (!text) return;
      const res = await act("/reply", { text: text });
      if (res.status === 200) $("tr-reply").value = "";
    });
    $("tr-referral-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      act("/referral", { recipient: $("tr-recipient").value.trim() || "–", consent: $("tr-consent").checked });
    });
    $("tr-disclosure-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      act("/disclosure", { what: $("tr-what").value.trim(), when: $("tr-when").value.trim(), where: $("tr-where").value.trim() });
    });
    $("tr-close-form").addEventListener("submit", function (ev) { ev.preventDefault(); act("/close", { values: docValues() }); });
    const form = await api("GET", API + "/documentation-form");
    if (form.status === 200) { formFields = form.data.fields; $("tr-doc-fields").replaceChildren(...formFields.map(docField)); }
    await scenarios();
    await queue();
  }

  if ($("tp-done")) progress(); else page();
})();
