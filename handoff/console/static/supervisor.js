/* The supervisor's view: every active conversation and every counsellor's load. */
"use strict";

(function () {
  const { t, el, api } = HL;
  const convBody = document.querySelector("#sup-conversations tbody");
  const staffBody = document.querySelector("#sup-counsellors tbody");
  const onDuty = document.getElementById("sup-on-duty");
  let pending = null;

  async function refresh() {
    pending = null;
    refreshDisclosures();
    const res = await api("GET", "/console/api/supervisor");
    if (res.status !== 200) return;
    const rows = res.data.conversations.map(function (c) {
      return el("tr", { className: "prio-" + c.priority, dataset: { conversationId: c.conversation_id, state: c.state } }, [
        el("td", { className: "prio-cell" }, [el("span", { className: "badge prio-" + c.priority }, HL.priorityLabel(c.priority)), HL.triage.marker(c.risk)]),
        el("td", null, t("s_" + c.state)),
        el("td", null, [document.createTextNode(HL.channelLabel(c.channel) + " · "), HL.triage.languageCode(c.language)]),
        el("td", null, HL.intentLabel(c.intent)),
        el("td", { className: "assignee" }, c.assigned_to || "–"),
        el("td", null, String(c.message_count)),
        el("td", null, [el("a", { href: "/console/conversations/" + c.conversation_id }, t("open_transcript"))]),
      ]);
    });
    convBody.replaceChildren.apply(convBody, rows);
    const staff = res.data.counsellors.map(function (u) {
      const statusText = t("status_" + u.status) + (u.status_auto && u.status === "away" ? " " + t("status_auto") : "");
      return el("tr", { className: (u.load >= u.capacity ? "full " : "") + "status-" + u.status, dataset: { username: u.username, status: u.status } }, [
        el("td", null, u.display_name && u.display_name !== u.username ? u.display_name + " (" + u.username + ")" : u.username),
        el("td", null, t("role_" + u.role)),
        el("td", { className: "status" }, [el("span", { className: "badge status-" + u.status }, statusText)]),
        el("td", { className: "load" }, String(u.load)),
        el("td", { className: "capacity" }, String(u.capacity)),
      ]);
    });
    staffBody.replaceChildren.apply(staffBody, staff);
    onDuty.textContent = String(res.data.on_duty);
  }

  // ------------------------------------------------------------------ crime information (four eyes)
  const lang = HL.i18n.lang === "en" ? "en" : "sv";
  const notice = document.getElementById("sup-notice");
  const pendingList = document.getElementById("sup-disclosures-pending");
  const manualList = document.getElementById("sup-disclosures-manual");
  const reviewList = document.getElementById("sup-disclosures-review");
  let noticeTimer = null;
  let shownKey = null;

  function say(text) {
    notice.textContent = text;
    clearTimeout(noticeTimer);
    noticeTimer = setTimeout(function () { notice.textContent = ""; }, 8000);
  }

  const errorText = HL.errorText;
  const stamp = HL.formatStamp;

  /* Approved crime information that someone has to phone in: the numbers, the text, the record. */
  function manualItem(d) {
    const p = d.package || {};
    const facts = [
      [t("ho_recipient"), p.recipient ? p.recipient.name[lang] : d.recipient_id],
      [t("ho_created"), stamp(d.created_at)],
      [t("ho_what"), p.what || ""],
      [t("ho_legal_ground"), p.legal_ground ? p.legal_ground[lang] : d.legal_ground],
    ];
    if (d.identity_included) facts.push(["", t("ho_identity_note")]);
    const dl = el("dl", { className: "facts" }, facts.flatMap(function (f) { return [el("dt", null, f[0]), el("dd", null, f[1])]; }));
    return el("li", { className: "ho-disclosure ho-manual" + (d.immediate_danger ? " critical" : ""), dataset: { disclosureId: d.id, status: d.status } }, [
      el("span", { className: "badge" + (d.immediate_danger ? " prio-critical" : "") }, t("ho_ds_" + d.status)),
      d.immediate_danger ? el("span", { className: "badge prio-critical" }, t("ho_immediate_danger")) : null,
      dl,
      HLPhone.box(d, function () {
        say(t("ho_phoned_ok"));
        shownKey = null;
        refreshDisclosures();
      }),
      el("p", null, [el("a", { href: "/console/conversations/" + d.conversation_id }, t("open_transcript"))]),
    ]);
  }

  function disclosureItem(d, review) {
    const p = d.package || {};
    const facts = [
      [t("ho_recipient"), p.recipient ? p.recipient.name[lang] : d.recipient_id],
      [t("ho_created"), stamp(d.created_at)],
      [t("ho_what"), p.what || ""],
      [t("ho_when"), p.when || "–"],
      [t("ho_where"), p.where || "–"],
      [t("ho_certainty"), p.certainty ? t("ho_cert_" + p.certainty) : ""],
      [t("ho_legal_ground"), p.legal_ground ? p.legal_ground[lang] : d.legal_ground],
    ];
    if (d.identity_included) facts.push(["", t("ho_identity_note")]);
    const dl = el("dl", { className: "facts" }, facts.flatMap(function (f) { return [el("dt", null, f[0]), el("dd", null, f[1])]; }));
    const sources = el("ol", { className: "ho-sources-list" }, (p.sources || []).map(function (s) {
      return el("li", null, "[" + s.seq + "] " + s.text);
    }));
    const problem = el("p", { className: "ho-error problem", hidden: true, attrs: { role: "alert" } });
    function fail(res) { problem.textContent = errorText(res); problem.hidden = false; }
    const note = el("input", { className: review ? "ho-review-note" : "ho-reject-reason", maxLength: 2000, attrs: { "aria-label": review ? t("ho_review_note") : t("ho_reject_reason") }, placeholder: review ? t("ho_review_note") : t("ho_reject_reason") });
    const buttons = [];
    if (review) {
      const done = el("button", { type: "button", className: "ho-review primary" }, t("ho_review"));
      done.addEventListener("click", async function () {
        const res = await api("POST", "/console/api/disclosures/" + d.id + "/review", { note: note.value });
        if (res.status !== 200) { fail(res); return; }
        say(t("ho_reviewed_ok"));
        shownKey = null;
        refreshDisclosures();
      });
      buttons.push(note, done);
    } else {
      const approve = el("button", { type: "button", className: "ho-approve primary" }, t("ho_approve"));
      const reject = el("button", { type: "button", className: "ho-reject danger" }, t("ho_reject"));
      approve.addEventListener("click", async function () {
        approve.disabled = true;
        const res = await api("POST", "/console/api/disclosures/" + d.id + "/approve");
        approve.disabled = false;
        if (res.status !== 200) { fail(res); return; }
        say(t("ho_approved_ok"));
        shownKey = null;
        refreshDisclosures();
      });
      reject.addEventListener("click", async function () {
        if (!note.value.trim()) { problem.textContent = t("error_reason_required"); problem.hidden = false; note.focus(); return; }
        const res = await api("POST", "/console/api/disclosures/" + d.id + "/reject", { reason: note.value });
        if (res.status !== 200) { fail(res); return; }
        say(t("ho_rejected_ok"));
        shownKey = null;
        refreshDisclosures();
      });
      buttons.push(approve, note, reject);
    }
    return el("li", { className: "ho-disclosure" + (d.immediate_danger ? " critical" : ""), dataset: { disclosureId: d.id, status: d.status } }, [
      d.immediate_danger ? el("span", { className: "badge prio-critical" }, t("ho_immediate_danger")) : null,
      dl,
      el("h3", null, t("ho_sources")),
      sources,
      el("p", null, [el("a", { href: "/console/conversations/" + d.conversation_id }, t("open_transcript"))]),
      problem,
      el("div", { className: "row" }, buttons),
    ]);
  }

  async function refreshDisclosures() {
    const res = await api("GET", "/console/api/disclosures");
    if (res.status !== 200) return;
    const all = res.data.disclosures;
    const pending = all.filter(function (d) { return d.status === "pending_approval"; });
    const review = all.filter(function (d) { return d.review_required && !d.reviewed_at; });
    const manual = all.filter(function (d) { return d.status === "awaiting_manual" || d.status === "delivery_failed"; });
    const key = all.map(function (d) { return d.id + d.status + (d.reviewed_at || ""); }).join();
    if (key === shownKey) return; // unchanged: keep what the supervisor is typing
    shownKey = key;
    pendingList.replaceChildren.apply(pendingList, pending.map(function (d) { return disclosureItem(d, false); }));
    reviewList.replaceChildren.apply(reviewList, review.map(function (d) { return disclosureItem(d, true); }));
    manualList.replaceChildren.apply(manualList, manual.map(manualItem));
    document.getElementById("sup-disclosures-manual-empty").hidden = manual.length > 0;
    document.getElementById("sup-disclosures-pending-empty").hidden = pending.length > 0;
    document.getElementById("sup-disclosures-review-empty").hidden = review.length > 0;
  }

  function soon() {
    if (!pending) pending = setTimeout(refresh, 200);
  }

  refresh();
  setInterval(refresh, 15000);
  const queue = HL.queueView(function () { live.send({ type: "snapshot" }); });
  const live = HL.live(function (msg) {
    if (msg.type === "status") soon(); // my own status, in the table too
    if (HL.shift.onLive(msg)) return;
    if (msg.type === "queue" || msg.type === "queue_delta") {
      const q = queue.apply(msg);
      if (q) HL.shift.onQueue(q.waiting);
      soon();
    }
    else if (msg.type === "staff_status") soon();
    else if (msg.type === "conversation" && (msg.kind === "disclosure" || msg.kind === "referral")) soon();
    else if (msg.type === "alert") HL.alert.raise(msg, msg.assigned ? function (id) { window.location.assign("/console/conversations/" + id); } : null);
  }, function () { queue.reset(); HL.shift.connected(live); }, function () {});
})();
