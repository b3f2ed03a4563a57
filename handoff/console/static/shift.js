/* The counsellor's shift on the console and supervisor pages: my status in the header, activity
   (reported over the live socket, at most once a minute), desktop notifications of new conversations
   and of reminders, the reminder box, and plain notices when the browser blocks notifications or
   sound.  Text from people is only ever set with textContent. */
"use strict";

HL.shift = (function () {
  const { t, api } = HL;
  const select = document.getElementById("my-status");
  const notifyNotice = document.getElementById("notify-notice");
  const notifyText = document.getElementById("notify-text");
  const notifyButton = document.getElementById("notify-enable");
  const soundNotice = document.getElementById("sound-notice");
  const soundButton = document.getElementById("sound-enable");
  const reminderBox = document.getElementById("reminder");
  const reminderText = document.getElementById("reminder-text");
  const reminderShow = document.getElementById("reminder-show");
  const reminderDismiss = document.getElementById("reminder-dismiss");
  const ACTIVE_EVERY_MS = 60000;
  let socket = null;
  let lastActive = 0;
  let status = "available";
  const reminders = new Map(); // conversation id -> the latest reminder about it

  // ------------------------------------------------------------------ my status
  function showStatus(value) {
    status = value;
    document.body.dataset.status = value;
    if (select) select.value = value;
    nextState();
  }

  if (select) {
    select.addEventListener("change", async function () {
      const wanted = select.value;
      const res = await api("POST", "/console/api/status", { status: wanted });
      if (res.status === 200) {
        showStatus(res.data.status);
        say(t("status_saved").replace("{status}", t("status_" + res.data.status)));
      } else {
        select.value = status;
        say(HL.errorText(res));
      }
    });
    api("GET", "/console/api/status").then(function (res) { if (res.status === 200) showStatus(res.data.status); });
  }

  function say(text) {
    const notice = document.getElementById("notice") || document.getElementById("sup-notice");
    if (notice) notice.textContent = text;
  }

  // ------------------------------------------------------------------ activity
  /* Input on the page is activity: an automatic "away" ends with it (the server decides). */
  function active() {
    const now = Date.now();
    if (!socket || now - lastActive < ACTIVE_EVERY_MS) return;
    lastActive = now;
    socket.send({ type: "active" });
  }
  ["keydown", "pointerdown", "pointermove", "wheel", "touchstart"].forEach(function (name) {
    document.addEventListener(name, active, { passive: true });
  });
  window.addEventListener("focus", active);

  // ------------------------------------------------------------------ desktop notifications
  function notificationState() {
    if (!("Notification" in window)) return "unsupported";
    return Notification.permission; // "granted", "denied" or "default"
  }

  function renderNotifyNotice() {
    if (!notifyNotice) return;
    const state = notificationState();
    notifyNotice.hidden = state === "granted";
    notifyNotice.dataset.state = state;
    if (state === "unsupported") {
      notifyText.textContent = t("notify_unsupported");
      notifyButton.hidden = true;
    } else if (state === "denied") {
      notifyText.textContent = t("notify_blocked");
      notifyButton.hidden = false;
      notifyButton.textContent = t("notify_retry");
    } else {
      notifyText.textContent = t("notify_off");
      notifyButton.hidden = false;
      notifyButton.textContent = t("notify_enable");
    }
  }

  /* Asked only from this button (a user gesture); the browser remembers the answer for the site. */
  if (notifyButton) {
    notifyButton.addEventListener("click", function () {
      if (!("Notification" in window)) return;
      try { localStorage.setItem("hl-notify-asked", "1"); } catch (e) { /* private mode */ }
      const asked = Notification.requestPermission(renderNotifyNotice);
      if (asked && asked.then) asked.then(renderNotifyNotice, renderNotifyNotice);
    });
  }

  function notify(title, body, tag) {
    if (notificationState() !== "granted") return false;
    try {
      const n = new Notification(title, { body: body, tag: tag, lang: HL.i18n.lang });
      n.onclick = function () { window.focus(); n.close(); };
      return true;
    } catch (e) {
      return false; // some platforms only notify from a service worker
    }
  }

  // ------------------------------------------------------------------ sound
  function renderSoundNotice(state) {
    if (!soundNotice) return;
    soundNotice.hidden = state !== "blocked";
    soundNotice.dataset.state = state;
    document.body.dataset.sound = state;
  }
  if (soundButton) soundButton.addEventListener("click", function () { HL.alert.unlock(); });
  if (HL.alert.onSound) HL.alert.onSound(renderSoundNotice);
  // Give the autoplay policy a moment (resume() settles asynchronously) before saying it is blocked.
  setTimeout(function () { renderSoundNotice(HL.alert.soundState()); }, 600);

  // ------------------------------------------------------------------ reminders
  function minutes(seconds) {
    const n = Math.round((Number(seconds) / 60) * 10) / 10;
    return t("minutes_short").replace("{n}", String(n));
  }

  function reminderLine(msg) {
    return t("reminder_text")
      .replace("{priority}", HL.priorityLabel(msg.priority).toLowerCase())
      .replace("{wait}", HL.formatWait(msg.waiting_seconds))
      .replace("{target}", minutes(msg.target_seconds));
  }

  const RANK = { critical: 3, high: 2, normal: 1, low: 0 };
  function renderReminder() {
    if (!reminderBox) return;
    const all = Array.from(reminders.values()).sort(function (a, b) {
      return (RANK[b.priority] || 0) - (RANK[a.priority] || 0) || b.waiting_seconds - a.waiting_seconds;
    });
    reminderBox.hidden = all.length === 0;
    reminderBox.dataset.count = String(all.length);
    if (all.length) {
      reminderBox.dataset.conversationId = all[0].conversation_id;
      reminderBox.dataset.priority = all[0].priority;
      reminderText.textContent = reminderLine(all[0]);
    }
  }

  if (reminderDismiss) reminderDismiss.addEventListener("click", function () { reminders.clear(); renderReminder(); });
  if (reminderShow) {
    const queue = document.getElementById("queue-title");
    reminderShow.hidden = !queue;
    reminderShow.addEventListener("click", function () {
      if (!queue) return;
      queue.scrollIntoView({ block: "start" });
      const next = document.getElementById("next-conversation");
      (next || queue).focus();
    });
  }

  // ------------------------------------------------------------------ "Nästa samtal"
  /* The server takes the most urgent waiting conversation for me, atomically; the console opens it. */
  const nextButton = document.getElementById("next-conversation");
  let waitingCount = 0;
  if (nextButton) {
    nextButton.addEventListener("click", async function () {
      nextButton.disabled = true;
      const res = await api("POST", HL.base + "/queue/next");
      nextState();
      if (res.status === 200) {
        document.dispatchEvent(new CustomEvent("hl:claimed", { detail: { id: res.data.conversation_id } }));
        say(t("next_taken"));
        return;
      }
      if (res.data && res.data.error === "not_available") {
        api("GET", "/console/api/status").then(function (r) { if (r.status === 200) showStatus(r.data.status); });
      }
      say(HL.errorText(res));
      nextState();
    });
  }

  /* "Nästa samtal" is for an available member with someone waiting; on a break or away the button
     is disabled and says why beside it (the server refuses it too: 409 not_available). */
  function nextState() {
    if (!nextButton) return;
    const away = status !== "available";
    nextButton.disabled = away || waitingCount === 0;
    let why = document.getElementById("next-why");
    if (!why) {
      why = HL.el("span", { id: "next-why", className: "hint", hidden: true }, t("next_not_available"));
      nextButton.after(why);
      nextButton.setAttribute("aria-describedby", "next-why");
    }
    why.hidden = !away;
  }

  /* A queue snapshot: reminders of conversations no longer waiting go away. */
  function onQueue(waiting) {
    waitingCount = (waiting || []).length;
    nextState();
    const ids = new Set((waiting || []).map(function (e) { return e.conversation_id; }));
    let changed = false;
    for (const id of Array.from(reminders.keys())) {
      if (!ids.has(id)) { reminders.delete(id); changed = true; }
    }
    if (changed) renderReminder();
  }

  // ------------------------------------------------------------------ live messages
  function onLive(msg) {
    if (msg.type === "status") {
      const news = !msg.initial && msg.status !== status; // (not the echo of my own change)
      showStatus(msg.status);
      if (news) say(t("status_changed_elsewhere").replace("{status}", t("status_" + msg.status)));
      return true;
    }
    if (msg.type === "new_conversation") {
      const critical = msg.priority === "critical";
      const body = [HL.priorityLabel(msg.priority), HL.intentLabel(msg.intent), HL.channelLabel(msg.channel)].filter(Boolean).join(" · ");
      notify(t(critical ? "notify_critical_title" : "notify_new_title"), body, "new-" + msg.conversation_id);
      if (!critical) HL.alert.beep("soft"); // the critical alert has its own sound
      return true;
    }
    if (msg.type === "reminder") {
      reminders.set(msg.conversation_id, msg);
      renderReminder();
      notify(t("notify_reminder_title"), reminderLine(msg), "reminder-" + msg.conversation_id);
      HL.alert.beep(msg.priority === "critical" ? "alarm" : "soft");
      return true;
    }
    if (msg.type === "alert_clear") {
      HL.alert.clear();
      return true;
    }
    return false;
  }

  renderNotifyNotice();
  return {
    onLive: onLive,
    onQueue: onQueue,
    /* The live socket is open (its opening counts as activity on the server). */
    connected: function (live) { socket = live; lastActive = Date.now(); },
    notify: notify,
  };
})();
