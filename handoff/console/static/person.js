/* The Person panel of each conversation (earlier conversations of a returning person: dates,
   documentation, referrals; never transcripts), the "forget me" action, and the care offer after
   a critical conversation closes.  No innerHTML. */
"use strict";

(function () {
  const { t, el, api } = HL;

  function fmt(text, values) {
    return text.replace(/\{(\w+)\}/g, function (_, k) { return values[k] !== undefined ? String(values[k]) : ""; });
  }

  function mount(id, panel) {
    const slot = panel.querySelector(".person-slot");
    if (!slot) return;
    const status = el("p", { className: "person-status", attrs: { role: "status" } });
    const list = el("ul", { className: "person-earlier" });
    const detail = el("div", { className: "person-detail", attrs: { "aria-live": "polite" } });
    const forget = el("button", { type: "button", className: "person-forget" }, t("person_forget"));
    // The context pane's "Person" tab (context_tabs.js) is its heading.
    const section = el("div", { className: "person-panel" }, [status, list, detail, forget]);
    slot.replaceChildren(section);
    const base = "/console/api/conversations/" + id + "/person";

    async function load() {
      const res = await api("GET", base);
      if (res.status === 200) draw(res.data);
    }
    function draw(data) {
      section.dataset.unlinked = data.unlinked ? "1" : "";
      forget.hidden = data.unlinked;
      if (data.unlinked) status.textContent = t("person_unlinked");
      else if (!data.earlier.length) status.textContent = t("person_none");
      else status.textContent = fmt(t("person_recognised"), { n: data.earlier.length });
      list.replaceChildren.apply(list, data.earlier.map(function (e) {
        const open = el("button", { type: "button", className: "person-open" }, t("person_open"));
        open.addEventListener("click", function () { show(e.conversation_id); });
        return el("li", { className: "person-entry", dataset: { conversationId: e.conversation_id } }, [
          el("span", null, t("person_started") + " " + HL.formatStamp(e.created_at) + " · " + HL.intentLabel(e.intent) + " · " + HL.channelLabel(e.channel)),
          el("span", null, " · " + t("person_referrals") + ": " + e.referrals + " "),
          open,
        ]);
      }));
    }

    async function show(earlierId) {
      const res = await api("GET", base + "/" + earlierId);
      if (res.status !== 200) { detail.replaceChildren(el("p", { className: "problem" }, HL.errorText(res))); return; }
      const d = res.data;
      const parts = [
        el("h4", null, t("person_started") + " " + HL.formatStamp(d.created_at)),
        el("p", null, t("person_closed") + " " + HL.formatStamp(d.closed_at)),
      ];
      if (d.documentation) {
        parts.push(el("h4", null, t("person_summary")), el("p", { className: "person-summary" }, d.documentation.summary || "–"));
      } else {
        parts.push(el("p", null, t("person_no_record")));
      }
      parts.push(el("h4", null, t("person_referrals")));
      if (d.referrals.length) {
        parts.push(el("ul", { className: "person-referrals" }, d.referrals.map(function (r) {
          return el("li", null, r.recipient_id + " · " + t("ho_rs_" + r.status) + " · " + HL.formatStamp(r.created_at));
        })));
      } else {
        parts.push(el("p", null, t("person_no_referrals")));
      }
      detail.replaceChildren.apply(detail, parts);
    }

    forget.addEventListener("click", async function () {
      // Asked in a modal dialog (Escape or "Avbryt" keeps the link between the conversations).
      if (!(await confirmForget())) { forget.focus(); return; }
      const res = await api("POST", "/console/api/conversations/" + id + "/forget");
      if (res.status === 200) { detail.replaceChildren(); status.textContent = t("person_forgotten"); load(); }
      else status.textContent = HL.errorText(res);
    });
    // First drawn from what the transcript's answer brought (handoff.console.panels), else read.
    document.addEventListener("hl:transcript", function opened(ev) {
      if (panel.isConnected && ev.detail.id !== id) return;
      document.removeEventListener("hl:transcript", opened);
      if (!panel.isConnected) return;
      const parts = ev.detail.data.panels || {};
      if (parts.person) draw(parts.person);
      else load();
    });
  }

  const forgetDialog = document.getElementById("forget-dialog");
  function confirmForget() {
    return new Promise(function (resolve) {
      forgetDialog.returnValue = "cancel";
      forgetDialog.addEventListener("close", function () { resolve(forgetDialog.returnValue === "forget"); }, { once: true });
      forgetDialog.showModal();
    });
  }

  document.addEventListener("hl:panel", function (ev) { mount(ev.detail.id, ev.detail.panel); });

  // ---------------------------------------------------------------- care after a critical conversation
  const care = document.getElementById("care-dialog");
  document.addEventListener("hl:closed", function (ev) {
    if (!care || ev.detail.priority !== "critical") return;
    const note = care.querySelector("#care-note");
    const said = care.querySelector(".care-status");
    note.value = "";
    said.textContent = "";
    care.dataset.conversationId = ev.detail.id;
    care.showModal();
  });
  if (care) {
    care.querySelector("#care-send").addEventListener("click", async function () {
      const note = care.querySelector("#care-note");
      const said = care.querySelector(".care-status");
      if (!note.value.trim()) { said.textContent = t("error_note_required"); note.focus(); return; }
      const res = await HL.apiAction("POST", "/console/api/conversations/" + care.dataset.conversationId + "/debrief", { note: note.value });
      said.textContent = res.status === 201 ? t("care_sent") : HL.errorText(res);
      if (res.status === 201) note.value = "";
    });
    care.querySelector("#care-break").addEventListener("click", async function () {
      // Where the console has a counsellor status (POST /console/api/status), the break is set
      // there; without one (404) the break is offered only.
      const res = await api("POST", "/console/api/status", { status: "break" });
      care.querySelector(".care-status").textContent = res.status === 200 ? t("care_break_set") : t("care_break_offer");
    });
  }
})();
