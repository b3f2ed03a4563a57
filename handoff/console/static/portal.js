/* The municipality portal: the referrals of the user's own unit(s), acknowledgement and follow-up.
   Everything shown comes from /console/portal/api/..., which answers only for the user's units; the
   local situational picture of the user's own area is rendered into the page by the server. */
"use strict";

(function () {
  const { t, el, api } = HL;
  const lang = HL.i18n.lang === "en" ? "en" : "sv";
  const list = document.getElementById("portal-referrals");
  const empty = document.getElementById("portal-empty");
  const units = document.getElementById("portal-units");
  const notice = document.getElementById("portal-notice");
  const FOLLOW_UP = ["contact_made", "closed", "not_ours"];
  let noticeTimer = null;
  let shownKey = null;

  function say(text) {
    notice.textContent = text;
    clearTimeout(noticeTimer);
    noticeTimer = setTimeout(function () { notice.textContent = ""; }, 8000);
  }

  const errorText = HL.errorText;
  const stamp = HL.formatStamp;

  async function report(r, path, body, problem) {
    const res = await api("POST", "/console/portal/api/referrals/" + r.id + path, body);
    if (res.status !== 200) {
      problem.textContent = errorText(res);
      problem.hidden = false;
      return;
    }
    say(t("ho_rs_" + res.data.referral.status));
    shownKey = null;
    refresh();
  }

  function item(r) {
    const p = r.package || {};
    const facts = [
      [t("ho_reference"), String(p.reference || r.id).slice(0, 8)],
      [t("ho_sent_at"), stamp(r.sent_at)],
      [t("ho_topic"), p.topic_label ? p.topic_label[lang] : p.topic],
      [t("ho_f_municipality"), p.municipality ? p.municipality.name + " (" + p.municipality.code + ")" : "–"],
      [t("ho_contact_type"), p.contact_type ? t("ho_ct_" + p.contact_type) : "–"],
      [t("ho_urgency"), p.urgency ? t("ho_urg_" + p.urgency) : "–"],
      [t("ho_language"), p.language || "–"],
      [t("ho_f_summary"), p.summary || ""],
      [t("ho_f_contact"), r.contact_details || t("ho_contact_none")],
      [t("ho_acknowledged_at"), r.acknowledged_at ? stamp(r.acknowledged_at) : t("ho_not_acknowledged")],
    ];
    if (r.follow_up_note) facts.push([t("ho_f_note"), r.follow_up_note]);
    const dl = el("dl", { className: "facts" }, facts.flatMap(function (f) {
      return [el("dt", null, f[0]), el("dd", { className: "ho-f" }, f[1])];
    }));
    const problem = el("p", { className: "problem", hidden: true, attrs: { role: "alert" } });
    const controls = [];
    if (r.status === "sent") {
      const ack = el("button", { type: "button", className: "ho-acknowledge primary" }, t("ho_acknowledge"));
      ack.addEventListener("click", function () { report(r, "/acknowledge", undefined, problem); });
      controls.push(ack);
    }
    const next = FOLLOW_UP.filter(function (s) {
      if (r.status === "sent") return true;
      if (r.status === "received") return true;
      if (r.status === "contact_made") return s === "closed";
      return false;
    });
    if (next.length) {
      const sel = el("select", { className: "ho-follow-up", attrs: { "aria-label": t("ho_follow_up") } },
        next.map(function (s) { return el("option", { value: s }, t("ho_rs_" + s)); }));
      const note = el("input", { className: "ho-note", maxLength: 2000, placeholder: t("ho_note"), attrs: { "aria-label": t("ho_note") } });
      const send = el("button", { type: "button", className: "ho-report" }, t("ho_report"));
      send.addEventListener("click", function () { report(r, "/status", { status: sel.value, note: note.value }, problem); });
      controls.push(sel, note, send);
    }
    return el("li", { className: "ho-portal-referral" + (p.urgency === "urgent" ? " critical" : ""), dataset: { referralId: r.id, status: r.status } }, [
      el("h3", null, [
        el("span", { className: "badge ho-referral-status" + (r.status === "sent" ? " prio-high" : "") }, t("ho_rs_" + r.status)),
        el("span", null, " " + (p.topic_label ? p.topic_label[lang] : "")),
      ]),
      dl,
      problem,
      el("div", { className: "row" }, controls),
    ]);
  }

  async function refresh() {
    const res = await api("GET", "/console/portal/api/referrals");
    if (res.status !== 200) return;
    const refs = res.data.referrals;
    const key = refs.map(function (r) { return r.id + r.status; }).join();
    if (key === shownKey) return; // unchanged: keep what the user is typing
    shownKey = key;
    list.replaceChildren.apply(list, refs.map(item));
    empty.hidden = refs.length > 0;
  }

  async function start() {
    const me = await api("GET", "/console/portal/api/me");
    if (me.status === 200) {
      units.textContent = me.data.units.map(function (u) {
        const name = u.name ? u.name[lang] : u.id;
        return u.active === false ? name + " (" + t("dir_inactive") + ")" : name;
      }).join(", ") || "–";
    }
    await refresh();
  }

  /* The situational picture is rendered by the server for the user's own area; here only the period
     form keeps "to" on or after "from". */
  const period = document.getElementById("situation-period");
  if (period) {
    const from = period.elements.namedItem("from");
    const to = period.elements.namedItem("to");
    const sync = function () { to.min = from.value; from.max = to.value; };
    from.addEventListener("change", sync);
    to.addEventListener("change", sync);
    sync();
  }

  document.getElementById("portal-refresh").addEventListener("click", function () { shownKey = null; refresh(); });
  setInterval(refresh, 30000);
  start();
})();
