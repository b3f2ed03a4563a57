/* Supervisors watch training sessions live: the transcript (with the hints), a private hint to the
   trainee, the second pair of eyes on crime information, the checklist marked, written feedback. */
"use strict";

(function () {
  const { t, el, api, errorText } = HL;
  const API = "/console/api/training";
  const $ = function (id) { return document.getElementById(id); };
  let current = null;

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_, k) { return String(values[k]); });
  }

  async function overview() {
    const res = await api("GET", API + "/overview");
    if (res.status !== 200) return;
    document.querySelector("#ts-sessions tbody").replaceChildren(...res.data.sessions.map(function (s) {
      const b = el("button", { type: "button", className: "ts-open", dataset: { session: s.id } }, t("search_open"));
      b.addEventListener("click", function () { current = s.id; refresh(); });
      return el("tr", { dataset: { session: s.id } }, [
        el("td", null, [el("a", { href: "/console/training/progress?user=" + encodeURIComponent(s.trainee) }, s.trainee)]), el("td", null, s.scenario_id), el("td", null, t("training_state_" + s.state)),
        el("td", null, s.disclosure_pending ? t("training_disclosure_pending") : "–"), el("td", null, [b])]);
    }));
  }

  function show(view) {
    $("ts-session").hidden = false;
    $("ts-title").textContent = view.title + " · " + view.trainee + " · " + t("training_state_" + view.state);
    $("ts-persona").textContent = view.persona;
    $("ts-transcript").replaceChildren(...view.messages.map(function (m) {
      const who = m.kind === "hint" ? t("training_hint") + ": " : "";
      return el("li", { className: "msg " + m.kind, dataset: { kind: m.kind } }, [
        el("span", { className: "when" }, HL.formatTime(m.at) + " "), el("span", { className: "text" }, who + m.text)]);
    }));
    $("ts-typing").hidden = !view.typing;
    const d = view.actions.disclosure;
    $("ts-disclosure").hidden = !d;
    if (d) {
      $("ts-disclosure-text").textContent = d.what + " · " + d.when + " · " + d.where + " — " + t("training_disclosure_" + d.state);
      $("ts-approve").hidden = $("ts-return").hidden = d.state !== "pending";
    }
    $("ts-checklist").replaceChildren(...view.checklist.map(function (s) {
      const when = s.done ? " (" + fill(t("training_after"), { n: s.after_seconds }) + ")" : "";
      return el("li", { className: s.done ? "done" : "missed", dataset: { step: s.id, done: s.done } },
        (s.done ? "✓ " : "✗ ") + s.text + when);
    }));
    $("ts-hint-form").hidden = view.state === "closed";
    if (view.feedback && document.activeElement !== $("ts-feedback") && !$("ts-feedback").value) $("ts-feedback").value = view.feedback;
  }

  async function refresh() {
    if (!current) return;
    const res = await api("GET", API + "/sessions/" + current);
    if (res.status === 200) show(res.data);
  }

  async function act(path, body) {
    const res = await api("POST", API + "/sessions/" + current + path, body);
    if (res.status === 200 || res.status === 201) { $("ts-problem").textContent = ""; show(res.data); overview(); }
    else $("ts-problem").textContent = errorText(res);
    return res;
  }

  $("ts-hint-form").addEventListener("submit", async function (ev) {
    ev.preventDefault();
    const text = $("ts-hint").value.trim();
    if (text && (await act("/hint", { text: text })).status === 201) $("ts-hint").value = "";
  });
  $("ts-approve").addEventListener("click", function () { act("/disclosure/decision", { approve: true }); });
  $("ts-return").addEventListener("click", function () { act("/disclosure/decision", { approve: false }); });
  $("ts-feedback-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    const text = $("ts-feedback").value.trim();
    if (!text) return;
    $("ts-status").textContent = "";
    act("/feedback", { text: text }).then(function (res) {
      if (res.status === 200) $("ts-status").textContent = t("training_saved");
    });
  });
  overview();
  setInterval(function () { overview(); refresh(); }, 1500);
})();
