/* The critical alert: the red banner, the sound and "(!)" in the title, on the console and the
   supervisor's page.  A conversation someone holds that turned critical names the conversation. */
"use strict";

HL.alert = (function () {
  const { t } = HL;
  const box = document.getElementById("alert");
  if (!box) return { raise: function () {} };
  const text = document.getElementById("alert-text");
  const show = document.getElementById("alert-show");
  let onShow = null;

  let audio = null;
  function unlockAudio() {
    try {
      if (!audio) audio = new (window.AudioContext || window.webkitAudioContext)();
      if (audio.state === "suspended") audio.resume();
    } catch (e) { audio = null; }
  }
  document.addEventListener("click", unlockAudio, { once: true });
  document.addEventListener("keydown", unlockAudio, { once: true });

  function beep() {
    try {
      if (!audio) audio = new (window.AudioContext || window.webkitAudioContext)();
      if (audio.state === "suspended") audio.resume();
      const start = audio.currentTime + 0.01;
      [0, 0.3].forEach(function (offset) {
        const osc = audio.createOscillator();
        const gain = audio.createGain();
        osc.type = "sine";
        osc.frequency.value = offset ? 660 : 880;
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
    return [HL.intentLabel(msg.intent), msg.channel, id.slice(0, 8)].filter(Boolean).join(" · ");
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

  return { raise: raise, dismiss: dismiss };
})();
