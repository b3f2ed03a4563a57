/* Handoffs in each conversation panel: referrals (proposals, consent, status, time to acknowledgement)
   and crime information to the Police or the Security Service (four eyes; passed by phone when the
   recipient takes nothing electronic).  No innerHTML anywhere. */
"use strict";

/* Crime information to pass by phone: the numbers to call, the text to read out, and the form that
   records the call.  Used here and on the supervisor page (HLPhone.box). */
const HLPhone = (function () {
  const { t, el, api } = HL;
  const lang = HL.i18n.lang === "en" ? "en" : "sv";
  let uid = 0;

  function errorText(res) {
    return HL.errorText(res);
  }

  function labelled(text, control) {
    const id = "ho-phone-" + (++uid);
    control.id = id;
    return el("div", { className: "ho-field" }, [el("label", { htmlFor: id }, text), control]);
  }

  /* d: a disclosure awaiting delivery by phone; done(disclosure) after the call is recorded. */
  function box(d, done) {
    const manual = d.manual || {};
    const numbers = manual.numbers || [];
    const why = el("p", { className: "ho-manual-why" }, manual.reason === "delivery_failed" ? t("ho_manual_failed") : t("ho_manual_no_method"));
    const calls = el("ul", { className: "ho-call-numbers" }, numbers.map(function (n) {
      return el("li", { dataset: { number: n.number } }, [
        el("a", { href: "tel:" + n.number.replace(/[^0-9+]/g, ""), className: "ho-call" }, t("ho_call") + " " + n.number),
        el("span", null, " – " + (n.label ? n.label[lang] : "")),
      ]);
    }));
    const readout = el("pre", { className: "ho-readout mono", hidden: true, attrs: { "aria-label": t("ho_readout") } });
    readout.style.whiteSpace = "pre-wrap"; // long lines wrap (CSSOM, allowed by the CSP)
    const show = el("button", { type: "button", className: "ho-show-readout" }, t("ho_show_readout"));
    const problem = el("p", { className: "ho-error problem", hidden: true, attrs: { role: "alert" } });
    function fail(res) { problem.textContent = errorText(res); problem.hidden = false; }
    show.addEventListener("click", async function () {
      if (!readout.hidden) { readout.hidden = true; return; }
      show.disabled = true;
      const res = await api("GET", HL.base + "/disclosures/" + d.id + "/readout");
      show.disabled = false;
      if (res.status !== 200) { fail(res); return; }
      readout.textContent = res.data.readout.text;
      readout.hidden = false;
    });
    const number = el("input", { className: "ho-phoned-number", maxLength: 40, value: numbers.length ? numbers[0].number : "", attrs: { inputmode: "tel", autocomplete: "off" } });
    const reference = el("input", { className: "ho-police-reference", maxLength: 100, attrs: { autocomplete: "off" } });
    const calledAt = el("input", { className: "ho-called-at", type: "datetime-local" });
    const note = el("input", { className: "ho-phone-note", maxLength: 2000, attrs: { autocomplete: "off" } });
    const record = el("button", { type: "button", className: "ho-record-phone primary" }, t("ho_record_phone"));
    record.addEventListener("click", async function () {
      problem.hidden = true;
      if (!number.value.trim()) { problem.textContent = t("error_number_required"); problem.hidden = false; number.focus(); return; }
      let when = "";
      if (calledAt.value) {
        const parsed = new Date(calledAt.value);
        if (isNaN(parsed.getTime())) { problem.textContent = t("error_invalid_called_at"); problem.hidden = false; calledAt.focus(); return; }
        when = parsed.toISOString();
      }
      record.disabled = true;
      const res = await api("POST", HL.base + "/disclosures/" + d.id + "/phoned", {
        number: number.value, police_reference: reference.value, called_at: when, note: note.value,
      });
      record.disabled = false;
      if (res.status !== 200) { fail(res); return; }
      done(res.data.disclosure);
    });
    return el("div", { className: "ho-phone", dataset: { disclosureId: d.id } }, [
      why,
      calls,
      show,
      readout,
      el("div", { className: "actions" }, [
        labelled(t("ho_phoned_number"), number),
        labelled(t("ho_police_reference"), reference),
        labelled(t("ho_called_at"), calledAt),
        labelled(t("ho_phone_note"), note),
        record,
      ]),
      problem,
    ]);
  }

  /* One line on a disclosure passed by phone: when, which number, the police's reference. */
  function phonedLine(d) {
    if (!d.phoned_at) return null;
    const parts = [t("ho_phoned") + " " + HL.formatStamp(d.phoned_at), d.phoned_number];
    if (d.police_reference) parts.push(t("ho_police_reference") + ": " + d.police_reference);
    return el("p", { className: "ho-phoned" }, parts.join(" · "));
  }

  return { box, phonedLine };
})();

