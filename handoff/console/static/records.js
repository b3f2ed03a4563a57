/* Documentation at close, the list of conversations still to document, and (for supervisors, on
   the supervision page) erasure on request.  Text is only ever set with textContent. */
"use strict";

(function () {
  const { el, api } = HL;
  const lang = HL.i18n.lang === "en" ? "en" : "sv";

  const WORDS = {
    sv: {
      pending_title: "Att dokumentera",
      pending_empty: "Inga avslutade samtal väntar på dokumentation.",
      pending_more: "Fler samtal väntar än som visas här.",
      document: "Dokumentera",
      form_title: "Dokumentation av samtal",
      closed_at: "Avslutat",
      mandatory: "obligatoriskt",
      mandatory_note: "Fält markerade med * måste fyllas i.",
      choose: "Välj …",
      yes: "Ja",
      no: "Nej",
      none: "Ingen angiven",
      municipality_code: "Kommunkod (fyra siffror)",
      recipients_hint: "Mottagarnas id, åtskilda med komma",
      chars: "tecken",
      save: "Spara dokumentation",
      later: "Senare",
      saving: "Sparar …",
      documented: "Dokumenterat",
      redacted: "Uppgifter som kunde identifiera någon togs bort ur texten:",
      invalid: "Dokumentationen sparades inte. Rätta fälten som är markerade.",
      not_closed: "Samtalet är inte avslutat.",
      not_your_conversation: "Du kan inte dokumentera ett samtal som inte var ditt.",
      not_found: "Samtalet finns inte.",
      load_failed: "Formuläret kunde inte hämtas.",
      error: "Något gick fel. Försök igen.",
      erase_title: "Radera samtal på begäran",
      erase_intro: "Raderar samtalsloggen och kontaktuppgifterna och tömmer dokumentationens fritext. Samtalet måste vara avslutat. Det går inte att ångra.",
      erase_id: "Samtalets id (32 tecken)",
      erase_reason: "Skäl",
      r_person_request: "Personen har begärt det",
      r_mistake: "Misstag",
      r_other: "Annat",
      erase_next: "Radera …",
      erase_confirm: "Radera samtal {id} för gott?",
      erase_yes: "Ja, radera",
      cancel: "Avbryt",
      bad_id: "Ange samtalets id: 32 tecken 0–9 och a–f.",
      erased: "Samtalet är raderat.",
      erased_messages: "Meddelanden raderade",
      erased_contact: "Kontaktuppgifter raderade",
      erased_summary: "Dokumentationens fritext tömd",
      forbidden: "Du har inte behörighet att radera samtal.",
      erase_not_closed: "Samtalet är inte avslutat. Avsluta det först.",
    },
    en: {
      pending_title: "To document",
      pending_empty: "No closed conversation is waiting to be documented.",
      pending_more: "More conversations are waiting than are shown here.",
      document: "Document",
      form_title: "Documentation of conversation",
      closed_at: "Closed",
      mandatory: "required",
      mandatory_note: "Fields marked * are required.",
      choose: "Choose …",
      yes: "Yes",
      no: "No",
      none: "None given",
      municipality_code: "Municipality code (four digits)",
      recipients_hint: "Recipient ids, separated by commas",
      chars: "characters",
      save: "Save documentation",
      later: "Later",
      saving: "Saving …",
      documented: "Documented",
      redacted: "Details that could identify someone were removed from the text:",
      invalid: "The documentation was not saved. Correct the marked fields.",
      not_closed: "The conversation is not closed.",
      not_your_conversation: "You cannot document a conversation that was not yours.",
      not_found: "The conversation does not exist.",
      load_failed: "The form could not be loaded.",
      error: "Something went wrong. Try again.",
      erase_title: "Erase a conversation on request",
      erase_intro: "Deletes the transcript and the contact details and empties the documentation's free text. The conversation must be closed. This cannot be undone.",
      erase_id: "Conversation id (32 characters)",
      erase_reason: "Reason",
      r_person_request: "The person asked for it",
      r_mistake: "Mistake",
      r_other: "Other",
      erase_next: "Erase …",
      erase_confirm: "Erase conversation {id} for good?",
      erase_yes: "Yes, erase",
      cancel: "Cancel",
      bad_id: "Give the conversation id: 32 characters 0–9 and a–f.",
      erased: "The conversation is erased.",
      erased_messages: "Messages deleted",
      erased_contact: "Contact details deleted",
      erased_summary: "Documentation free text emptied",
      forbidden: "You are not allowed to erase conversations.",
      erase_not_closed: "The conversation is not closed. Close it first.",
    },
  };

  function w(key) {
    const table = WORDS[lang];
    return Object.prototype.hasOwnProperty.call(table, key) ? table[key] : key;
  }

  function label(obj) {
    if (!obj) return "";
    return obj[lang] || obj.sv || obj.en || "";
  }

  function formatClosed(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    if (isNaN(d.getTime())) return "";
    return d.toLocaleString(lang === "sv" ? "sv-SE" : "en-GB", { dateStyle: "short", timeStyle: "short" });
  }

  const ID_RE = /^[0-9a-f]{32}$/;

  /* A few layout rules set through the CSSOM (allowed by the CSP, unlike style attributes) so that
     this file stands alone; they could move to console.css. */
  function panel(node) {
    Object.assign(node.style, { background: "#fff", border: "1px solid #d5d9df", borderRadius: "6px", padding: ".75rem", margin: "1rem 0" });
    return node;
  }

  // ============================================================== documentation (console page)
  const area = document.getElementById("records-area");
  if (area) {
    const status = el("p", { id: "records-status", className: "notice", attrs: { role: "status" } });
    const formsBox = el("div", { id: "doc-forms" });
    const pendingTitle = el("h2", { id: "pending-title" }, [
      document.createTextNode(w("pending_title") + " "),
      el("span", { id: "pending-count", className: "count" }, "0"),
    ]);
    const pendingList = el("ul", { id: "pending-list", attrs: { "aria-labelledby": "pending-title" } });
    const pendingEmpty = el("p", { id: "pending-empty", className: "empty" }, w("pending_empty"));
    const pendingMore = el("p", { id: "pending-more", className: "empty", hidden: true }, w("pending_more"));
    const pendingBox = panel(el("div", { id: "pending-box" }, [pendingTitle, pendingList, pendingEmpty, pendingMore]));
    area.replaceChildren(status, formsBox, pendingBox);

    const forms = new Map(); // conversation id -> form element
    let statusTimer = null;

    function say(text) {
      status.textContent = text;
      clearTimeout(statusTimer);
      statusTimer = setTimeout(function () { status.textContent = ""; }, 8000);
    }

    // ---------------------------------------------------------------- pending list
    async function refreshPending() {
      const res = await api("GET", HL.base + "/documentation/pending");
      if (res.status !== 200) return;
      const items = (res.data.pending || []).map(function (p) {
        const open = el("button", { type: "button", className: "open-doc", dataset: { conversationId: p.id } }, w("document"));
        open.addEventListener("click", function () { openForm(p.id); });
        const text = [HL.intentLabel(p.intent), HL.channelLabel(p.channel), w("closed_at") + " " + formatClosed(p.closed_at), p.id.slice(0, 8)].join(" · ");
        return el("li", { className: "pending-item row", dataset: { conversationId: p.id } }, [el("span", null, text), open]);
      });
      pendingList.replaceChildren.apply(pendingList, items);
      pendingEmpty.hidden = items.length > 0;
      pendingMore.hidden = !res.data.more;
      document.getElementById("pending-count").textContent = String(items.length) + (res.data.more ? "+" : "");
    }

    // ---------------------------------------------------------------- the form
    function fieldId(convId, key) {
      return "doc-" + convId.slice(0, 12) + "-" + key;
    }

    /* One field: returns {node, read(), input (first focusable), error (p)} */
    function buildField(convId, spec, value) {
      const id = fieldId(convId, spec.key);
      const errorEl = el("p", { id: id + "-error", className: "field-error problem", hidden: true, attrs: { role: "alert" } });
      const labelText = label(spec.label);
      const marker = spec.mandatory
        ? el("span", { className: "mandatory", attrs: { title: w("mandatory"), "aria-hidden": "true" } }, " *")
        : null;
      const sr = spec.mandatory ? el("span", { className: "sr" }, " (" + w("mandatory") + ")") : null;
      const wrap = el("div", { className: "doc-field", dataset: { key: spec.key, type: spec.type } });
      wrap.style.margin = "0 0 .9rem";
      let read;
      let focusable;

      function describe(node) {
        node.setAttribute("aria-describedby", errorEl.id);
        // aria-required is not allowed on a group of check boxes (the legend says it is mandatory);
        // a yes/no question is a radio group, which may carry it.
        const group = node.tagName === "FIELDSET";
        if (group && spec.type === "bool") node.setAttribute("role", "radiogroup");
        if (spec.mandatory && (!group || spec.type === "bool")) node.setAttribute("aria-required", "true");
      }

      if (spec.type === "choice" || (spec.type === "municipality" && Array.isArray(spec.values) && spec.values.length)) {
        const select = el("select", { id: id, name: spec.key });
        select.appendChild(el("option", { value: "" }, spec.type === "municipality" ? w("none") : w("choose")));
        (spec.values || []).forEach(function (c) {
          let text = label(c.label);
          if (spec.type === "municipality" && c.county) text += " (" + c.county + ")";
          select.appendChild(el("option", { value: c.value }, text));
        });
        if (typeof value === "string") select.value = value;
        describe(select);
        wrap.append(el("div", null, [el("label", { htmlFor: id }, [document.createTextNode(labelText), marker, sr])]), el("div", null, [select]));
        read = function () { return select.value === "" ? null : select.value; };
        focusable = select;
      } else if (spec.type === "municipality") {
        const input = el("input", { id: id, name: spec.key, type: "text", inputMode: "numeric", maxLength: 4, attrs: { pattern: "[0-9]{4}", autocomplete: "off", placeholder: "0180" } });
        if (typeof value === "string") input.value = value;
        describe(input);
        wrap.append(el("div", null, [el("label", { htmlFor: id }, [document.createTextNode(labelText + " – " + w("municipality_code")), marker, sr])]), el("div", null, [input]));
        read = function () { return input.value.trim() || null; };
        focusable = input;
      } else if (spec.type === "multi_choice" || spec.type === "bool") {
        const fieldset = el("fieldset", { id: id, className: "doc-group" });
        describe(fieldset);
        fieldset.appendChild(el("legend", null, [document.createTextNode(labelText), marker, sr]));
        const boxes = [];
        const options = spec.type === "bool"
          ? [{ value: "true", label: { sv: WORDS.sv.yes, en: WORDS.en.yes } }, { value: "false", label: { sv: WORDS.sv.no, en: WORDS.en.no } }]
          : spec.values || [];
        options.forEach(function (c, i) {
          const oid = id + "-" + i;
          const box = el("input", { id: oid, type: spec.type === "bool" ? "radio" : "checkbox", name: id, value: c.value });
          if (spec.type === "bool") box.checked = value === (c.value === "true");
          else box.checked = Array.isArray(value) && value.indexOf(c.value) >= 0;
          boxes.push(box);
          fieldset.appendChild(el("div", { className: "doc-option" }, [box, el("label", { htmlFor: oid }, " " + label(c.label))]));
        });
        wrap.appendChild(fieldset);
        if (spec.type === "bool") {
          read = function () {
            const on = boxes.find(function (b) { return b.checked; });
            return on ? on.value === "true" : null;
          };
        } else {
          read = function () {
            const chosen = boxes.filter(function (b) { return b.checked; }).map(function (b) { return b.value; });
            return chosen.length ? chosen : null;
          };
        }
        focusable = boxes[0] || fieldset;
      } else if (spec.type === "text") {
        const max = spec.max_length || 1000;
        const textarea = el("textarea", { id: id, name: spec.key, rows: 4, maxLength: max });
        textarea.style.width = "100%";
        if (typeof value === "string") textarea.value = value;
        describe(textarea);
        const counter = el("span", { id: id + "-counter", className: "counter count", attrs: { "aria-live": "polite" } });
        function updateCounter() { counter.textContent = textarea.value.length + " / " + max + " " + w("chars"); }
        textarea.addEventListener("input", updateCounter);
        updateCounter();
        wrap.append(el("div", null, [el("label", { htmlFor: id }, [document.createTextNode(labelText), marker, sr])]), el("div", null, [textarea]), el("div", null, [counter]));
        read = function () { return textarea.value.trim() ? textarea.value : null; };
        focusable = textarea;
      } else {
        // recipients (and any other list of ids): comma-separated
        const input = el("input", { id: id, name: spec.key, type: "text", attrs: { autocomplete: "off", spellcheck: "false" } });
        if (Array.isArray(value)) input.value = value.join(", ");
        else if (typeof value === "string") input.value = value;
        describe(input);
        wrap.append(el("div", null, [el("label", { htmlFor: id }, [document.createTextNode(labelText + " – " + w("recipients_hint")), marker, sr])]), el("div", null, [input]));
        read = function () {
          const ids = input.value.split(",").map(function (s) { return s.trim(); }).filter(Boolean);
          return ids.length ? ids : null;
        };
        focusable = input;
      }
      wrap.appendChild(errorEl);
      return { node: wrap, read: read, focusable: focusable, error: errorEl };
    }

    function clearErrors(form) {
      form.querySelectorAll(".field-error").forEach(function (p) { p.hidden = true; p.textContent = ""; });
      form.querySelectorAll(".doc-field.invalid").forEach(function (d) { d.classList.remove("invalid"); });
      form.querySelectorAll("[aria-invalid]").forEach(function (n) { n.removeAttribute("aria-invalid"); });
      const summary = form.querySelector(".form-error");
      summary.hidden = true;
      summary.textContent = "";
    }

    function showErrors(form, fields, data) {
      const summary = form.querySelector(".form-error");
      summary.textContent = w("invalid");
      summary.hidden = false;
      // The one error shape: {"error": code, "fields": {field: message}} (messages in the staff
      // member's language; a body that does not fit names pydantic's paths, e.g. "values").
      const byField = new Map(Object.entries(data.fields || {}).map(function (kv) { return [kv[0], String(kv[1] || w("error"))]; }));
      let first = null;
      for (const [key, text] of byField) {
        const f = fields.get(key);
        if (!f) {
          summary.textContent += " " + text;
          continue;
        }
        f.error.textContent = text;
        f.error.hidden = false;
        f.node.classList.add("invalid");
        const target = f.node.querySelector("select, input, textarea, fieldset");
        if (target) target.setAttribute("aria-invalid", "true");
        if (!first) first = f;
      }
      if (first) first.focusable.focus();
    }

    function removeForm(convId) {
      const form = forms.get(convId);
      if (form) form.remove();
      forms.delete(convId);
    }

    async function openForm(convId) {
      if (!ID_RE.test(convId)) return;
      if (forms.has(convId)) {
        const existing = forms.get(convId);
        const first = existing.querySelector("select, input, textarea");
        if (first) first.focus();
        return;
      }
      const res = await api("GET", HL.base + "/conversations/" + convId + "/documentation");
      if (res.status !== 200) {
        say(w(res.data.error === "not_found" ? "not_found" : "load_failed"));
        return;
      }
      if (forms.has(convId)) return; // opened twice at once
      const data = res.data;
      const values = data.values || {};
      const fields = new Map();
      const titleId = "doc-title-" + convId.slice(0, 12);
      const form = panel(el("form", {
        className: "doc-form",
        noValidate: true,
        dataset: { conversationId: convId },
        attrs: { "aria-labelledby": titleId },
      }));
      form.appendChild(el("h2", { id: titleId }, w("form_title") + " · " + HL.intentLabel(data.intent) + " · " + convId.slice(0, 8)));
      form.appendChild(el("p", { className: "empty mandatory-note" }, w("mandatory_note")));
      form.appendChild(el("p", { className: "form-error problem", hidden: true, attrs: { role: "alert" } }));
      (data.fields || []).forEach(function (spec) {
        const f = buildField(convId, spec, values[spec.key]);
        fields.set(spec.key, f);
        form.appendChild(f.node);
      });
      const save = el("button", { type: "submit", className: "primary save-doc" }, w("save"));
      const later = el("button", { type: "button", className: "later-doc" }, w("later"));
      later.addEventListener("click", function () { removeForm(convId); refreshPending(); });
      form.appendChild(el("div", { className: "row doc-actions" }, [save, later]));

      form.addEventListener("submit", async function (ev) {
        ev.preventDefault();
        const out = {};
        for (const [key, f] of fields) {
          const v = f.read();
          if (v !== null) out[key] = v;
        }
        save.disabled = true;
        save.textContent = w("saving");
        const result = await HL.apiAction("POST", HL.base + "/conversations/" + convId + "/documentation", { values: out });
        save.disabled = false;
        save.textContent = w("save");
        clearErrors(form);
        if (result.status === 200) {
          removeForm(convId);
          let text = w("documented");
          if (result.data.redacted && result.data.redacted.length) text += ". " + w("redacted") + " " + result.data.redacted.map(function (k) { return HL.t("rk_" + k); }).join(", ");
          say(text);
          refreshPending();
          document.dispatchEvent(new CustomEvent("hl:documented", { detail: { id: convId } })); // training's checklist
          return;
        }
        if (result.status === 422) {
          showErrors(form, fields, result.data);
          return;
        }
        const summary = form.querySelector(".form-error");
        summary.textContent = w(result.data.error || "error");
        summary.hidden = false;
      });

      forms.set(convId, form);
      formsBox.prepend(form);
      form.scrollIntoView({ block: "nearest" });
      const first = form.querySelector("select, input, textarea");
      if (first) first.focus({ preventScroll: true });
    }

    document.addEventListener("hl:closed", function (ev) {
      const id = ev.detail && ev.detail.id;
      if (typeof id === "string") {
        openForm(id);
        refreshPending();
      }
    });
    refreshPending();
    // Conversations closed elsewhere (by a supervisor, by the person) show up in time.
    setInterval(refreshPending, 60000);
  }

  // ============================================================== erasure (supervision page)
  const eraseArea = document.getElementById("erase-area");
  if (eraseArea) {
    const form = el("form", { id: "erase-form", noValidate: true });
    const idInput = el("input", {
      id: "erase-id",
      type: "text",
      maxLength: 32,
      size: 36,
      attrs: { autocomplete: "off", spellcheck: "false", autocapitalize: "none", "aria-describedby": "erase-result" },
    });
    const reason = el("select", { id: "erase-reason" });
    ["person_request", "mistake", "other"].forEach(function (r) { reason.appendChild(el("option", { value: r }, w("r_" + r))); });
    const next = el("button", { type: "submit", id: "erase-next", className: "danger" }, w("erase_next"));
    const confirmBox = el("div", { id: "erase-confirm", className: "row", hidden: true });
    const confirmText = el("strong", { id: "erase-confirm-text" });
    const yes = el("button", { type: "button", id: "erase-yes", className: "danger" }, w("erase_yes"));
    const cancel = el("button", { type: "button", id: "erase-cancel" }, w("cancel"));
    confirmBox.append(confirmText, yes, cancel);
    const result = el("div", { id: "erase-result", attrs: { role: "status", "aria-live": "polite" } });
    form.append(
      el("div", null, [el("label", { htmlFor: "erase-id" }, w("erase_id"))]),
      el("div", null, [idInput]),
      el("div", null, [el("label", { htmlFor: "erase-reason" }, w("erase_reason"))]),
      el("div", null, [reason]),
      el("div", { className: "row" }, [next]),
      confirmBox
    );
    eraseArea.replaceChildren(
      el("h2", { id: "erase-title" }, w("erase_title")),
      el("p", { className: "empty" }, w("erase_intro")),
      form,
      result
    );
    eraseArea.setAttribute("aria-labelledby", "erase-title");

    function showProblem(text) {
      result.replaceChildren(el("p", { className: "problem" }, text));
    }
    function reset() {
      confirmBox.hidden = true;
      next.disabled = false;
      idInput.disabled = false;
      reason.disabled = false;
    }

    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      const id = idInput.value.trim().toLowerCase();
      if (!ID_RE.test(id)) {
        showProblem(w("bad_id"));
        idInput.setAttribute("aria-invalid", "true");
        idInput.focus();
        return;
      }
      idInput.removeAttribute("aria-invalid");
      idInput.value = id;
      result.replaceChildren();
      confirmText.textContent = w("erase_confirm").replace("{id}", id) + " (" + w("r_" + reason.value) + ")";
      confirmBox.hidden = false;
      next.disabled = true;
      idInput.disabled = true;
      reason.disabled = true;
      cancel.focus();
    });
    cancel.addEventListener("click", function () { reset(); idInput.focus(); });
    yes.addEventListener("click", async function () {
      const id = idInput.value;
      yes.disabled = true;
      const res = await api("POST", HL.base + "/conversations/" + id + "/erase", { reason: reason.value });
      yes.disabled = false;
      reset();
      if (res.status === 200) {
        const d = res.data;
        result.replaceChildren(
          el("p", { className: "notice erase-done" }, w("erased") + " " + id),
          el("dl", { className: "facts" }, [
            el("dt", null, w("erased_messages")), el("dd", { className: "erased-messages" }, String(d.messages)),
            el("dt", null, w("erased_contact")), el("dd", { className: "erased-contact" }, String(d.contact_record)),
            el("dt", null, w("erased_summary")), el("dd", { className: "erased-summary" }, d.documentation_summary_cleared ? w("yes") : w("no")),
          ])
        );
        idInput.value = "";
        return;
      }
      const code = res.data.error || "error";
      showProblem(w(code === "not_closed" ? "erase_not_closed" : code === "forbidden" ? "forbidden" : code === "not_found" ? "not_found" : "error"));
    });
  }
})();
