/* Shared helpers of the console pages.  Text from people is only ever set with textContent. */
"use strict";

const HL = (function () {
  const i18n = JSON.parse(document.getElementById("i18n").textContent);
  const csrfMeta = document.querySelector('meta[name="csrf-token"]');
  const csrf = csrfMeta ? csrfMeta.getAttribute("content") : "";
  // The console page in training mode (handoff.training.console_web) names its own API base.
  const space = document.body.dataset.space || "";
  const base = document.body.dataset.api || "/console/api";

  function t(key) {
    return Object.prototype.hasOwnProperty.call(i18n.t, key) ? i18n.t[key] : key;
  }

  function intentLabel(intent) {
    if (!intent) return "–";
    return Object.prototype.hasOwnProperty.call(i18n.intents, intent) ? i18n.intents[intent] : intent;
  }

  /* A channel's name in the page's language (its key where the catalogue has none). */
  function channelLabel(name) {
    if (!name) return "–";
    const names = i18n.channels || {};
    return Object.prototype.hasOwnProperty.call(names, name) ? names[name] : name;
  }

  function priorityLabel(p) {
    return t("p_" + p);
  }

  /* el("td", {className: "x", dataset: {a: 1}}, "text" or [children]) */
  function el(tag, props, content) {
    const node = document.createElement(tag);
    if (props) {
      for (const [key, value] of Object.entries(props)) {
        if (key === "dataset") {
          for (const [k, v] of Object.entries(value)) node.dataset[k] = String(v);
        } else if (key === "attrs") {
          for (const [k, v] of Object.entries(value)) node.setAttribute(k, String(v));
        } else {
          node[key] = value;
        }
      }
    }
    if (Array.isArray(content)) {
      for (const child of content) if (child) node.appendChild(child);
    } else if (content !== undefined && content !== null) {
      node.textContent = String(content);
    }
    return node;
  }

  async function api(method, path, body, idempotencyKey) {
    const init = { method: method, headers: {}, credentials: "same-origin", cache: "no-store" };
    if (idempotencyKey) init.headers["Idempotency-Key"] = idempotencyKey;
    if (method !== "GET") {
      init.headers["X-CSRF-Token"] = csrf;
      if (body !== undefined) {
        init.headers["Content-Type"] = "application/json";
        init.body = JSON.stringify(body);
      }
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch (e) {
      return { status: 0, data: { error: "network" } };
    }
    if (response.status === 401) {
      window.location.assign("/console/login");
      return { status: 401, data: { error: "not_signed_in" } };
    }
    let data = {};
    try {
      data = await response.json();
    } catch (e) {
      data = {};
    }
    return { status: response.status, data: data };
  }

  /* One idempotency key per user action: 128 random bits, hex (crypto.getRandomValues also works
     where randomUUID does not, on plain http). */
  function newKey() {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, function (b) { return b.toString(16).padStart(2, "0"); }).join("");
  }

  /* Actions whose answer did not arrive keep their key: sending the same thing again (the resend
     below, or the user pressing the button once more) reuses it, so the server acts only once. */
  const pendingKeys = new Map();

  /* A staff action that creates something (reply, transfer, referral, disclosure, documentation):
     sent with an Idempotency-Key and resent with the same key while the network or the server is
     away (no answer, 409 in_progress, 502-504), at most four times with growing pauses. */
  function actionKey(method, path, body) {
    const signature = method + " " + path + " " + JSON.stringify(body === undefined ? null : body);
    let key = pendingKeys.get(signature);
    if (!key) {
      key = newKey();
      pendingKeys.set(signature, key);
    }
    return { signature: signature, key: key };
  }

  async function apiAction(method, path, body) {
    const { signature, key } = actionKey(method, path, body);
    let res;
    for (let attempt = 0; attempt < 5; attempt++) {
      if (attempt > 0) await new Promise(function (r) { setTimeout(r, 500 * 2 ** (attempt - 1)); });
      res = await api(method, path, body, key);
      const again = res.status === 0 || res.status === 502 || res.status === 503 || res.status === 504 ||
        (res.status === 409 && res.data && res.data.error === "in_progress");
      if (!again) break;
    }
    if (res.status !== 0 && res.status < 500 && !(res.status === 409 && res.data.error === "in_progress")) {
      pendingKeys.delete(signature);
    }
    return res;
  }

  /* The same action on the live socket first (as a request it waits behind the page's other
     requests: a browser keeps about six connections per host): frame(key) is the frame to send
     with the action's key.  Answered {status, data} as the request would be; with no answer
     within `wait` ms (the socket is down, or went down meanwhile) the request is sent instead,
     with the same key: the server acts once. */
  async function liveAction(socket, method, path, body, frame, wait) {
    const { signature, key } = actionKey(method, path, body);
    const res = socket ? await socket.ask(frame(key), wait) : null;
    if (!res || res.status === 0 || res.status >= 500 || (res.status === 409 && res.data.error === "in_progress")) {
      return apiAction(method, path, body);
    }
    pendingKeys.delete(signature);
    return res;
  }

  /* A websocket to /console/ws that reconnects with back-off; onOpen(reconnected) after each connect.
     Returns { send(object) }: sent on the open socket (true), not while it is down (false); and
     ask(object, ms): sent with its key, resolved with the {type: "answer"} frame of that key as
     {status, data}, or with null when the socket is down or no answer came within ms. */
  function live(onMessage, onOpen, onDown) {
    let delay = 500;
    let ever = false;
    let current = null;
    const asked = new Map();
    function settle(key, answer) {
      const waiting = asked.get(key);
      if (!waiting) return;
      asked.delete(key);
      clearTimeout(waiting.timer);
      waiting.resolve(answer);
    }
    function connect() {
      const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
      const ws = new WebSocket(scheme + "//" + window.location.host + "/console/ws");
      current = ws;
      ws.addEventListener("open", function () {
        delay = 500;
        onOpen(ever);
        ever = true;
      });
      ws.addEventListener("message", function (ev) {
        let msg;
        try {
          msg = JSON.parse(ev.data);
        } catch (e) {
          return;
        }
        if (msg.type === "answer") settle(msg.key, { status: msg.status, data: msg.data || {} });
        else onMessage(msg);
      });
      ws.addEventListener("close", function (ev) {
        for (const key of Array.from(asked.keys())) settle(key, null);
        if (ev.code === 4401) {
          window.location.assign("/console/login");
          return;
        }
        onDown();
        setTimeout(connect, delay);
        delay = Math.min(delay * 2, 10000);
      });
    }
    connect();
    return {
      send: function (obj) {
        if (!current || current.readyState !== WebSocket.OPEN) return false;
        current.send(JSON.stringify(obj));
        return true;
      },
      ask: function (obj, ms) {
        if (!current || current.readyState !== WebSocket.OPEN) return Promise.resolve(null);
        return new Promise(function (resolve) {
          settle(obj.key, null); // an earlier ask of the same key gives way
          asked.set(obj.key, { resolve: resolve, timer: setTimeout(function () { settle(obj.key, null); }, ms) });
          current.send(JSON.stringify(obj));
        });
      },
    };
  }

  /* The live queue as the socket's frames tell it: a snapshot ({type: "queue"}, numbered by seq)
     and then deltas ({type: "queue_delta"}: one conversation's change each, numbered next).  A
     delta out of sequence (one was missed) asks the server for a snapshot (ask()) and is ignored
     until it comes.  apply(frame) returns the queue after it ({waiting, mine, load, capacity}), or
     null when the frame changed nothing shown.  Each entry gets .at, when its wait was read. */
  function queueView(ask) {
    const rank = { critical: 3, high: 2, normal: 1, low: 0 };
    let seq = null;
    let asked = false;
    let waiting = [];
    let mine = [];
    function cmp(a, b) { return a < b ? -1 : a > b ? 1 : 0; }
    function byWait(a, b) {
      return (rank[b.priority] || 0) - (rank[a.priority] || 0) || cmp(a.queued_at || "", b.queued_at || "") || cmp(a.conversation_id, b.conversation_id);
    }
    function byAssigned(a, b) {
      return (rank[b.priority] || 0) - (rank[a.priority] || 0) || cmp(a.assigned_at || "", b.assigned_at || "");
    }
    function stamp(list) {
      const now = performance.now();
      list.forEach(function (e) { e.at = now; });
      return list;
    }
    function apply(msg) {
      if (msg.type === "queue") {
        if (msg.seq !== undefined) { seq = msg.seq; asked = false; } // the page's first GET has none
        waiting = stamp((msg.waiting || []).slice());
        mine = (msg.mine || []).slice();
        return { waiting: waiting, mine: mine, load: msg.load || 0, capacity: msg.capacity };
      }
      if (seq === null || msg.seq !== seq + 1) {
        seq = null;
        if (!asked) { asked = true; ask(); }
        return null;
      }
      seq = msg.seq;
      msg.changes.forEach(function (c) {
        const list = c.list === "mine" ? mine : waiting;
        const i = list.findIndex(function (e) { return e.conversation_id === c.conversation_id; });
        if (i >= 0) list.splice(i, 1);
        if (c.op !== "removed") list.push(c.list === "mine" ? c.entry : stamp([c.entry])[0]);
      });
      waiting.sort(byWait);
      mine.sort(byAssigned);
      return { waiting: waiting, mine: mine, load: msg.load, capacity: msg.capacity };
    }
    /* A new socket: its first frame is a snapshot. */
    function reset() { seq = null; asked = true; }
    return { apply: apply, reset: reset };
  }

  function formatWait(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    const sec = String(s % 60).padStart(2, "0");
    return h > 0 ? h + ":" + String(m).padStart(2, "0") + ":" + sec : m + ":" + sec;
  }

  function formatTime(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    if (isNaN(d.getTime())) return "";
    return d.toLocaleTimeString(i18n.lang === "sv" ? "sv-SE" : "en-GB", { hour: "2-digit", minute: "2-digit" });
  }

  /* Date and time, for lists where entries span days. */
  function formatStamp(iso) {
    const d = iso ? new Date(iso) : null;
    return d && !isNaN(d.getTime()) ? d.toLocaleString(i18n.lang === "sv" ? "sv-SE" : "en-GB", { dateStyle: "short", timeStyle: "short" }) : "";
  }

  /* The text for an API error answer ({"error": code, ...}, the one error shape): its "error_<code>"
     string (or the admin pages' "e_<code>"), else the generic error with the code. */
  function errorText(res) {
    const code = (res.data && res.data.error) || "error";
    for (const key of ["error_" + code, "e_" + code]) {
      const text = t(key);
      if (text !== key) return text;
    }
    return t("error") + " (" + code + ")";
  }

  return { i18n, space, base, t, intentLabel, channelLabel, priorityLabel, el, api, apiAction, liveAction, live, queueView, formatWait, formatTime, formatStamp, errorText };
})();
