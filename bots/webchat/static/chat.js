/* helpline web chat client.  Plain JavaScript, no dependencies.
 * Message text is only ever set with textContent.  Nothing is stored in the browser unless the
 * person presses "continue later"; quick exit clears the page, the socket and that storage.
 */
(function () {
  "use strict";

  var STORE_KEY = "hl-webchat-resume";
  var doc = document;
  var body = doc.body;
  var I18N = JSON.parse(doc.getElementById("hl-i18n").textContent);
  var cfg = {
    exitUrl: body.getAttribute("data-quick-exit") || "https://www.google.com/",
    maxChars: parseInt(body.getAttribute("data-max-chars"), 10) || 4000,
    embed: body.classList.contains("hl-embed"),
    customTitle: body.getAttribute("data-custom-title") === "1"
  };
  var $ = function (id) { return doc.getElementById(id); };
  var el = {
    form: $("hl-form"), input: $("hl-input"), send: $("hl-send"), log: $("hl-log"),
    status: $("hl-status"), exit: $("hl-exit"), lang: $("hl-lang"), later: $("hl-continue-later"),
    resumeBox: $("hl-resume-box"), code: $("hl-resume-code"), resumeForm: $("hl-resume-form"),
    resumeInput: $("hl-resume-input"), resumeGo: $("hl-resume-go"), newConv: $("hl-new"),
    counter: $("hl-counter"), title: $("hl-title")
  };

  var RTL = (body.getAttribute("data-rtl-langs") || "").split(" ");
  function known(code) { return I18N[code] ? code : "sv"; }
  var lang = known(body.getAttribute("data-lang"));
  /* Picked: in the address (?lang=, the widget's) or in the menu.  Otherwise the page follows the
     language the person writes in. */
  var chosen = /[?&]lang=/.test(location.search);
  var st = freshState();
  var ws = null;
  var welcomed = false;
  var reconnectTimer = null;
  /* One resend timer for the page: "unavailable" answers (the store is away) back off with jitter
     up to RESEND_CAP_MS instead of each scheduling a resend of every pending message. */
  var RESEND_BASE_MS = 1000;
  var RESEND_CAP_MS = 20000;
  var resendTimer = null;
  var resendAttempt = 0;
  var attempt = 0;
  var typingTimer = null;
  var typingSent = false;
  var counsellorTypingTimer = null;
  var errorTimer = null;
  var seenTimer = null;
  var exited = false;

  function freshState() {
    return {
      conv: null, token: null, lastSeq: 0, seen: {}, pending: [], status: { state: "connecting" },
      typing: false, closed: false, persisted: false, code: null, resumeCode: null, error: null,
      connected: false, maxSeenSent: 0
    };
  }

  function t(key, vars) {
    var s = (I18N[lang] && I18N[lang][key]) || (I18N.sv && I18N.sv[key]) || "";
    if (vars) {
      Object.keys(vars).forEach(function (k) { s = s.split("{" + k + "}").join(String(vars[k])); });
    }
    return s;
  }

  /* ---------------------------------------------------------------- storage (opt-in only) */
  function loadStored() {
    try {
      var raw = window.localStorage.getItem(STORE_KEY);
      return raw ? JSON.parse(raw) : null;
    } catch (e) { return null; }
  }
  function saveStored() {
    if (!st.persisted || !st.token) { return; }
    try {
      window.localStorage.setItem(STORE_KEY, JSON.stringify({
        conversation_id: st.conv, token: st.token, last_seq: st.lastSeq, code: st.code
      }));
    } catch (e) { /* storage blocked: the code still works */ }
  }
  function clearStored() {
    try { window.localStorage.removeItem(STORE_KEY); } catch (e) { /* nothing stored */ }
  }

  /* ---------------------------------------------------------------- rendering */
  function applyLanguage() {
    doc.documentElement.lang = lang;
    /* Arabic and Persian right to left: the layout mirrors through logical CSS properties. */
    doc.documentElement.dir = RTL.indexOf(lang) >= 0 ? "rtl" : "ltr";
    body.setAttribute("data-lang", lang);
    var nodes = doc.querySelectorAll("[data-i18n]");
    for (var i = 0; i < nodes.length; i++) {
      nodes[i].textContent = t(nodes[i].getAttribute("data-i18n"));
    }
    if (!cfg.customTitle) { doc.title = t("title"); }
    var items = el.log.querySelectorAll("li.hl-msg");
    for (var j = 0; j < items.length; j++) {
      items[j].setAttribute("data-who", t("who_" + items[j].getAttribute("data-kind")));
      items[j].setAttribute("data-pending", t("sending"));
    }
    el.lang.value = lang;
    updateCounter();
    renderStatus();
  }

  function renderStatus() {
    var text, isError = false;
    if (st.error) { text = st.error; isError = true; }
    else if (st.closed) { text = t("status_closed"); }
    else if (!st.connected) { text = st.status.state === "connecting" ? t("status_connecting") : t("status_reconnecting"); }
    else if (st.typing) { text = t("status_typing"); }
    else {
      var s = st.status.state;
      if (s === "queued") {
        text = st.status.queue_position ? t("status_queued", { n: st.status.queue_position }) : t("status_queued_nopos");
      } else if (s === "assigned") { text = t("status_assigned"); }
      else if (s === "bot") { text = t("status_bot"); }
      else if (s === "closed") { text = t("status_closed"); }
      else { text = t("status_new"); }
    }
    if (el.status.textContent !== text) { el.status.textContent = text; }
    el.status.classList.toggle("hl-error", isError);
    var hasMessages = el.log.children.length > 0;
    // Back with the resume code after the close: writing starts a new conversation.
    el.input.disabled = st.closed && !st.byCode;
    el.send.disabled = st.closed && !st.byCode;
    el.later.hidden = st.closed || !st.conv;
    el.newConv.hidden = !st.closed;
    el.resumeForm.hidden = hasMessages || !!st.conv;
  }

  function showError(code, serverText) {
    var text = t("err_" + code, { max: cfg.maxChars }) || serverText || t("err_invalid");
    st.error = text;
    renderStatus();
    clearTimeout(errorTimer);
    errorTimer = setTimeout(function () { st.error = null; renderStatus(); }, 8000);
  }

  function addMessage(kind, text, seq) {
    var li = doc.createElement("li");
    li.className = "hl-msg";
    li.setAttribute("data-kind", kind);
    /* Each message in its own direction (a Swedish name or a number inside Arabic text in order). */
    li.dir = "auto";
    li.setAttribute("data-who", t("who_" + kind));
    li.setAttribute("data-pending", t("sending"));
    if (seq !== null && seq !== undefined) { li.setAttribute("data-seq", String(seq)); }
    li.textContent = text;
    el.log.appendChild(li);
    el.log.scrollTop = el.log.scrollHeight;
    return li;
  }

  function updateCounter() {
    var left = cfg.maxChars - el.input.value.length;
    el.counter.textContent = left < 500 ? t("chars_left", { n: left }) : "";
  }

  /* ---------------------------------------------------------------- socket */
  function send(frame) {
    if (ws && ws.readyState === 1) { ws.send(JSON.stringify(frame)); return true; }
    return false;
  }

  function connect(resumeSpec) {
    if (exited) { return; }
    clearTimeout(reconnectTimer);
    var url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/chat/ws";
    var sock;
    try { sock = new WebSocket(url); } catch (e) { scheduleReconnect(); return; }
    ws = sock;
    welcomed = false;
    sock.onopen = function () {
      var resume = resumeSpec || (st.token ? { conversation_id: st.conv, token: st.token, last_seq: st.lastSeq } : null);
      resumeSpec = null;
      sock.send(JSON.stringify({
        type: "hello", lang: lang, resume: resume,
        pending: st.pending.map(function (p) { return p.clientId; })
      }));
    };
    sock.onmessage = function (ev) {
      if (sock !== ws) { return; }
      var f;
      try { f = JSON.parse(ev.data); } catch (e) { return; }
      if (f && typeof f === "object") { handle(f); }
    };
    sock.onclose = function (ev) {
      if (sock !== ws) { return; }
      ws = null;
      st.connected = false;
      st.typing = false;
      if (exited) { return; }
      if (ev.code === 1009) { showError("too_long"); }
      renderStatus();
      scheduleReconnect();
    };
  }

  function scheduleReconnect() {
    if (exited) { return; }
    clearTimeout(reconnectTimer);
    var ceiling = Math.min(30000, 500 * Math.pow(2, attempt));
    attempt += 1;
    var delay = ceiling / 2 + Math.random() * ceiling / 2;
    reconnectTimer = setTimeout(function () { connect(null); }, delay);
  }

  function markSeen(seq) {
    if (seq > st.lastSeq) { st.lastSeq = seq; }
    st.seen[seq] = true;
  }

  function handle(f) {
    switch (f.type) {
      case "welcome":
        if (st.conv && f.conversation_id && f.conversation_id !== st.conv) {
          st.lastSeq = 0; st.seen = {}; st.closed = false;
        }
        st.conv = f.conversation_id || null;
        st.token = f.token || null;
        st.connected = true;
        attempt = 0;
        saveStored();
        if (!welcomed) {
          welcomed = true;
          resendPending();
        }
        renderStatus();
        break;
      case "message":
        if (typeof f.seq !== "number" || st.seen[f.seq]) { break; }
        markSeen(f.seq);
        addMessage(["person", "bot", "counsellor", "system"].indexOf(f.kind) >= 0 ? f.kind : "system", String(f.text || ""), f.seq);
        if (f.kind === "counsellor") { st.typing = false; }
        saveStored();
        if (f.kind !== "person") { scheduleSeen(); }
        renderStatus();
        break;
      case "ack":
        for (var i = 0; i < st.pending.length; i++) {
          if (st.pending[i].clientId === f.client_id) {
            var p = st.pending.splice(i, 1)[0];
            resendAttempt = 0;
            p.li.classList.remove("hl-pending");
            if (typeof f.seq === "number") { p.li.setAttribute("data-seq", String(f.seq)); markSeen(f.seq); }
            saveStored();
            break;
          }
        }
        break;
      case "status":
        st.status = { state: f.state, queue_position: f.queue_position, assigned: f.assigned };
        if (f.state === "closed") { st.closed = true; }
        renderStatus();
        break;
      case "language":
        /* The page follows the language of the person's first messages unless they picked one. */
        if (!chosen && I18N[f.language] && f.language !== lang) {
          lang = f.language;
          el.lang.value = lang;
          applyLanguage();
        }
        break;
      case "typing":
        st.typing = !!f.typing;
        clearTimeout(counsellorTypingTimer);
        if (st.typing) {
          counsellorTypingTimer = setTimeout(function () { st.typing = false; renderStatus(); }, 15000);
        }
        renderStatus();
        break;
      case "closed":
        st.closed = true;
        st.typing = false;
        clearStored();
        st.persisted = false;
        renderStatus();
        break;
      case "resume_code":
        st.code = String(f.code || "");
        st.persisted = true;
        el.code.textContent = st.code;
        el.resumeBox.hidden = false;
        saveStored();
        el.code.focus();
        break;
      case "error":
        handleError(f);
        break;
      default:
        break;
    }
  }

  function handleError(f) {
    var code = String(f.code || "invalid");
    if (f.client_id) {
      for (var i = 0; i < st.pending.length; i++) {
        if (st.pending[i].clientId === f.client_id) {
          if (code === "unavailable") { scheduleResend(); break; }
          var p = st.pending.splice(i, 1)[0];
          if (p.li.parentNode) { p.li.parentNode.removeChild(p.li); }
          if (!el.input.value) { el.input.value = p.text; updateCounter(); }
          break;
        }
      }
    }
    if (code === "resume_failed") { clearStored(); st.persisted = false; }
    showError(code, f.message);
  }

  function scheduleResend() {
    if (resendTimer !== null) { return; }
    var ceiling = Math.min(RESEND_CAP_MS, RESEND_BASE_MS * Math.pow(2, resendAttempt));
    resendAttempt += 1;
    var delay = ceiling / 2 + Math.random() * ceiling / 2;
    resendTimer = setTimeout(resendPending, delay);
  }

  function resendPending() {
    clearTimeout(resendTimer);
    resendTimer = null;
    st.pending.forEach(function (p) { send({ type: "message", client_id: p.clientId, text: p.text }); });
  }

  function scheduleSeen() {
    if (doc.visibilityState && doc.visibilityState !== "visible") { return; }
    clearTimeout(seenTimer);
    seenTimer = setTimeout(function () {
      if (st.lastSeq > st.maxSeenSent && send({ type: "seen", seq: st.lastSeq })) { st.maxSeenSent = st.lastSeq; }
    }, 300);
  }

  function newClientId() {
    if (window.crypto && window.crypto.randomUUID) { return window.crypto.randomUUID(); }
    var b = new Uint8Array(16);
    window.crypto.getRandomValues(b);
    return Array.prototype.map.call(b, function (x) { return ("0" + x.toString(16)).slice(-2); }).join("");
  }

  /* ---------------------------------------------------------------- actions */
  function submit() {
    if (st.closed && !st.byCode) { showError("closed"); return; }
    var text = el.input.value;
    if (!text.trim()) { showError("empty"); el.input.focus(); return; }
    if (text.length > cfg.maxChars) { showError("too_long"); el.input.focus(); return; }
    var item = { clientId: newClientId(), text: text, li: addMessage("person", text, null) };
    item.li.classList.add("hl-pending");
    st.pending.push(item);
    el.input.value = "";
    updateCounter();
    stopTyping();
    if (welcomed) { send({ type: "message", client_id: item.clientId, text: text }); }
    renderStatus();
    el.input.focus();
  }

  function stopTyping() {
    clearTimeout(typingTimer);
    if (typingSent) { typingSent = false; send({ type: "typing", typing: false }); }
  }

  function onInput() {
    updateCounter();
    if (!st.conv) { return; }
    if (!typingSent && el.input.value) { typingSent = send({ type: "typing", typing: true }); }
    clearTimeout(typingTimer);
    typingTimer = setTimeout(stopTyping, 4000);
  }

  function quickExit() {
    exited = true;
    clearStored();
    clearTimeout(reconnectTimer);
    if (ws) { ws.onclose = null; ws.onmessage = null; try { ws.close(); } catch (e) { /* gone */ } ws = null; }
    el.log.textContent = "";
    el.input.value = "";
    el.code.textContent = "";
    el.resumeInput.value = "";
    st = freshState();
    if (cfg.embed && window.parent && window.parent !== window) {
      try { window.parent.postMessage({ type: "hl-quick-exit", url: cfg.exitUrl }, "*"); } catch (e) { /* ignore */ }
      try { window.top.location.replace(cfg.exitUrl); return; } catch (e) { /* cross-origin: the widget does it */ }
      window.location.replace("about:blank");
      return;
    }
    window.location.replace(cfg.exitUrl);
  }

  function startOver(resumeSpec) {
    if (ws) { ws.onclose = null; ws.onmessage = null; try { ws.close(); } catch (e) { /* gone */ } ws = null; }
    clearStored();
    st = freshState();
    st.byCode = !!(resumeSpec && resumeSpec.code);
    el.log.textContent = "";
    el.code.textContent = "";
    el.resumeBox.hidden = true;
    attempt = 0;
    renderStatus();
    connect(resumeSpec);
  }

  el.form.addEventListener("submit", function (ev) { ev.preventDefault(); submit(); });
  el.input.addEventListener("keydown", function (ev) {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) { ev.preventDefault(); submit(); }
  });
  el.input.addEventListener("input", onInput);
  el.exit.addEventListener("click", quickExit);
  el.lang.addEventListener("change", function () {
    lang = known(el.lang.value);
    chosen = true;
    try { history.replaceState(null, "", location.pathname + "?" + (cfg.embed ? "embed=1&" : "") + "lang=" + lang); } catch (e) { /* ignore */ }
    applyLanguage();
  });
  el.later.addEventListener("click", function () {
    if (!send({ type: "continue_later" })) { showError("unavailable"); }
  });
  el.newConv.addEventListener("click", function () { startOver(null); el.input.focus(); });
  el.resumeForm.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var code = el.resumeInput.value.trim();
    if (!code) { showError("resume_failed"); return; }
    el.resumeInput.value = "";
    startOver({ code: code });
  });
  doc.addEventListener("visibilitychange", function () { if (doc.visibilityState === "visible") { scheduleSeen(); } });
  window.addEventListener("online", function () { if (!ws && !exited) { attempt = 0; connect(null); } });

  var stored = loadStored();
  if (stored && stored.token) {
    st.conv = stored.conversation_id || null;
    st.token = stored.token;
    st.lastSeq = 0; /* the page is new: replay the whole conversation */
    st.persisted = true;
    st.code = stored.code || null;
    if (st.code) { el.code.textContent = st.code; el.resumeBox.hidden = false; }
  }
  applyLanguage();
  connect(null);
}());
