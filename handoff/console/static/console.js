/* The counsellor console: the live queue, my conversations, replies.  No innerHTML anywhere. */
"use strict";

(function () {
  const { t, el, api } = HL;
  const queueBody = document.getElementById("queue-body");
  const queueEmpty = document.getElementById("queue-empty");
  const queueCount = document.getElementById("queue-count");
  const tabs = document.getElementById("tabs");
  const panels = document.getElementById("panels");
  const mineEmpty = document.getElementById("mine-empty");
  const loadEl = document.getElementById("load");
  const capacityEl = document.getElementById("capacity");
  const offline = document.getElementById("offline");
  const notice = document.getElementById("notice");
  const template = document.getElementById("panel-template");
  const queueSection = document.getElementById("queue-section");
  // console.queue_mode next_only: counsellors take only the next one (the server refuses a pick too).
  let mayPick = !queueSection || queueSection.dataset.mayPick !== "0";

  let waiting = [];
  const rows = new Map(); // conversation id -> {entry, tr}: a row is redrawn only when its entry changed
  let live = null;
  const queue = HL.queueView(function () { if (live) live.send({ type: "snapshot" }); });
  let canned = [];
  let active = null;
  const convs = new Map(); // conversation id -> {tab, panel, seqs: Set, maxSeq, closed, typingTimer}

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
      loadTranscript(msg.conversation_id); // the suggested response of the critical message
    }
    let show = null;
    if (mine) show = function (id) { activate(id); if (convs.has(id)) convs.get(id).tab.focus(); };
    else if (msg.assigned) show = function (id) { window.open("/console/conversations/" + id, "_blank", "noopener"); };
    HL.alert.raise(msg, show);
  }

  // ------------------------------------------------------------------ queue
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
  document.addEventListener("hl:claimed", function (ev) { openConversation(ev.detail.id, true); });

  function tickWaiting() {
    queueBody.querySelectorAll("td.wait").forEach(function (cell) {
      cell.textContent = HL.formatWait(waited(cell.dataset.base, cell.dataset.at));
    });
  }
  setInterval(tickWaiting, 1000);

  // A snapshot or a delta of the live queue (or the page's first GET): the table and my tabs.
  function applyQueue(msg) {
    const q = queue.apply(msg);
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
        if (convs.has(id) && !convs.get(id).closed) removeConversation(id);
        return;
      }
      if (!convs.has(id)) openConversation(id, false);
      updateTab(id, c.entry);
    });
    mineEmpty.hidden = convs.size > 0;
  }

  async function claimConversation(id, button) {
    button.disabled = true;
    const res = await api("POST", HL.base + "/conversations/" + id + "/claim");
    if (res.status === 200) {
      openConversation(id, true);
      return;
    }
    button.disabled = false;
    say(res.data.message || t(res.data.error || "error"));
  }

  // ------------------------------------------------------------------ my conversations
  function reconcileMine(mine) {
    const ids = new Set(mine.map(function (m) { return m.conversation_id; }));
    mine.forEach(function (m) {
      if (!convs.has(m.conversation_id)) openConversation(m.conversation_id, false);
      updateTab(m.conversation_id, m);
    });
    for (const [id, conv] of convs) {
      if (!ids.has(id) && !conv.closed) removeConversation(id);
    }
    mineEmpty.hidden = convs.size > 0;
  }

  function updateTab(id, info) {
    const conv = convs.get(id);
    if (!conv || !info) return;
    conv.tab.className = "tab prio-" + info.priority + (conv.closed ? " closed" : "");
    conv.tab.dataset.priority = info.priority;
    conv.tabLabel.textContent = HL.priorityLabel(info.priority) + " · " + HL.intentLabel(info.intent) + " · " + HL.channelLabel(info.channel);
    conv.channel = info.channel;
  }

  function openConversation(id, focus) {
    const fresh = !convs.has(id);
    if (fresh) createPanel(id);
    if (focus || !active) activate(id);
    // Once: after that the live feed appends (a claim's answer and the queue's delta both open it).
    if (fresh) loadTranscript(id);
    mineEmpty.hidden = true;
  }

  function createPanel(id) {
    const panel = template.content.firstElementChild.cloneNode(true);
    panel.id = "panel-" + id;
    panel.dataset.conversationId = id;
    panel.hidden = true;
    const tab = el("button", { type: "button", className: "tab", id: "tab-" + id, attrs: { role: "tab", "aria-selected": "false", "aria-controls": panel.id }, dataset: { conversationId: id } });
    const tabLabel = el("span", { className: "tab-label" }, id.slice(0, 8));
    const tabTyping = el("span", { className: "tab-typing", hidden: true, attrs: { "aria-hidden": "true" } }, "…");
    tab.appendChild(tabLabel);
    tab.appendChild(tabTyping);
    panel.setAttribute("aria-labelledby", tab.id);
    tab.addEventListener("click", function () { activate(id); });
    tab.addEventListener("keydown", function (ev) {
      if (ev.key !== "ArrowRight" && ev.key !== "ArrowLeft") return;
      const all = Array.from(tabs.querySelectorAll('[role="tab"]'));
      const i = all.indexOf(tab) + (ev.key === "ArrowRight" ? 1 : -1);
      const next = all[(i + all.length) % all.length];
      if (next) { activate(next.dataset.conversationId); next.focus(); }
    });

    const reply = panel.querySelector("textarea.reply");
    reply.id = "reply-" + id;
    panel.querySelector(".reply-label").htmlFor = reply.id;
    const cannedSelect = panel.querySelector("select.canned");
    cannedSelect.id = "canned-" + id;
    panel.querySelector(".canned-label").htmlFor = cannedSelect.id;
    const transferInput = panel.querySelector("input.transfer-to"); // none in training
    if (transferInput) {
      transferInput.id = "transfer-" + id;
      panel.querySelector(".transfer-label").htmlFor = transferInput.id;
    }
    fillCanned(cannedSelect);

    const conv = { tab: tab, tabLabel: tabLabel, tabTyping: tabTyping, panel: panel, seqs: new Set(), maxSeq: 0, closed: false, typingTimer: null, sentTyping: 0, idleTimer: null };
    convs.set(id, conv);
    // Extensions (referrals and disclosures) mount into the panel's .handoff-slot.
    document.dispatchEvent(new CustomEvent("hl:panel", { detail: { id: id, panel: panel } }));

    cannedSelect.addEventListener("change", function () {
      const item = canned.find(function (c) { return c.id === cannedSelect.value; });
      if (item) {
        // In the person's language when the response has it (the counsellor reads it before sending).
        const lang = convs.get(id) && convs.get(id).language;
        const text = (item.text[lang] || item.text[HL.i18n.lang] || item.text.sv).replace("{name}", myName());
        insertText(reply, text);
        showSmsCost(id);
      }
      cannedSelect.value = "";
    });
    panel.querySelector("button.use-suggested").addEventListener("click", function () {
      insertText(reply, panel.querySelector(".suggested").textContent);
      showSmsCost(id);
    });
    panel.querySelector("button.send").addEventListener("click", function () { sendReply(id); });
    reply.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) { ev.preventDefault(); sendReply(id); }
    });
    reply.addEventListener("input", function () { typingStarted(id); showSmsCost(id); });
    if (transferInput) panel.querySelector("button.transfer").addEventListener("click", async function () {
      const to = transferInput.value.trim();
      if (!to) { transferInput.focus(); return; }
      const res = await HL.apiAction("POST", HL.base + "/conversations/" + id + "/transfer", { to: to });
      if (res.status === 200) removeConversation(id);
      else say(t(res.data.error || "error"));
    });
    if (transferInput) panel.querySelector("button.release").addEventListener("click", async function () {
      const res = await api("POST", HL.base + "/conversations/" + id + "/release");
      if (res.status === 200) removeConversation(id);
      else say(t(res.data.error || "error"));
    });
    const closeButton = panel.querySelector("button.close");
    closeButton.addEventListener("click", async function () {
      if (conv.closed) { removeConversation(id); return; }
      // Closing asks in a modal dialog (Escape or "Avbryt" keeps the conversation open).
      if (!(await confirmClose())) { closeButton.focus(); return; }
      const priority = conv.tab.dataset.priority || "";
      const res = await api("POST", HL.base + "/conversations/" + id + "/close");
      if (res.status === 200) {
        // Extensions (documentation at close, care after a critical one) take it from here.
        document.dispatchEvent(new CustomEvent("hl:closed", { detail: { id: id, priority: priority } }));
        removeConversation(id);
      } else say(t(res.data.error || "error"));
    });

    tabs.appendChild(tab);
    panels.appendChild(panel);
  }

  const closeDialog = document.getElementById("close-dialog");
  function confirmClose() {
    return new Promise(function (resolve) {
      closeDialog.returnValue = "cancel";
      closeDialog.addEventListener("close", function () { resolve(closeDialog.returnValue === "close"); }, { once: true });
      closeDialog.showModal();
    });
  }

  function myName() {
    const who = document.querySelector(".who");
    return who ? who.textContent : "";
  }

  function insertText(textarea, text) {
    textarea.value = textarea.value ? textarea.value + "\n" + text : text;
    textarea.focus();
  }

  // On an SMS conversation: how many SMS the answer being written will cost.
  function showSmsCost(id) {
    const conv = convs.get(id);
    if (!conv) return;
    const cost = conv.panel.querySelector(".sms-cost");
    const n = conv.channel === "sms" ? HL.sms.count(conv.panel.querySelector("textarea.reply").value) : 0;
    cost.hidden = n === 0;
    cost.textContent = n ? t("sms_segments").replace("{n}", n) : "";
  }

  function fillCanned(select) {
    while (select.options.length > 1) select.remove(1);
    canned.forEach(function (item) {
      select.appendChild(el("option", { value: item.id }, item.title[HL.i18n.lang] || item.title.sv));
    });
  }

  function activate(id) {
    active = id;
    for (const [cid, conv] of convs) {
      const on = cid === id;
      conv.panel.hidden = !on;
      conv.tab.setAttribute("aria-selected", on ? "true" : "false");
      conv.tab.tabIndex = on ? 0 : -1;
    }
  }

  function removeConversation(id) {
    const conv = convs.get(id);
    if (!conv) return;
    clearTimeout(conv.typingTimer);
    clearTimeout(conv.idleTimer);
    conv.tab.remove();
    conv.panel.remove();
    convs.delete(id);
    if (active === id) {
      active = null;
      const first = convs.keys().next();
      if (!first.done) activate(first.value);
    }
    mineEmpty.hidden = convs.size > 0;
  }

  async function loadTranscript(id) {
    const res = await api("GET", HL.base + "/conversations/" + id);
    const conv = convs.get(id);
    if (!conv) return;
    if (res.status !== 200) {
      if (res.status === 403 || res.status === 404) removeConversation(id);
      return;
    }
    const data = res.data;
    data.messages.forEach(function (m) { addMessage(id, m); });
    conv.triage = data.triage;
    conv.why = data.why;
    conv.language = data.conversation.language;
    renderTriage(conv);
    conv.panel.querySelector(".suggested").textContent = data.suggested_response || "–";
    conv.panel.querySelector("button.use-suggested").disabled = !data.suggested_response;
    conv.panel.querySelector(".unreachable-note").hidden = !data.conversation.unreachable;
    updateTab(id, { priority: data.conversation.priority, intent: data.conversation.intent, channel: data.conversation.channel });
    if (data.conversation.state === "closed") markClosed(id);
    if (data.conversation.typing !== undefined) showTyping(id, data.conversation.typing); // training's person
    document.dispatchEvent(new CustomEvent("hl:transcript", { detail: { id: id, panel: conv.panel, data: data } }));
  }

  function renderTriage(conv) {
    HL.triage.render(conv.panel.querySelector("dl.triage"), conv.triage, conv.why);
  }

  function addMessage(id, m) {
    const conv = convs.get(id);
    if (!conv || m.seq === undefined || m.seq === null || conv.seqs.has(m.seq)) return;
    conv.seqs.add(m.seq);
    conv.maxSeq = Math.max(conv.maxSeq, m.seq);
    const log = conv.panel.querySelector("ol.log");
    let label = t("kind_" + m.kind);
    if (m.author) label += " · " + m.author;
    const li = el("li", { className: "msg msg-" + m.kind, dataset: { seq: m.seq, kind: m.kind } }, [
      el("span", { className: "meta" }, label + " · " + HL.formatTime(m.time)),
      el("p", { className: "text" }, m.text),
    ]);
    if (m.triage && m.triage.priority) li.dataset.priority = m.triage.priority;
    if (m.id) li.dataset.id = m.id;
    showDelivery(li, m.delivery, m.delivery_detail);
    // Keep the log in seq order even when a message arrives late.
    const later = Array.from(log.children).find(function (child) { return Number(child.dataset.seq) > m.seq; });
    log.insertBefore(li, later || null);
    if (!later) li.scrollIntoView({ block: "nearest" });
    if (m.kind === "person") showTyping(id, false);
    // Extensions (corrections of the triage) add to the message.
    document.dispatchEvent(new CustomEvent("hl:message", { detail: { id: id, li: li, message: m } }));
  }

  // What the channel told of an answer: the SMS it cost, and a failed delivery with why.
  function showDelivery(li, delivery, detail) {
    detail = detail || {};
    const parts = [];
    if (detail.segments) parts.push(t("sms_segments").replace("{n}", detail.segments));
    if (delivery === "failed") {
      // Why, in the console's language when the channel said it in a word; the provider's own
      // code of an undelivered message beside it.
      let why = detail.failure ? t("delivery_failed_" + detail.failure) : "";
      if (why === "delivery_failed_" + detail.failure) why = "";
      if (!why) why = detail.error || "";
      else if (detail.failure === "not_delivered" && detail.error) why += " (" + detail.error + ")";
      parts.push(t("delivery_failed") + (why ? ": " + why : ""));
    }
    li.classList.toggle("delivery-failed", delivery === "failed");
    let note = li.querySelector(".delivery");
    if (!parts.length) {
      if (note) note.remove();
      return;
    }
    if (!note) {
      note = el("span", { className: "delivery" });
      li.appendChild(note);
    }
    note.textContent = parts.join(" · ");
  }

  function markClosed(id) {
    const conv = convs.get(id);
    if (!conv) return;
    conv.closed = true;
    conv.panel.querySelector(".closed-note").hidden = false;
    conv.panel.querySelectorAll(".compose textarea, .compose button, .compose select, .actions input, .actions button.transfer, .actions button.release").forEach(function (n) { n.disabled = true; });
    const closeButton = conv.panel.querySelector("button.close");
    closeButton.textContent = t("dismiss");
    conv.tab.classList.add("closed");
  }

  function showTyping(id, on) {
    const conv = convs.get(id);
    if (!conv) return;
    conv.panel.querySelector(".typing").hidden = !on;
    conv.tabTyping.hidden = !on;
    clearTimeout(conv.typingTimer);
    if (on) conv.typingTimer = setTimeout(function () { showTyping(id, false); }, 8000);
  }

  function typingStarted(id) {
    const conv = convs.get(id);
    if (!conv || conv.closed) return;
    const now = Date.now();
    if (now - conv.sentTyping > 4000) {
      conv.sentTyping = now;
      api("POST", HL.base + "/conversations/" + id + "/typing", { typing: true });
    }
    clearTimeout(conv.idleTimer);
    conv.idleTimer = setTimeout(function () { typingStopped(id); }, 5000);
  }

  function typingStopped(id) {
    const conv = convs.get(id);
    if (!conv || !conv.sentTyping) return;
    conv.sentTyping = 0;
    clearTimeout(conv.idleTimer);
    api("POST", HL.base + "/conversations/" + id + "/typing", { typing: false });
  }

  async function sendReply(id) {
    const conv = convs.get(id);
    if (!conv || conv.closed) return;
    const reply = conv.panel.querySelector("textarea.reply");
    const text = reply.value.trim();
    if (!text) return;
    const button = conv.panel.querySelector("button.send");
    button.disabled = true;
    const res = await HL.apiAction("POST", HL.base + "/conversations/" + id + "/reply", { text: text });
    button.disabled = false;
    if (res.status === 200) {
      reply.value = "";
      showSmsCost(id);
      conv.sentTyping = 0;
      clearTimeout(conv.idleTimer);
      addMessage(id, res.data.message);
      reply.focus();
    } else {
      say(t(res.data.error || "error"));
    }
  }

  // ------------------------------------------------------------------ live events
  function onConversationEvent(msg) {
    const id = msg.conversation_id;
    if (!convs.has(id)) {
      if (msg.conversation && msg.conversation.state === "assigned") openConversation(id, false);
      return;
    }
    if (msg.kind === "message" && msg.message) {
      const conv = convs.get(id);
      if (msg.message.seq > conv.maxSeq + 1 && conv.maxSeq > 0) loadTranscript(id);
      else addMessage(id, msg.message);
      if (msg.message.kind === "person" && msg.message.triage) {
        conv.triage = msg.message.triage;
        conv.why = HL.triage.update(conv.why, msg.message, msg.conversation);
        renderTriage(conv);
      }
    } else if (msg.kind === "typing" && msg.who === "person") {
      showTyping(id, !!msg.typing);
    } else if (msg.kind === "state" && msg.conversation) {
      if (msg.conversation.state === "closed") markClosed(id);
    } else if (msg.kind === "delivery") {
      const panel = convs.get(id).panel;
      if (msg.conversation && msg.conversation.unreachable) panel.querySelector(".unreachable-note").hidden = false;
      const li = msg.message_id ? panel.querySelector('ol.log li[data-id="' + CSS.escape(msg.message_id) + '"]') : null;
      if (li) showDelivery(li, msg.delivery, msg.detail);
    }
  }

  function onLive(msg) {
    document.dispatchEvent(new CustomEvent("hl:live", { detail: msg })); // feature scripts (phone.js)
    if (HL.shift.onLive(msg)) return;
    if (msg.type === "queue" || msg.type === "queue_delta") applyQueue(msg);
    else if (msg.type === "alert") raiseAlert(msg);
    else if (msg.type === "conversation") onConversationEvent(msg);
  }

  /* Training (HL.space): nothing of it is on the broker, so no live socket; the page asks every
     second for the queue and the open conversations' new lines. */
  async function poll() {
    const res = await api("GET", HL.base + "/queue");
    if (res.status === 200) applyQueue(Object.assign({ type: "queue" }, res.data));
    for (const [id, conv] of convs) if (!conv.closed) loadTranscript(id);
  }

  async function start() {
    const cannedRes = await api("GET", HL.base + "/canned");
    if (cannedRes.status === 200) canned = cannedRes.data.canned || [];
    const res = await api("GET", HL.base + "/queue");
    if (res.status === 200) applyQueue(Object.assign({ type: "queue" }, res.data));
    if (HL.space === "training") {
      document.body.dataset.live = "1";
      setInterval(poll, 1000);
      return;
    }
    live = HL.live(onLive, function (reconnected) {
      queue.reset(); // the new socket's first frame is the whole queue
      HL.shift.connected(live);
      offline.hidden = true;
      document.body.dataset.live = "1";
      if (reconnected) for (const id of convs.keys()) loadTranscript(id);
    }, function () {
      offline.hidden = false;
      document.body.dataset.live = "0";
    });
  }
  start();
})();
