/* The console's conversations of mine: a tab and a panel each, the transcript read once and then
   appended from the live feed, the reply form, typing, transfer, release and close.  console.js
   makes it (HL.consoleConversations(shared), before the queue) and passes `shared`: {say, canned, live}.
   No innerHTML anywhere. */
"use strict";

HL.consoleConversations = function (shared) {
  const { t, el, api } = HL;
  const tabs = document.getElementById("tabs");
  const panels = document.getElementById("panels");
  const mineEmpty = document.getElementById("mine-empty");
  const template = document.getElementById("panel-template");
  let active = null;
  const convs = new Map(); // conversation id -> {tab, panel, seqs: Set, maxSeq, closed, typingTimer}
  // Conversations closed while on this page.  A closed conversation never opens again, but an
  // event or a queue delta sent before its close can arrive after it: opening the panel again for
  // it made four reads the server refused (and audited as denied) and flashed a dead panel.
  const ended = new Set();
  const REPLY_WAIT_MS = 10000; // a reply on the live socket unanswered this long is sent as a request

  function updateTab(id, info) {
    const conv = convs.get(id);
    if (!conv || !info) return;
    conv.tab.className = "tab prio-" + info.priority + (conv.closed ? " closed" : "");
    conv.tab.dataset.priority = info.priority;
    conv.tabLabel.textContent = HL.priorityLabel(info.priority) + " · " + HL.intentLabel(info.intent) + " · " + HL.channelLabel(info.channel);
    conv.channel = info.channel;
  }

  // given: the transcript as the claim's answer brought it (else it is read).
  function openConversation(id, focus, given) {
    // A claim on its way opens it from its answer (endClaim), whatever asks meanwhile.
    if (ended.has(id) || claims.has(id)) return;
    const fresh = !convs.has(id);
    if (fresh) createPanel(id);
    if (focus || !active) activate(id);
    // Once: after that the live feed appends (a claim's answer and the queue's delta both open it).
    if (fresh && given) showTranscript(id, given);
    else if (fresh) loadTranscript(id);
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
      const item = shared.canned.find(function (c) { return c.id === cannedSelect.value; });
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
      else shared.say(t(res.data.error || "error"));
    });
    if (transferInput) panel.querySelector("button.release").addEventListener("click", async function () {
      const res = await api("POST", HL.base + "/conversations/" + id + "/release");
      if (res.status === 200) removeConversation(id);
      else shared.say(t(res.data.error || "error"));
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
        ended.add(id);
        // The answer brings what the extensions draw next (handoff.console.panels): the form.
        document.dispatchEvent(new CustomEvent("hl:closed", { detail: { id: id, priority: priority, parts: res.data.parts || {} } }));
        removeConversation(id);
      } else shared.say(t(res.data.error || "error"));
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
    shared.canned.forEach(function (item) {
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
    if (conv.closed) ended.add(id);
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
    if (!convs.has(id)) return;
    if (res.status !== 200) {
      if (res.status === 403 || res.status === 404) removeConversation(id);
      return;
    }
    showTranscript(id, res.data);
  }

  function showTranscript(id, data) {
    const conv = convs.get(id);
    if (!conv) return;
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
      sendTyping(id, true);
    }
    clearTimeout(conv.idleTimer);
    conv.idleTimer = setTimeout(function () { typingStopped(id); }, 5000);
  }

  function typingStopped(id) {
    const conv = convs.get(id);
    if (!conv || !conv.sentTyping) return;
    conv.sentTyping = 0;
    clearTimeout(conv.idleTimer);
    sendTyping(id, false);
  }

  /* On the live socket when it is open (a frame, not a whole request each), else as a request
     (training has no socket; a socket that is down). */
  function sendTyping(id, on) {
    const sent = shared.live && shared.live.send({ type: "typing", conversation_id: id, typing: on });
    if (!sent) {
      api("POST", HL.base + "/conversations/" + id + "/typing", { typing: on });
    }
  }

  async function sendReply(id) {
    const conv = convs.get(id);
    if (!conv || conv.closed) return;
    const reply = conv.panel.querySelector("textarea.reply");
    const text = reply.value.trim();
    if (!text) return;
    const button = conv.panel.querySelector("button.send");
    button.disabled = true;
    // On the live socket (the request waits behind the page's other requests), else a request.
    const res = await HL.liveAction(shared.live, "POST", HL.base + "/conversations/" + id + "/reply", { text: text },
      function (key) { return { type: "reply", key: key, conversation_id: id, text: text }; }, REPLY_WAIT_MS);
    button.disabled = false;
    if (res.status === 200) {
      reply.value = "";
      showSmsCost(id);
      conv.sentTyping = 0;
      clearTimeout(conv.idleTimer);
      addMessage(id, res.data.message);
      reply.focus();
    } else {
      shared.say(t(res.data.error || "error"));
    }
  }

  // ------------------------------------------------------------------ claims
  // A claim on its way (id -> the live events that came meanwhile): its answer brings the
  // transcript and opens the panel, then those events are applied (a message already in the
  // transcript is skipped by its seq).  Opened by an event instead, the panel would read the
  // transcript with a request of its own.
  const claims = new Map();

  function beginClaim(id) {
    if (!convs.has(id)) claims.set(id, []);
  }

  // given: the transcript the claim's answer brought (none in training: the panel reads it).
  function endClaim(id, ok, given) {
    const held = claims.get(id) || [];
    claims.delete(id);
    if (ok) openConversation(id, true, given);
    held.forEach(onConversationEvent);
  }

  // ------------------------------------------------------------------ live events
  function onConversationEvent(msg) {
    const id = msg.conversation_id;
    if (claims.has(id)) {
      claims.get(id).push(msg);
      return;
    }
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

  function showEmpty() {
    mineEmpty.hidden = convs.size > 0;
  }

  return {
    convs: convs, // read by the queue (which of mine are open) and the alert; changed only here
    open: openConversation,
    remove: removeConversation,
    activate: activate,
    updateTab: updateTab,
    loadTranscript: loadTranscript,
    onEvent: onConversationEvent,
    beginClaim: beginClaim,
    endClaim: endClaim,
    showEmpty: showEmpty,
  };
};