(function () {
  const { t, el, api } = HL;
  const lang = HL.i18n.lang === "en" ? "en" : "sv";
  let optionsPromise = null;
  let uid = 0;

  function options() {
    if (!optionsPromise) {
      optionsPromise = api("GET", HL.base + "/handoff/options").then(function (res) {
        if (res.status !== 200) { optionsPromise = null; return null; }
        return res.data;
      });
    }
    return optionsPromise;
  }

  function errorText(res) {
    // Here a plain string named like the code (e.g. "already_claimed") serves too.
    const code = (res.data && res.data.error) || "error";
    if (t("error_" + code) === "error_" + code && t(code) !== code) return t(code);
    return HL.errorText(res);
  }

  function field(labelText, control) {
    const id = "ho-" + (++uid);
    control.id = id;
    return el("div", { className: "ho-field" }, [el("label", { htmlFor: id }, labelText), control]);
  }

  function select(className, items) {
    return el("select", { className: className }, items.map(function (item) {
      return el("option", { value: item[0] }, item[1]);
    }));
  }

  function when(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    if (isNaN(d.getTime())) return "";
    return d.toLocaleString(lang === "sv" ? "sv-SE" : "en-GB", { dateStyle: "short", timeStyle: "short" });
  }

  function mount(id, panel) {
    const slot = panel.querySelector(".handoff-slot");
    if (!slot || slot.dataset.mounted) return;
    slot.dataset.mounted = "1";
    const base = HL.base + "/conversations/" + id;
    const status = el("p", { className: "ho-status notice", attrs: { role: "status", "aria-live": "polite" } });
    let statusTimer = null;
    function tell(text, problem) {
      status.textContent = text;
      status.className = "ho-status " + (problem ? "problem" : "notice");
      clearTimeout(statusTimer);
      statusTimer = setTimeout(function () { status.textContent = ""; status.className = "ho-status notice"; }, 8000);
    }

    // ---------------------------------------------------------------- referral: proposals
    const municipality = el("input", { className: "ho-municipality", maxLength: 8, placeholder: t("ho_municipality_hint"), attrs: { inputmode: "numeric", autocomplete: "off" } });
    const topic = select("ho-topic", []);
    const contactType = select("ho-contact-type", []);
    const proposeButton = el("button", { type: "button", className: "ho-propose" }, t("ho_propose"));
    const municipalityInfo = el("p", { className: "ho-municipality-info hint" });
    const proposals = el("ol", { className: "ho-proposals" });
    const summary = el("textarea", { className: "ho-summary", rows: 3, maxLength: 1000 });
    const urgency = select("ho-urgency", [["normal", t("ho_urg_normal")], ["urgent", t("ho_urg_urgent")]]);
    const contact = el("input", { className: "ho-contact", maxLength: 200, autocomplete: "off" });
    const createButton = el("button", { type: "button", className: "ho-create-referral primary" }, t("ho_create_referral"));
    const createBox = el("div", { className: "ho-create actions", hidden: true }, [
      field(t("ho_summary"), summary),
      field(t("ho_urgency"), urgency),
      field(t("ho_contact_details"), contact),
      createButton,
    ]);
    const referralList = el("ul", { className: "ho-referral-list" });
    const refreshButton = el("button", { type: "button", className: "ho-refresh" }, t("ho_refresh"));
    let lastQuery = null;

    const referSection = el("section", { className: "ho-refer", attrs: { "aria-label": t("ho_refer") } }, [
      el("h3", null, t("ho_refer")),
      el("div", { className: "actions" }, [
        field(t("ho_municipality"), municipality),
        field(t("ho_topic"), topic),
        field(t("ho_contact_type"), contactType),
        proposeButton,
      ]),
      municipalityInfo,
      proposals,
      createBox,
      el("h3", null, t("ho_referrals")),
      referralList,
      refreshButton,
    ]);

    options().then(function (opts) {
      if (!opts) return;
      topic.replaceChildren.apply(topic, opts.topics.map(function (k) { return el("option", { value: k }, t("ho_topic_" + k)); }));
      contactType.replaceChildren.apply(contactType, opts.contact_types.map(function (k) { return el("option", { value: k }, t("ho_ct_" + k)); }));
      contactType.value = "other";
      recipient.replaceChildren.apply(recipient, opts.disclosure_recipients.map(function (k) {
        return el("option", { value: k }, k === "polisen" ? t("ho_recipient_polisen") : k === "sakerhetspolisen" ? t("ho_recipient_sakerhetspolisen") : k);
      }));
      // No certainty is chosen for the counsellor: the first option asks for a choice.
      certainty.replaceChildren.apply(certainty, [el("option", { value: "" }, t("choose"))].concat(Object.entries(opts.certainties).map(function (e) {
        return el("option", { value: e[0] }, e[1][lang]);
      })));
      certainty.value = "";
      certainty.required = true;
      ground.replaceChildren.apply(ground, Object.entries(opts.legal_grounds).map(function (e) {
        return el("option", { value: e[0], dataset: { identity: e[1].requires_identity ? "1" : "" } }, e[1][lang]);
      }));
      groundChanged();
    });

    proposeButton.addEventListener("click", async function () {
      const q = new URLSearchParams({ topic: topic.value, contact_type: contactType.value });
      const code = municipality.value.trim();
      if (code) q.set("municipality", code);
      proposeButton.disabled = true;
      const res = await api("GET", HL.base + "/handoff/proposals?" + q.toString());
      proposeButton.disabled = false;
      if (res.status !== 200) { tell(errorText(res), true); return; }
      lastQuery = { topic: topic.value, contact_type: contactType.value, municipality_code: res.data.municipality ? res.data.municipality.code : "" };
      const m = res.data.municipality;
      municipalityInfo.textContent = m ? m.name + " (" + m.code + "), " + m.county : code ? t("ho_unknown_municipality") + ": " + code : "";
      const name = "ho-recipient-" + id;
      const items = res.data.proposals.map(function (p, i) {
        const radio = el("input", { type: "radio", name: name, value: p.recipient_id, className: "ho-pick" });
        if (i === 0) radio.checked = true;
        const label = el("label", { className: "ho-proposal-name" }, [radio, el("span", null, " " + p.name[lang])]);
        const facts = [p.open_now ? t("ho_open_now") : t("ho_closed_now")];
        if (p.phone) facts.push(p.phone);
        return el("li", { className: "ho-proposal", dataset: { recipientId: p.recipient_id, tier: p.tier } }, [
          label,
          el("p", { className: "ho-reason" }, p.reason[lang]),
          el("p", { className: "hint" }, facts.join(" · ")),
        ]);
      });
      proposals.replaceChildren.apply(proposals, items.length ? items : [el("li", { className: "empty" }, t("ho_no_proposals"))]);
      createBox.hidden = items.length === 0;
    });

    createButton.addEventListener("click", async function () {
      const picked = proposals.querySelector("input.ho-pick:checked");
      if (!picked || !lastQuery) { tell(t("error_unknown_recipient"), true); return; }
      if (!summary.value.trim()) { tell(t("error_summary_required"), true); summary.focus(); return; }
      const body = {
        recipient_id: picked.value,
        topic: lastQuery.topic,
        contact_type: lastQuery.contact_type,
        municipality_code: lastQuery.municipality_code,
        summary: summary.value,
        urgency: urgency.value,
      };
      if (contact.value.trim()) body.contact_details = contact.value.trim();
      createButton.disabled = true;
      const res = await HL.apiAction("POST", base + "/referrals", body);
      createButton.disabled = false;
      if (res.status !== 201) { tell(errorText(res), true); return; }
      summary.value = "";
      contact.value = "";
      proposals.replaceChildren();
      createBox.hidden = true;
      tell(t("ho_created_ok"));
      refresh();
    });

    // ---------------------------------------------------------------- referral: list and consent
    function referralItem(r) {
      const name = r.package && r.package.recipient ? r.package.recipient.name[lang] : r.recipient_id;
      const facts = [el("span", { className: "badge ho-referral-status" }, t("ho_rs_" + r.status)), el("span", null, " " + when(r.created_at))];
      const rows = [el("strong", { className: "ho-referral-recipient" }, name), el("p", { className: "ho-facts" }, facts)];
      if (r.package && r.package.summary) rows.push(el("p", { className: "ho-summary-text" }, r.package.summary));
      if (r.sent_at) {
        const ack = r.time_to_ack_seconds !== null && r.time_to_ack_seconds !== undefined
          ? t("ho_time_to_ack") + ": " + HL.formatWait(r.time_to_ack_seconds)
          : t("ho_not_acknowledged") + " (" + HL.formatWait((Date.now() - new Date(r.sent_at).getTime()) / 1000) + ")";
        rows.push(el("p", { className: "ho-ack" }, ack));
      }
      if (r.status === "refused") rows.push(el("p", { className: "ho-nothing-sent" }, t("ho_nothing_sent")));
      if (r.consent_reason) rows.push(el("p", { className: "ho-consent-reason" }, t("ho_consent_reason") + ": " + r.consent_reason));
      if (r.status === "consent_requested") rows.push(el("p", { className: "ho-waiting" }, t("ho_waiting_answer")));
      if (r.status === "proposed" || r.status === "consent_requested") {
        const buttons = [];
        if (r.status === "proposed" && !panel.querySelector(".phone-info")) { // a call: asked on the phone
          const ask = el("button", { type: "button", className: "ho-ask-consent primary" }, t("ho_ask_consent"));
          ask.addEventListener("click", async function () {
            ask.disabled = true;
            const res = await api("POST", HL.base + "/referrals/" + r.id + "/consent-request");
            ask.disabled = false;
            if (res.status !== 200) tell(errorText(res), true);
            refresh();
          });
          buttons.push(ask);
        } else if (r.status === "proposed" && HL.phone) buttons.push(...HL.phone.consentButtons(r.id, refresh, tell));
        const notAsked = el("button", { type: "button", className: "ho-not-asked" }, t("ho_not_asked"));
        const reason = el("textarea", { className: "ho-not-asked-reason", rows: 2, maxLength: 2000, required: true });
        const save = el("button", { type: "button", className: "ho-not-asked-save" }, t("ho_save"));
        const reasonBox = el("div", { className: "ho-not-asked-box actions", hidden: true }, [field(t("ho_not_asked_reason"), reason), save]);
        notAsked.addEventListener("click", function () { reasonBox.hidden = !reasonBox.hidden; if (!reasonBox.hidden) reason.focus(); });
        save.addEventListener("click", async function () {
          if (!reason.value.trim()) { tell(t("error_reason_required"), true); reason.focus(); return; }
          save.disabled = true;
          const res = await api("POST", HL.base + "/referrals/" + r.id + "/consent-not-asked", { reason: reason.value });
          save.disabled = false;
          if (res.status !== 200) { tell(errorText(res), true); return; }
          refresh();
        });
        buttons.push(notAsked);
        rows.push(el("div", { className: "row" }, buttons), reasonBox);
      }
      return el("li", { className: "ho-referral", dataset: { referralId: r.id, status: r.status } }, rows);
    }

    // ---------------------------------------------------------------- crime information
    const what = el("textarea", { className: "ho-what", rows: 3, maxLength: 4000 });
    const whenInput = el("input", { className: "ho-when", maxLength: 200 });
    const whereInput = el("input", { className: "ho-where", maxLength: 200 });
    const certainty = select("ho-certainty", []);
    const sources = el("select", { className: "ho-sources", multiple: true, size: 4 });
    const recipient = select("ho-recipient", []);
    const ground = select("ho-legal-ground", []);
    const identityNote = el("p", { className: "ho-identity-note problem", hidden: true }, t("ho_identity_note"));
    const danger = el("input", { type: "checkbox", className: "ho-danger" });
    const dangerId = "ho-" + (++uid);
    danger.id = dangerId;
    const createDisclosure = el("button", { type: "button", className: "ho-create-disclosure primary" }, t("ho_create_disclosure"));
    const disclosureList = el("ul", { className: "ho-disclosure-list" });
    const form = el("div", { className: "ho-disclosure-form actions" }, [
      field(t("ho_what"), what),
      field(t("ho_when"), whenInput),
      field(t("ho_where"), whereInput),
      field(t("ho_certainty"), certainty),
      field(t("ho_sources"), sources),
      el("p", { className: "hint" }, t("ho_sources_hint")),
      field(t("ho_recipient"), recipient),
      field(t("ho_legal_ground"), ground),
      identityNote,
      el("div", { className: "row" }, [danger, el("label", { htmlFor: dangerId }, t("ho_immediate_danger"))]),
      createDisclosure,
    ]);
    // The crime-information form is the context pane's "Brottsuppgift" tab (context_tabs.js).
    const crimeSection = el("section", { className: "ho-crime", attrs: { "aria-label": t("ho_crime") } }, [
      el("h3", null, t("ho_crime")), form, el("h3", null, t("ho_disclosures")), disclosureList,
    ]);
    const crimeSlot = panel.querySelector(".crime-slot");
    function crimeShown() { return !!crimeSlot && !!crimeSlot.offsetParent; }

    function groundChanged() {
      const opt = ground.selectedOptions[0];
      identityNote.hidden = !(opt && opt.dataset.identity);
    }
    ground.addEventListener("change", groundChanged);

    function fillSources() {
      const chosen = new Set(Array.from(sources.selectedOptions).map(function (o) { return o.value; }));
      const items = Array.from(panel.querySelectorAll("ol.log li.msg-person[data-seq]")).map(function (li) {
        const text = (li.querySelector(".text") || li).textContent;
        const opt = el("option", { value: li.dataset.seq }, "[" + li.dataset.seq + "] " + (text.length > 60 ? text.slice(0, 60) + "…" : text));
        opt.selected = chosen.has(li.dataset.seq);
        return opt;
      });
      sources.replaceChildren.apply(sources, items);
    }
    panel.addEventListener("hl:context", function (ev) { if (ev.detail.key === "crime") fillSources(); });

    createDisclosure.addEventListener("click", async function () {
      const seqs = Array.from(sources.selectedOptions).map(function (o) { return Number(o.value); });
      if (!what.value.trim()) { tell(t("error_what_required"), true); what.focus(); return; }
      // A call (phone.js marks its panel) has no messages: the call itself is the source.
      if (!seqs.length && !panel.querySelector(".phone-info")) { tell(t("error_source_required"), true); sources.focus(); return; }
      if (!certainty.value) { tell(t("error_unknown_certainty"), true); certainty.focus(); return; }
      createDisclosure.disabled = true;
      const res = await HL.apiAction("POST", base + "/disclosures", {
        recipient_id: recipient.value,
        what: what.value,
        when: whenInput.value,
        where: whereInput.value,
        certainty: certainty.value,
        source_seqs: seqs,
        legal_ground: ground.value,
        immediate_danger: danger.checked,
      });
      createDisclosure.disabled = false;
      if (res.status !== 201) { tell(errorText(res), true); return; }
      what.value = ""; whenInput.value = ""; whereInput.value = ""; certainty.value = ""; danger.checked = false;
      Array.from(sources.options).forEach(function (o) { o.selected = false; });
      tell(t("ho_created_ok"));
      refresh();
    });

    function disclosureItem(d) {
      const p = d.package || {};
      const name = p.recipient ? p.recipient.name[lang] : d.recipient_id;
      const rows = [
        el("strong", null, name),
        el("p", { className: "ho-facts" }, [el("span", { className: "badge ho-disclosure-status" }, t("ho_ds_" + d.status)), el("span", null, " " + when(d.created_at))]),
        el("p", { className: "ho-what-text" }, p.what || ""),
      ];
      if (d.review_required) {
        rows.push(el("p", { className: "ho-review-state" }, d.reviewed_at ? t("ho_reviewed") + " " + when(d.reviewed_at) : t("ho_for_review")));
      }
      if (d.rejection_reason) rows.push(el("p", null, t("ho_reject_reason") + ": " + d.rejection_reason));
      rows.push(HLPhone.phonedLine(d));
      if (d.status === "awaiting_manual" || d.status === "delivery_failed") {
        rows.push(HLPhone.box(d, function () { tell(t("ho_phoned_ok")); refresh(); }));
      }
      return el("li", { className: "ho-disclosure", dataset: { disclosureId: d.id, status: d.status, review: d.review_required && !d.reviewed_at ? "due" : "" } }, rows);
    }

    // ---------------------------------------------------------------- refresh
    let busy = false;
    let again = false;
    let disclosureKey = null;
    async function refresh() {
      if (!panel.isConnected) return;
      if (busy) { again = true; return; }
      busy = true;
      const [refs, discs] = await Promise.all([api("GET", base + "/referrals"), api("GET", base + "/disclosures")]);
      busy = false;
      draw(refs, discs);
      if (again) { again = false; refresh(); }
    }
    function draw(refs, discs) {
      if (refs.status === 200) {
        const items = refs.data.referrals.slice().reverse().map(referralItem);
        referralList.replaceChildren.apply(referralList, items.length ? items : [el("li", { className: "empty" }, t("ho_no_referrals"))]);
        referSection.dataset.waiting = refs.data.referrals.some(function (r) {
          return r.status === "consent_requested" || r.status === "consented" || (r.sent_at && !r.acknowledged_at);
        }) ? "1" : "";
      }
      if (discs.status === 200) {
        // Keep what someone is typing into a phone form: redraw only when something changed.
        const key = discs.data.disclosures.map(function (d) { return d.id + d.status + (d.reviewed_at || ""); }).join();
        if (key !== disclosureKey) {
          disclosureKey = key;
          disclosureList.replaceChildren.apply(disclosureList, discs.data.disclosures.slice().reverse().map(disclosureItem));
          const byPhone = discs.data.disclosures.some(function (d) { return d.status === "awaiting_manual" || d.status === "delivery_failed"; });
          if (byPhone && window.HLContext) HLContext.show(panel, "crime"); // someone has to phone it in: show it
        }
        crimeSection.dataset.waiting = discs.data.disclosures.some(function (d) {
          return d.status === "pending_approval" || d.status === "approved" || (d.review_required && !d.reviewed_at);
        }) ? "1" : "";
      }
    }
    refreshButton.addEventListener("click", refresh);

    // Read again only when this panel's own data may have changed: the live feed names a referral
    // or disclosure of this conversation, the person answers while one waits on them (a consent
    // question), or the transcript was read again (a reconnect: events may have been missed).
    // Not on every message: under load that made two reads per message (issue #18).
    let soon = null;
    function later() {
      clearTimeout(soon);
      soon = setTimeout(refresh, 300);
    }
    // Listeners of the page's events for as long as the panel is there.
    function on(type, handle) {
      document.addEventListener(type, function listener(ev) {
        if (!panel.isConnected) { document.removeEventListener(type, listener); return; }
        handle(ev);
      });
    }
    on("hl:live", function (ev) {
      const msg = ev.detail;
      if (msg.type !== "conversation" || msg.conversation_id !== id) return;
      if (msg.kind === "referral" || msg.kind === "disclosure") later();
    });
    on("hl:message", function (ev) {
      if (ev.detail.id !== id) return;
      if (ev.detail.message.kind === "person" && (referSection.dataset.waiting || crimeSection.dataset.waiting)) later();
      if (crimeShown()) fillSources(); // the sources to choose from are the person's messages
    });
    // The panel's opening: drawn from what the transcript's answer brought (handoff.console.panels:
    // one request per claim, not three), or read here where it brought none (training).
    let transcripts = 0;
    on("hl:transcript", function (ev) {
      if (ev.detail.id !== id) return;
      if (++transcripts > 1) { later(); return; }
      const parts = ev.detail.data.panels || {};
      if (parts.referrals && parts.disclosures) {
        draw({ status: 200, data: { referrals: parts.referrals } }, { status: 200, data: { disclosures: parts.disclosures } });
      } else refresh();
    });
    // The recipient's acknowledgement comes without a message: look again while something is pending.
    const timer = setInterval(function () {
      if (!panel.isConnected) { clearInterval(timer); return; }
      if (referSection.dataset.waiting || crimeSection.dataset.waiting) refresh();
    }, 10000);

    // The status line sits above the context tabs (seen whichever tab is shown); the referral and
    // the crime information are tabs of their own.
    const statusSlot = panel.querySelector(".ho-status-slot");
    if (statusSlot) statusSlot.replaceWith(status);
    else slot.before(status);
    slot.replaceChildren(referSection);
    if (crimeSlot) crimeSlot.replaceChildren(crimeSection);
    else slot.append(crimeSection);
  }

  document.addEventListener("hl:panel", function (ev) {
    if (ev.detail && ev.detail.id && ev.detail.panel) mount(ev.detail.id, ev.detail.panel);
  });
})();
