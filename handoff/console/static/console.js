/* The counsellor console: the live feed (or training's polling), notices and alerts, over the queue
   table (console_queue.js) and my conversations (console_conversations.js), which share only the
   object `shared` below.  No innerHTML anywhere. */
"use strict";

(function () {
  const { api } = HL;
  const offline = document.getElementById("offline");
  const notice = document.getElementById("notice");

  // What the parts share: a notice, the canned answers (read once at start) and the live socket.
  const shared = { say: say, canned: [], live: null };
  const conversations = HL.consoleConversations(shared);
  const convs = conversations.convs;
  const queue = HL.consoleQueue(shared, conversations);

  // ------------------------------------------------------------------ notices, alert
  let noticeTimer = null;
  function say(text) {
    notice.textContent = text;
    clearTimeout(noticeTimer);
    noticeTimer = setTimeout(function () { notice.textContent = ""; }, 6000);
  }

  function raiseAlert(msg) {
    const mine = msg.assigned && msg.yours && convs.has(msg.conversation_id);
    if (mine) {
      const conv = convs.get(msg.conversation_id);
      conv.tab.classList.add("prio-critical");
      conv.tab.dataset.priority = "critical";
      conversations.loadTranscript(msg.conversation_id); // the suggested response of the critical message
    }
    let show = null;
    if (mine) show = function (id) { conversations.activate(id); if (convs.has(id)) convs.get(id).tab.focus(); };
    else if (msg.assigned) show = function (id) { window.open("/console/conversations/" + id, "_blank", "noopener"); };
    HL.alert.raise(msg, show);
  }

  // ------------------------------------------------------------------ live events
  function onLive(msg) {
    document.dispatchEvent(new CustomEvent("hl:live", { detail: msg })); // feature scripts (phone.js)
    if (HL.shift.onLive(msg)) return;
    if (msg.type === "queue" || msg.type === "queue_delta") queue.apply(msg);
    else if (msg.type === "alert") raiseAlert(msg);
    else if (msg.type === "conversation") conversations.onEvent(msg);
  }

  /* Training (HL.space): nothing of it is on the broker, so no live socket; the page asks every
     second for the queue and the open conversations' new lines. */
  async function poll() {
    const res = await api("GET", HL.base + "/queue");
    if (res.status === 200) queue.apply(Object.assign({ type: "queue" }, res.data));
    for (const [id, conv] of convs) if (!conv.closed) conversations.loadTranscript(id);
  }

  async function start() {
    const cannedRes = await api("GET", HL.base + "/canned");
    if (cannedRes.status === 200) shared.canned = cannedRes.data.canned || [];
    const res = await api("GET", HL.base + "/queue");
    if (res.status === 200) queue.apply(Object.assign({ type: "queue" }, res.data));
    if (HL.space === "training") {
      document.body.dataset.live = "1";
      setInterval(poll, 1000);
      return;
    }
    shared.live = HL.live(onLive, function (reconnected) {
      queue.reset(); // the new socket's first frame is the whole queue
      HL.shift.connected(shared.live);
      offline.hidden = true;
      document.body.dataset.live = "1";
      if (reconnected) for (const id of convs.keys()) conversations.loadTranscript(id);
    }, function () {
      offline.hidden = false;
      document.body.dataset.live = "0";
    });
  }
  start();
})();
