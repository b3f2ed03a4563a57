/* The console's queue table: its rows drawn from snapshots and deltas of the live queue (a row
   redrawn only when its entry changed), the waiting times counting up, claiming, and my
   conversations opened or removed as the queue says (through the conversations' object).
   console.js makes it (HL.consoleQueue(shared, conversations)) and passes `shared`:
   {say, live}.  No innerHTML anywhere. */
"use strict";

HL.consoleQueue = function (shared, conversations) {
  const { t, el, api } = HL;
  const queueBody = document.getElementById("queue-body");
  const queueEmpty = document.getElementById("queue-empty");
  const queueCount = document.getElementById("queue-count");
  const loadEl = document.getElementById("load");
  const capacityEl = document.getElementById("capacity");
  const queueSection = document.getElementById("queue-section");
  const convs = conversations.convs;
  // console.queue_mode next_only: counsellors take only the next one (the server refuses a pick too).
  let mayPick = !queueSection || queueSection.dataset.mayPick !== "0";

  let waiting = [];
  const rows = new Map(); // conversation id -> {entry, tr}: a row is redrawn only when its entry changed
  // A gap in the deltas' numbers asks the live socket for the whole queue.
  const view = HL.queueView(function () { if (shared.live) shared.live.send({ type: "snapshot" }); });

  function queueRow(entry) {
    const known = rows.get(entry.conversation_id);
    if (known && known.entry === entry) return known.tr;
    const tr = makeRow(entry);
    rows.set(entry.conversation_id, { entry: entry, tr: tr });
    return tr;
  }

  function makeRow(entry) {
    let claim = null;
    if (mayPick) {
      claim = el("button", { type: "button", className: "claim", dataset: { conversationId: entry.conversation_id } }, t("claim"));
      claim.addEventListener("click", function () { claimConversation(entry.conversation_id, claim); });
    }
    return el("tr", {
      className: "prio-" + entry.priority + (entry.priority === "critical" ? " critical" : ""),
      dataset: { conversationId: entry.conversation_id, priority: entry.priority },
    }, [
      el("td", { className: "prio-cell" }, [el("span", { className: "badge prio-" + entry.priority }, HL.priorityLabel(entry.priority)), HL.triage.marker(entry.risk)]),
      el("td", null, [document.createTextNode(HL.channelLabel(entry.channel) + " · "), HL.triage.languageCode(entry.language)]),
      el("td", { className: "intent" }, HL.intentLabel(entry.intent)),
      el("td", { className: "wait", dataset: { base: entry.waiting_seconds, at: entry.at } }, HL.formatWait(waited(entry.waiting_seconds, entry.at))),
      el("td", null, [claim]),
    ]);
  }

  function waited(base, at) {
    return Number(base) + (at ? (performance.now() - Number(at)) / 1000 : 0);
  }

  // Rows in queue order, moving only those whose place changed (a focused claim button stays focused).
  function renderQueue() {
    const ids = new Set(waiting.map(function (e) { return e.conversation_id; }));
    for (const id of Array.from(rows.keys())) if (!ids.has(id)) rows.delete(id);
    let cur = queueBody.firstElementChild;
    waiting.forEach(function (entry) {
      const tr = queueRow(entry);
      if (cur === tr) cur = cur.nextElementSibling;
      else queueBody.insertBefore(tr, cur);
    });
    while (cur) { const next = cur.nextElementSibling; cur.remove(); cur = next; }
    queueEmpty.hidden = waiting.length > 0;
    queueCount.textContent = String(waiting.length);
  }

  // "Nästa samtal" (HL.shift) took a conversation for me.
  document.addEventListener("hl:claimed", function (ev) { conversations.open(ev.detail.id, true); });

  function tickWaiting() {
    queueBody.querySelectorAll("td.wait").forEach(function (cell) {
      cell.textContent = HL.formatWait(waited(cell.dataset.base, cell.dataset.at));
    });
  }
  setInterval(tickWaiting, 1000);

  // A snapshot or a delta of the live queue (or the page's first GET): the table and my tabs.
  function applyQueue(msg) {
    const q = view.apply(msg);
    if (!q) return;
    if (msg.may_pick !== undefined && !!msg.may_pick !== mayPick) {
      mayPick = !!msg.may_pick;
      rows.clear();
      queueBody.replaceChildren();
    }
    waiting = q.waiting;
    HL.shift.onQueue(waiting);
    renderQueue();
    loadEl.textContent = String(q.load || 0);
    if (q.capacity !== undefined) capacityEl.textContent = String(q.capacity);
    if (msg.type === "queue") reconcileMine(q.mine);
    else mineChanged(msg.changes);
  }

  // A delta names the conversations of mine that changed: only those are opened or removed (a
  // conversation I claimed a moment ago may not be in a delta that was on its way meanwhile).
  function mineChanged(changes) {
    changes.forEach(function (c) {
      if (c.list !== "mine") return;
      const id = c.conversation_id;
      if (c.op === "removed") {
        if (convs.has(id) && !convs.get(id).closed) conversations.remove(id);
        return;
      }
      if (!convs.has(id)) conversations.open(id, false);
      conversations.updateTab(id, c.entry);
    });
    conversations.showEmpty();
  }

  async function claimConversation(id, button) {
    button.disabled = true;
    conversations.beginClaim(id);
    const res = await api("POST", HL.base + "/conversations/" + id + "/claim");
    conversations.endClaim(id, res.status === 200, res.data && res.data.transcript);
    if (res.status === 200) return;
    button.disabled = false;
    shared.say(res.data.message || t(res.data.error || "error"));
  }

  function reconcileMine(mine) {
    const ids = new Set(mine.map(function (m) { return m.conversation_id; }));
    mine.forEach(function (m) {
      if (!convs.has(m.conversation_id)) conversations.open(m.conversation_id, false);
      conversations.updateTab(m.conversation_id, m);
    });
    for (const [id, conv] of convs) {
      if (!ids.has(id) && !conv.closed) conversations.remove(id);
    }
    conversations.showEmpty();
  }

  return {
    apply: applyQueue,
    reset: function () { view.reset(); }, // the new socket's first frame is the whole queue
  };
};
