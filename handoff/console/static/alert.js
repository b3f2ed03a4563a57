/* The critical alert: the red banner, the sound and "(!)" in the title, on the console and the
   supervisor's page.  A conversation someone holds that turned critical names the conversation. */
"use strict";

HL.alert = (function () {
  const { t } = HL;
  const box = document.getElementById("alert");
  if (!box) return { raise: function () {}, clear: function () {}, beep: function () {}, soundState: function () { return "unavailable"; }, unlock: function () {} };
  const text = document.getElementById("alert-text");
  const show = document.getElementById("alert-show");
  let onShow = null;

  /* Sound: the AudioContext is made as the page loads.  After the login click (a user gesture on
     this origin) the browser's autoplay policy usually lets it run at once; where it does not, it
     stays "suspended" until the first click or key on the page, and the console says so
     (HL.shift shows the notice with a button). */
  let audio = null;
  const listeners = [];
  function soundState() {
    if (!audio) return "unavailable";
    return audio.state === "running" ? "running" : "blocked";
  }
  function changed() { listeners.forEach(function (fn) { fn(soundState()); }); }
  try {
    audio = new (window.AudioContext || window.webkitAudioContext)();
    audio.addEventListener("statechange", changed);
    if (audio.state === "suspended") audio.resume().then(changed, changed);
  } catch (e) { audio = null; }
  function unlock() {
    try {
      if (!audio) { audio = new (window.AudioContext || window.webkitAudioContext)(); audio.addEventListener("statechange", changed); }
      if (audio.state === "suspended") audio.resume().then(changed, changed);
    } catch (e) { audio = null; }
    changed();
  }
  document.addEventListener("click", unlock, { once: true });
  document.addEventListener("keydown", unlock, { once: true });

  /* Two tones for a critical alert, one soft tone for a reminder or a new conversation. */
  function beep(kind) {
    try {
      if (!audio) audio = new (window.AudioContext || window.webkitAudioContext)();
      if (audio.state === "suspended") audio.resume();
      const start = audio.currentTime + 0.01;
      (kind === "soft" ? [0] : [0, 0.3]).forEach(function (offset) {
        const osc = audio.createOscillator();
        const gain = audio.createGain();
        osc.type = "sine";
        osc.frequency.value = kind === "soft" ? 520 : (offset ? 660 : 880);
        gain.gain.setValueAtTime(0.0001, start + offset);
        gain.gain.exponentialRampToValueAtTime(0.25, start + offset + 0.02);
        gain.gain.exponentialRampToValueAtTime(0.0001, start + offset + 0.25);
        osc.connect(gain);
        gain.connect(audio.destination);
        osc.start(start + offset);
        osc.stop(start + offset + 0.27);
      });
      box.dataset.sound = "played";
    } catch (e) {
      box.dataset.sound = "unavailable";
    }
  }

  /* The conversation as the console names it: intent, channel and the start of its id. */
  function conversationName(msg) {
    const id = String(msg.conversation_id || "");
    return [HL.intentLabel(msg.intent), HL.channelLabel(msg.channel), id.slice(0, 8)].filter(Boolean).join(" · ");
  }

  function message(msg) {
    if (!msg.assigned) return t("alert_critical");
    const key = msg.yours ? "alert_critical_mine" : "alert_critical_assigned";
    return t(key).replace("{conv}", conversationName(msg)).replace("{who}", msg.holder || "–");
  }

  /* Raise the alert; show(conversation id) is offered as the "show" action when given. */
  function raise(msg, showConversation) {
    box.hidden = false;
    box.dataset.conversationId = msg.conversation_id || "";
    box.dataset.kind = msg.assigned ? (msg.yours ? "mine" : "assigned") : "queued";
    box.dataset.count = String(Number(box.dataset.count || 0) + 1);
    text.textContent = message(msg);
    onShow = showConversation || null;
    if (show) show.hidden = !onShow;
    document.title = "(!) " + document.title.replace(/^\(!\) /, "");
    beep();
  }

  function dismiss() {
    box.hidden = true;
    document.title = document.title.replace(/^\(!\) /, "");
  }
  document.getElementById("alert-dismiss").addEventListener("click", dismiss);
  if (show) {
    show.addEventListener("click", function () {
      const id = box.dataset.conversationId;
      if (onShow && id) onShow(id);
      dismiss();
    });
  }

  /* No critical conversation waits any more: the banner of a waiting one comes down (the alert of
     a held conversation that turned critical stays until dismissed). */
  function clear() {
    if (!box.hidden && box.dataset.kind === "queued") dismiss();
  }

  return {
    raise: raise,
    dismiss: dismiss,
    clear: clear,
    beep: beep,
    soundState: soundState,
    unlock: unlock,
    onSound: function (fn) { listeners.push(fn); },
  };
})();
