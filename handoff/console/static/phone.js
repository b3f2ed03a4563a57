/* Phone calls on the console (handoff.phone): a call answered at my extension opens here, its end
   opens the documentation form; "Registrera samtal" (start and stop, or the length afterwards); a
   call's panel has no reply box, shows its outcome and, for a callback only, a button that reveals
   the number (the reveal is logged).  Text is only ever set with textContent. */
"use strict";

HL.phone = (function () {
  const { t, api, apiAction, el } = HL;
  const box = document.getElementById("phone-box");
  const startButton = document.getElementById("phone-start");
  const stopButton = document.getElementById("phone-stop");
  const running = document.getElementById("phone-running");
  const clock = document.getElementById("phone-clock");
  const logForm = document.getElementById("phone-log-form");
  const minutes = document.getElementById("phone-minutes");
  const notice = document.getElementById("notice");
  const calls = new Map(); // conversation id -> what is known of the call
  let current = null; // the call logged by hand that runs now: {id, startedAt}
  let timer = null;

  function say(text) { if (notice) notice.textContent = text; }
  function claimed(id) { document.dispatchEvent(new CustomEvent("hl:claimed", { detail: { id: id } })); }
  function closed(id) { document.dispatchEvent(new CustomEvent("hl:closed", { detail: { id: id } })); }

  function showRunning(on) {
    startButton.hidden = on;
    stopButton.hidden = !on;
    running.hidden = !on;
    clearInterval(timer);
    if (on) {
      timer = setInterval(function () {
        const s = Math.floor((Date.now() - current.startedAt) / 1000);
        clock.textContent = Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
      }, 1000);
    }
  }

  async function start() {
    startButton.disabled = true;
    const res = await apiAction("POST", "/console/api/phone/calls", {});
    startButton.disabled = false;
    if (res.status !== 201) return say(t("error_" + (res.data.error || "error")));
    current = { id: res.data.conversation_id, startedAt: Date.now() };
    remember(res.data);
    showRunning(true);
    claimed(current.id);
  }

  async function stop() {
    if (!current) return;
    // The call's id before the request: its live "ended" event may arrive (and clear current) first.
    const id = current.id;
    stopButton.disabled = true;
    const res = await apiAction("POST", "/console/api/phone/calls/" + id + "/stop", {});
    stopButton.disabled = false;
    if (res.status !== 200) return say(t("error_" + (res.data.error || "error")));
    current = null;
    showRunning(false);
    ended(id, res.data);
  }

  async function logOver(ev) {
    ev.preventDefault();
    const value = Number(minutes.value);
    if (!Number.isInteger(value) || value < 0) return minutes.focus();
    const res = await apiAction("POST", "/console/api/phone/calls", { duration_seconds: value * 60 });
    if (res.status !== 201) return say(t("error_" + (res.data.error || "error")));
    remember(res.data);
    minutes.value = "";
    say(t("phone_logged"));
    closed(res.data.conversation_id);
  }

  function remember(call) {
    calls.set(call.conversation_id, Object.assign(calls.get(call.conversation_id) || {}, call));
    decorate(call.conversation_id);
  }

  function ended(id, call) {
    remember(call);
    const mins = Math.round((call.duration_seconds || 0) / 60);
    say(t("phone_ended_document").replace("{minutes}", String(mins)));
    closed(id);
  }

  // A call's panel: no reply box; its outcome; the callback's number on request.
  function decorate(id) {
    const panel = document.getElementById("panel-" + id);
    const call = calls.get(id);
    if (!panel || !call) return;
    const compose = panel.querySelector(".compose");
    if (compose) compose.hidden = true;
    let info = panel.querySelector(".phone-info");
    if (!info) {
      info = el("div", { className: "phone-info", attrs: { role: "status" } });
      panel.querySelector(".conv-main").prepend(info);
    }
    const parts = [el("strong", null, t("phone_call"))];
    if (call.outcome) parts.push(document.createTextNode(" · " + t("phone_outcome_" + call.outcome)));
    if (call.withheld && !call.manual) parts.push(document.createTextNode(" · " + t("phone_withheld")));
    info.replaceChildren.apply(info, parts);
    info.append(el("p", { className: "hint phone-consent" }, t("phone_consent_note")));
    if (call.callback && !call.withheld) {
      const show = el("button", { type: "button", className: "phone-number" }, t("phone_show_number"));
      const out = el("span", { className: "phone-number-value" });
      show.addEventListener("click", async function () {
        const res = await api("GET", "/console/api/phone/calls/" + id + "/number");
        if (res.status === 200) out.textContent = " " + res.data.number;
        else say(t("error_" + (res.data.error || "error")));
      });
      info.append(el("p", { className: "hint" }, t("phone_number_note")), show, out);
    }
  }

  async function learn(id) {
    if (calls.has(id)) return decorate(id);
    calls.set(id, {});
    const res = await api("GET", "/console/api/phone/calls/" + id);
    if (res.status === 200) remember(res.data);
  }

  function onLive(msg) {
    if (msg.type === "queue") {
      (msg.mine || []).forEach(function (m) { if (m.channel === "phone") learn(m.conversation_id); });
    } else if (msg.type === "queue_delta") {
      (msg.changes || []).forEach(function (c) {
        if (c.list === "mine" && c.entry && c.entry.channel === "phone") learn(c.conversation_id);
      });
    } else if (msg.type === "conversation" && msg.kind === "phone" && msg.phone) {
      const id = msg.conversation_id;
      const state = msg.conversation && msg.conversation.state;
      if (msg.phone.event === "answered" && state === "assigned") {
        remember(msg.phone);
        say(t("phone_answered_here"));
        claimed(id);
      } else if (msg.phone.event === "ended" || msg.phone.event === "missed") {
        if (current && current.id === id) { current = null; showRunning(false); }
        if (state === "closed") ended(id, msg.phone);
        else remember(msg.phone);
      }
    }
  }

  if (box) {
    startButton.addEventListener("click", start);
    stopButton.addEventListener("click", stop);
    logForm.addEventListener("submit", logOver);
  }
  // A referral on a call: the counsellor asks on the phone and records the answer (audited).
  function consentButtons(referralId, refresh, tell) {
    return [true, false].map(function (yes) {
      const b = el("button", { type: "button", className: yes ? "phone-consent-yes primary" : "phone-consent-no" },
        t(yes ? "phone_consent_yes" : "phone_consent_no"));
      b.addEventListener("click", async function () {
        b.disabled = true;
        const res = await apiAction("POST", "/console/api/referrals/" + referralId + "/consent", { consent: yes });
        b.disabled = false;
        if (res.status !== 200) tell(t("error_" + (res.data.error || "error")), true);
        refresh();
      });
      return b;
    });
  }

  document.addEventListener("hl:live", function (ev) { onLive(ev.detail); });
  return { onLive: onLive, consentButtons: consentButtons };
})();
