/* Documentation at close, the list of conversations still to document, and (for supervisors, on
   the supervision page) erasure on request.  Text is only ever set with textContent. */
"use strict";

(function () {
  const { el, api, t } = HL;
  const lang = HL.i18n.lang === "en" ? "en" : "sv";


  /* The server's error codes, each with its words (literal ids: the catalogue test finds them). */
  function saveError(code) {
    const words = { invalid: t("rec_invalid"), not_closed: t("rec_not_closed"), not_your_conversation: t("rec_not_your_conversation"), not_found: t("rec_not_found") };
    return Object.prototype.hasOwnProperty.call(words, code) ? words[code] : t("rec_error");
  }

  function eraseError(code) {
    const words = { not_closed: t("rec_erase_not_closed"), forbidden: t("rec_forbidden"), not_found: t("rec_not_found") };
    return Object.prototype.hasOwnProperty.call(words, code) ? words[code] : t("rec_error");
  }

  function label(obj) {
    if (!obj) return "";
    if (typeof obj === "string") return obj;
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
      document.createTextNode(t("rec_pending_title") + " "),
      el("span", { id: "pending-count", className: "count" }, "0"),
    ]);
    const pendingList = el("ul", { id: "pending-list", attrs: { "aria-labelledby": "pending-title" } });
    const pendingEmpty = el("p", { id: "pending-empty", className: "empty" }, t("rec_pending_empty"));
    const pendingMore = el("p", { id: "pending-more", className: "empty", hidden: true }, t("rec_pending_more"));
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
    const documented = new Set(); // conversations documented on this page
    async function refreshPending() {
      const res = await api("GET", HL.base + "/documentation/pending");
      if (res.status !== 200) return;
      // A list asked for before a save answers after it: what this page documented stays off it.
      const items = (res.data.pending || []).filter(function (p) { return !documented.has(p.id); }).map(pendingItem);
      pendingList.replaceChildren.apply(pendingList, items);
      pendingMore.hidden = !res.data.more;
      countPending();
    }

    function pendingItem(p) {
      const open = el("button", { type: "button", className: "open-doc", dataset: { conversationId: p.id } }, t("rec_document"));
      open.addEventListener("click", function () { openForm(p.id); });
      const text = [HL.intentLabel(p.intent), HL.channelLabel(p.channel), t("rec_closed_at") + " " + formatClosed(p.closed_at), p.id.slice(0, 8)].join(" · ");
      return el("li", { className: "pending-item row", dataset: { conversationId: p.id } }, [el("span", null, text), open]);
    }

    function countPending() {
      const n = pendingList.children.length;
      pendingEmpty.hidden = n > 0;
      document.getElementById("pending-count").textContent = String(n) + (pendingMore.hidden ? "" : "+");
    }

    /* A conversation closed on this page joins the list from the close's answer (its form), newest
       first, without asking for the whole list again. */
    function addPending(form) {
      const id = form.conversation_id;
      if (documented.has(id) || form.state !== "closed") return;
      for (const item of Array.from(pendingList.children)) {
        if (item.dataset.conversationId === id) return;
      }
      pendingList.prepend(pendingItem({ id: id, intent: form.intent, channel: form.channel, closed_at: form.closed_at }));
      countPending();
    }

    /* A conversation just documented leaves the list: removed here rather than by asking for the
       whole list again (unless the list was cut short: then the next in line has to be fetched). */
    function dropPending(convId) {
      documented.add(convId);
      if (!pendingMore.hidden) {
        refreshPending();
        return;
      }
      for (const item of Array.from(pendingList.children)) {
        if (item.dataset.conversationId === convId) item.remove();
      }
      countPending();
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
        ? el("span", { className: "mandatory", attrs: { title: t("rec_mandatory"), "aria-hidden": "true" } }, " *")
        : null;
      const sr = spec.mandatory ? el("span", { className: "sr" }, " (" + t("rec_mandatory") + ")") : null;
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
        select.appendChild(el("option", { value: "" }, spec.type === "municipality" ? t("rec_none") : t("rec_choose")));
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
        wrap.append(el("div", null, [el("label", { htmlFor: id }, [document.createTextNode(labelText + " – " + t("rec_municipality_code")), marker, sr])]), el("div", null, [input]));
        read = function () { return input.value.trim() || null; };
        focusable = input;
      } else if (spec.type === "multi_choice" || spec.type === "bool") {
        const fieldset = el("fieldset", { id: id, className: "doc-group" });
        describe(fieldset);
        fieldset.appendChild(el("legend", null, [document.createTextNode(labelText), marker, sr]));
        const boxes = [];
        const options = spec.type === "bool"
          ? [{ value: "true", label: t("rec_yes") }, { value: "false", label: t("rec_no") }]
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
        function updateCounter() { counter.textContent = textarea.value.length + " / " + max + " " + t("rec_chars"); }
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
        wrap.append(el("div", null, [el("label", { htmlFor: id }, [document.createTextNode(labelText + " – " + t("rec_recipients_hint")), marker, sr])]), el("div", null, [input]));
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
      summary.textContent = t("rec_invalid");
      summary.hidden = false;
      // The one error shape: {"error": code, "fields": {field: message}} (messages in the staff
      // member's language; a body that does not fit names pydantic's paths, e.g. "values").
      const byField = new Map(Object.entries(data.fields || {}).map(function (kv) { return [kv[0], String(kv[1] || t("rec_error"))]; }));
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

    /* The form of a conversation: ``given`` when the close's answer brought it, else read. */
    async function openForm(convId, given) {
      if (!ID_RE.test(convId)) return;
      if (forms.has(convId)) {
        const existing = forms.get(convId);
        const first = existing.querySelector("select, input, textarea");
        if (first) first.focus();
        return;
      }
      let data = given;
      if (!data) {
        const res = await api("GET", HL.base + "/conversations/" + convId + "/documentation");
        if (res.status !== 200) {
          say(res.data.error === "not_found" ? t("rec_not_found") : t("rec_load_failed"));
          return;
        }
        data = res.data;
      }
      if (forms.has(convId)) return; // opened twice at once
      const values = data.values || {};
      const fields = new Map();
      const titleId = "doc-title-" + convId.slice(0, 12);
      const form = panel(el("form", {
        className: "doc-form",
        noValidate: true,
        dataset: { conversationId: convId },
        attrs: { "aria-labelledby": titleId },
      }));
      form.appendChild(el("h2", { id: titleId }, t("rec_form_title") + " · " + HL.intentLabel(data.intent) + " · " + convId.slice(0, 8)));
      form.appendChild(el("p", { className: "empty mandatory-note" }, t("rec_mandatory_note")));
      form.appendChild(el("p", { className: "form-error problem", hidden: true, attrs: { role: "alert" } }));
      (data.fields || []).forEach(function (spec) {
        const f = buildField(convId, spec, values[spec.key]);
        fields.set(spec.key, f);
        form.appendChild(f.node);
      });
      const save = el("button", { type: "submit", className: "primary save-doc" }, t("rec_save"));
      const later = el("button", { type: "button", className: "later-doc" }, t("rec_later"));
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
        save.textContent = t("rec_saving");
        const result = await HL.apiAction("POST", HL.base + "/conversations/" + convId + "/documentation", { values: out });
        save.disabled = false;
        save.textContent = t("rec_save");
        clearErrors(form);
        if (result.status === 200) {
          removeForm(convId);
          let text = t("rec_documented");
          if (result.data.redacted && result.data.redacted.length) text += ". " + t("rec_redacted") + " " + result.data.redacted.map(function (k) { return HL.t("rk_" + k); }).join(", ");
          say(text);
          dropPending(convId);
          document.dispatchEvent(new CustomEvent("hl:documented", { detail: { id: convId } })); // training's checklist
          return;
        }
        if (result.status === 422) {
          showErrors(form, fields, result.data);
          return;
        }
        const summary = form.querySelector(".form-error");
        summary.textContent = saveError(result.data.error);
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
      if (typeof id !== "string") return;
      const form = ev.detail.parts && ev.detail.parts.documentation;
      if (form && form.conversation_id === id) {
        openForm(id, form);
        addPending(form);
      } else {
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
    const REASONS = { person_request: t("rec_r_person_request"), mistake: t("rec_r_mistake"), other: t("rec_r_other") };
    Object.keys(REASONS).forEach(function (r) { reason.appendChild(el("option", { value: r }, REASONS[r])); });
    const next = el("button", { type: "submit", id: "erase-next", className: "danger" }, t("rec_erase_next"));
    const confirmBox = el("div", { id: "erase-confirm", className: "row", hidden: true });
    const confirmText = el("strong", { id: "erase-confirm-text" });
    const yes = el("button", { type: "button", id: "erase-yes", className: "danger" }, t("rec_erase_yes"));
    const cancel = el("button", { type: "button", id: "erase-cancel" }, t("rec_cancel"));
    confirmBox.append(confirmText, yes, cancel);
    const result = el("div", { id: "erase-result", attrs: { role: "status", "aria-live": "polite" } });
    form.append(
      el("div", null, [el("label", { htmlFor: "erase-id" }, t("rec_erase_id"))]),
      el("div", null, [idInput]),
      el("div", null, [el("label", { htmlFor: "erase-reason" }, t("rec_erase_reason"))]),
      el("div", null, [reason]),
      el("div", { className: "row" }, [next]),
      confirmBox
    );
    eraseArea.replaceChildren(
      el("h2", { id: "erase-title" }, t("rec_erase_title")),
      el("p", { className: "empty" }, t("rec_erase_intro")),
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
        showProblem(t("rec_bad_id"));
        idInput.setAttribute("aria-invalid", "true");
        idInput.focus();
        return;
      }
      idInput.removeAttribute("aria-invalid");
      idInput.value = id;
      result.replaceChildren();
      confirmText.textContent = t("rec_erase_confirm").replace("{id}", id) + " (" + REASONS[reason.value] + ")";
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
          el("p", { className: "notice erase-done" }, t("rec_erased") + " " + id),
          el("dl", { className: "facts" }, [
            el("dt", null, t("rec_erased_messages")), el("dd", { className: "erased-messages" }, String(d.messages)),
            el("dt", null, t("rec_erased_contact")), el("dd", { className: "erased-contact" }, String(d.contact_record)),
            el("dt", null, t("rec_erased_summary")), el("dd", { className: "erased-summary" }, d.documentation_summary_cleared ? t("rec_yes") : t("rec_no")),
          ])
        );
        idInput.value = "";
        return;
      }
      const code = res.data.error || "error";
      showProblem(eraseError(code));
    });
  }
})();
