/* The admins' directory of recipients: list and search, add, edit, deactivate, the area of a
   Kunskapshus (saved on its own) or of a local recipient (saved with the entry), and the history
   of changes.  Text is only ever set with textContent (HL.el). */
"use strict";

(function () {
  const { t, el, api } = HL;
  const API = "/console/api/directory";
  const lang = HL.i18n.lang === "en" ? "en" : "sv";
  const notice = document.getElementById("dir-notice");
  const problem = document.getElementById("dir-problem");
  const tbody = document.querySelector("#dir-table tbody");
  const editor = document.getElementById("dir-editor");
  const form = document.getElementById("dir-form");
  const q = document.getElementById("dir-q");
  const sectionFilter = document.getElementById("dir-section");
  const kindFilter = document.getElementById("dir-kind");
  const stateFilter = document.getElementById("dir-state");
  const toggleActive = document.getElementById("dir-toggle-active");
  const resetButton = document.getElementById("dir-reset");
  const areaBox = document.getElementById("dir-area");
  const areaCounties = document.getElementById("dir-area-counties");
  let options = null;
  let current = null; // the recipient in the editor (null: a new one)
  let areaMode = null; // "own": a Kunskapshus's area, saved on its own; "entry": saved with the entry
  let areaReady = false; // the area's boxes are drawn (only then is a recipient's area sent)
  let searchTimer = null;
  let noticeTimer = null;

  function say(text) {
    problem.hidden = true;
    notice.textContent = text || "";
    clearTimeout(noticeTimer);
    noticeTimer = setTimeout(function () { notice.textContent = ""; }, 8000);
  }

  function fail(res) {
    notice.textContent = "";
    problem.textContent = HL.errorText(res);
    problem.hidden = false;
  }

  function input(name) {
    return document.getElementById("dir-f-" + name);
  }

  // -------------------------------------------------------------------- field errors
  function clearErrors() {
    document.querySelectorAll(".field-error").forEach(function (p) { p.hidden = true; p.textContent = ""; });
    form.querySelectorAll("[aria-invalid]").forEach(function (x) { x.removeAttribute("aria-invalid"); });
    problem.hidden = true;
  }

  function showErrors(res, where) {
    const fields = (res.data && res.data.fields) || {};
    let first = null;
    for (const [field, code] of Object.entries(fields)) {
      const target = where === "area" || field === "counties" || field === "municipalities"
        ? document.getElementById("dir-e-area")
        : document.getElementById("dir-e-" + field) || document.getElementById("dir-e-_");
      let text = t("dir_err_" + code);
      if (text === "dir_err_" + code) text = t("dir_err_invalid") + " (" + code + ")";
      if (res.data.detail) text += ": " + res.data.detail;
      target.textContent = text;
      target.hidden = false;
      const control = input(field);
      if (control) {
        control.setAttribute("aria-invalid", "true");
        if (!first) first = control;
      }
    }
    problem.textContent = t("dir_fix_fields");
    problem.hidden = false;
    if (first) first.focus();
  }

  // -------------------------------------------------------------------- the list
  function methodsText(r) {
    // "E-post (avisering)" -> "E-post": the short name of each method.
    return r.methods.length ? r.methods.map(function (m) { return t("dir_" + m).split(" (")[0]; }).join(", ") : t("dir_no_methods");
  }

  function row(r) {
    const edit = el("button", { type: "button", className: "dir-edit" }, t("dir_edit"));
    edit.addEventListener("click", function () { open(r.id); });
    const name = [el("span", { className: "dir-name" }, r.name[lang])];
    if (r.municipality) name.push(el("span", { className: "hint" }, " · " + r.municipality.county));
    if (r.area_size !== null && r.area_size !== undefined) name.push(el("span", { className: "hint" }, " · " + r.area_size + " " + t("dir_area_count")));
    const badges = [el("span", { className: "badge" + (r.active ? "" : " prio-high") }, r.active ? t("dir_active") : t("dir_inactive"))];
    if (r.edited) badges.push(el("span", { className: "badge" }, t("dir_edited")));
    if (r.added) badges.push(el("span", { className: "badge" }, t("dir_added")));
    return el("tr", { dataset: { recipientId: r.id, active: r.active ? "1" : "" } }, [
      el("td", null, name),
      el("td", null, t("dir_kind_" + r.kind)),
      el("td", null, r.topics.map(function (k) { return t("ho_topic_" + k); }).join(", ")),
      el("td", null, methodsText(r)),
      el("td", null, badges),
      el("td", null, [edit]),
    ]);
  }

  async function loadList() {
    const params = new URLSearchParams({ q: q.value.trim(), section: sectionFilter.value, kind: kindFilter.value, state: stateFilter.value });
    const res = await api("GET", API + "/recipients?" + params.toString());
    if (res.status !== 200) { fail(res); return; }
    tbody.replaceChildren.apply(tbody, res.data.recipients.map(row));
    document.getElementById("dir-count").textContent = String(res.data.recipients.length);
  }

  function soon() {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(loadList, 250);
  }
  q.addEventListener("input", soon);
  [sectionFilter, kindFilter, stateFilter].forEach(function (s) { s.addEventListener("change", loadList); });
  document.getElementById("dir-filter").addEventListener("submit", function (ev) { ev.preventDefault(); loadList(); });

  // -------------------------------------------------------------------- the editor
  function setChecks(name, values) {
    form.querySelectorAll('input[name="' + name + '"]').forEach(function (box) { box.checked = values.indexOf(box.value) >= 0; });
  }

  function checked(name) {
    return Array.from(form.querySelectorAll('input[name="' + name + '"]:checked')).map(function (box) { return box.value; });
  }

  function fill(r) {
    current = r;
    clearErrors();
    editor.hidden = false;
    const isNew = r === null;
    document.getElementById("dir-editor-name").textContent = isNew ? t("dir_new") : r.name[lang];
    document.getElementById("dir-editor-id").textContent = isNew ? "" : r.id;
    document.getElementById("dir-id-field").hidden = !isNew;
    input("id").value = "";
    input("name_sv").value = isNew ? "" : r.name_sv;
    input("name_en").value = isNew ? "" : r.name_en;
    input("kind").value = isNew ? "civil_society" : r.kind;
    input("kind").disabled = !isNew && r.section !== "recipient";
    setChecks("topics", isNew ? [] : r.topics);
    setChecks("target_groups", isNew ? ["any"] : r.target_groups);
    input("languages").value = isNew ? "sv" : r.languages.join(", ");
    input("opening_hours").value = isNew ? "mon-fri 09-16" : r.opening_hours;
    input("phone").value = isNew ? "" : r.phone;
    input("emergency_phone").value = isNew ? "" : r.emergency_phone;
    input("website").value = isNew ? "" : r.website;
    const m = isNew ? { portal: false, email: "", webhook: "" } : r.form_methods;
    const portalAvailable = !isNew && r.portal_available;
    input("portal").checked = m.portal;
    input("portal").disabled = !portalAvailable;
    document.getElementById("dir-portal-unavailable").hidden = portalAvailable;
    input("email").value = m.email;
    input("webhook").value = m.webhook;
    const fromConfig = !isNew && r.methods_from_configuration;
    document.getElementById("dir-methods-config").hidden = !fromConfig;
    [input("portal"), input("email"), input("webhook")].forEach(function (x) { if (fromConfig) x.disabled = true; else if (x !== input("portal")) x.disabled = false; });
    document.getElementById("dir-no-secret").hidden = isNew ? false : r.webhook_secret;
    document.getElementById("dir-required").hidden = isNew || !r.required;
    toggleActive.hidden = isNew || (r.required && r.active);
    toggleActive.textContent = !isNew && !r.active ? t("dir_activate") : t("dir_deactivate");
    toggleActive.className = !isNew && !r.active ? "" : "danger";
    resetButton.hidden = isNew || r.added || !r.edited;
    areaMode = isNew ? "entry" : r.area_editable || null;
    areaReady = false;
    areaBox.hidden = !areaMode;
    document.getElementById("dir-area-name").textContent = areaMode === "entry" ? t("dir_area_recipient") : t("dir_area");
    document.getElementById("dir-area-hint").textContent = areaMode === "entry" ? t("dir_area_recipient_hint") : t("dir_area_hint");
    document.getElementById("dir-save-area").textContent = areaMode === "entry" ? t("dir_save") : t("dir_save_area");
    if (areaMode) { areaCounties.replaceChildren(); fillArea(r); }
    loadHistory(isNew ? null : r.id);
    editor.scrollIntoView({ block: "start" });
    (isNew ? input("id") : input("name_sv")).focus();
  }

  async function open(id) {
    const res = await api("GET", API + "/recipients/" + encodeURIComponent(id));
    if (res.status !== 200) { fail(res); return; }
    fill(res.data.recipient);
  }

  function formBody() {
    return {
      name_sv: input("name_sv").value,
      name_en: input("name_en").value,
      kind: input("kind").value,
      topics: checked("topics"),
      target_groups: checked("target_groups"),
      languages: input("languages").value,
      opening_hours: input("opening_hours").value,
      phone: input("phone").value,
      emergency_phone: input("emergency_phone").value,
      website: input("website").value,
      methods: { portal: input("portal").checked, email: input("email").value, webhook: input("webhook").value },
    };
  }

  function entryBody() {
    const body = formBody();
    if (areaMode === "entry" && areaReady) body.serves = areaBody();
    return body;
  }

  form.addEventListener("submit", async function (ev) {
    ev.preventDefault();
    clearErrors();
    const body = entryBody();
    let res;
    const save = document.getElementById("dir-save");
    save.disabled = true;
    if (current === null) {
      body.id = input("id").value.trim();
      res = await api("POST", API + "/recipients", body);
    } else {
      body.revision = current.revision;
      res = await api("POST", API + "/recipients/" + encodeURIComponent(current.id), body);
    }
    save.disabled = false;
    if (res.status === 422) { showErrors(res); return; }
    if (res.status !== 200 && res.status !== 201) { fail(res); return; }
    fill(res.data.recipient);
    say(res.data.unchanged ? t("dir_unchanged") : t("dir_saved_ok"));
    loadList();
    loadHistory(null, true);
  });

  toggleActive.addEventListener("click", async function () {
    if (!current) return;
    const active = !current.active;
    if (!active && !window.confirm(t("dir_confirm_deactivate"))) return;
    clearErrors();
    const res = await api("POST", API + "/recipients/" + encodeURIComponent(current.id) + "/active", { active: active, revision: current.revision });
    if (res.status === 422) { showErrors(res); return; }
    if (res.status !== 200) { fail(res); return; }
    fill(res.data.recipient);
    say(active ? t("dir_activated_ok") : t("dir_deactivated_ok"));
    loadList();
    loadHistory(null, true);
  });

  resetButton.addEventListener("click", async function () {
    if (!current || !window.confirm(t("dir_confirm_reset"))) return;
    clearErrors();
    const res = await api("POST", API + "/recipients/" + encodeURIComponent(current.id) + "/reset", { revision: current.revision });
    if (res.status !== 200) { fail(res); return; }
    fill(res.data.recipient);
    say(t("dir_reset_ok"));
    loadList();
    loadHistory(null, true);
  });

  document.getElementById("dir-close").addEventListener("click", function () {
    editor.hidden = true;
    current = null;
    clearErrors();
  });
  document.getElementById("dir-new").addEventListener("click", function () { fill(null); });

  // -------------------------------------------------------------------- the area (Kunskapshus or local recipient)
  async function loadOptions() {
    if (options) return options;
    const res = await api("GET", API + "/options");
    if (res.status !== 200) { fail(res); return null; }
    options = res.data;
    return options;
  }

  async function fillArea(r) {
    const opts = await loadOptions();
    if (!opts || current !== r) return;
    const own = areaMode === "own"; // a Kunskapshus: a municipality belongs to one at most
    const houses = {};
    opts.kunskapshus.forEach(function (k) { houses[k.id] = k.name[lang]; });
    const serves = (r && r.serves) || { counties: [], municipalities: [] };
    const counties = new Set(serves.counties);
    const munis = new Set(serves.municipalities);
    const blocks = opts.counties.map(function (c) {
      const whole = el("input", { type: "checkbox", className: "dir-county", value: c.code });
      whole.checked = counties.has(c.code);
      const boxes = c.municipalities.map(function (m) {
        const other = own && m.kunskapshus && m.kunskapshus !== r.id ? m.kunskapshus : null;
        const box = el("input", { type: "checkbox", className: "dir-muni", value: m.code, dataset: { county: c.code } });
        box.checked = whole.checked || munis.has(m.code);
        box.disabled = whole.checked;
        const text = m.name + " (" + m.code + ")" + (other ? " – " + t("dir_served_by_other") + " " + (houses[other] || other) : "");
        return el("label", { className: other ? "hint" : "" }, [box, el("span", null, " " + text)]);
      });
      whole.addEventListener("change", function () {
        boxes.forEach(function (label) {
          const box = label.querySelector("input");
          box.disabled = whole.checked;
          if (whole.checked) box.checked = true;
        });
        countArea();
      });
      boxes.forEach(function (label) { label.querySelector("input").addEventListener("change", countArea); });
      const inArea = whole.checked || c.municipalities.some(function (m) { return munis.has(m.code) || (own && m.kunskapshus === r.id); });
      const details = el("details", { className: "dir-county-block", dataset: { county: c.code } }, [
        el("summary", null, c.name + " (" + c.code + ")"),
        el("label", null, [whole, el("span", null, " " + t("dir_whole_county"))]),
        el("div", { className: "dir-munis" }, boxes),
      ]);
      details.open = inArea;
      return details;
    });
    areaCounties.replaceChildren.apply(areaCounties, blocks);
    areaReady = true;
    countArea();
  }

  function areaBody() {
    const counties = Array.from(areaCounties.querySelectorAll("input.dir-county:checked")).map(function (b) { return b.value; });
    const municipalities = Array.from(areaCounties.querySelectorAll("input.dir-muni:checked"))
      .filter(function (b) { return counties.indexOf(b.dataset.county) < 0; })
      .map(function (b) { return b.value; });
    return { counties: counties, municipalities: municipalities };
  }

  function countArea() {
    document.getElementById("dir-area-count").textContent = String(areaCounties.querySelectorAll("input.dir-muni:checked").length);
  }

  document.getElementById("dir-save-area").addEventListener("click", async function () {
    if (areaMode === "entry") { form.requestSubmit(); return; } // saved with the entry
    if (!current) return;
    clearErrors();
    const body = areaBody();
    body.revision = current.revision;
    const res = await api("POST", API + "/kunskapshus/" + encodeURIComponent(current.id) + "/area", body);
    if (res.status === 422) { showErrors(res, "area"); return; }
    if (res.status !== 200) { fail(res); return; }
    options = null; // which house serves which municipality changed
    fill(res.data.recipient);
    say(res.data.unchanged ? t("dir_unchanged") : t("dir_saved_ok"));
    loadList();
    loadHistory(null, true);
  });

  // -------------------------------------------------------------------- history
  function describe(value) {
    if (value === null || value === undefined) return "–";
    if (typeof value === "object") return JSON.stringify(value);
    return String(value);
  }

  function historyItem(e) {
    const before = e.before || {};
    const after = e.after || {};
    const changes = (e.changed || []).map(function (key) {
      return el("li", null, [
        el("strong", null, key + ": "),
        el("span", { className: "mono" }, describe(before[key]) + " → " + describe(after[key])),
      ]);
    });
    const name = after.name ? after.name[lang] : e.recipient_id;
    return el("li", { className: "dir-event", dataset: { action: e.action, recipientId: e.recipient_id || "" } }, [
      el("p", null, HL.formatStamp(e.at) + " · " + e.actor + " · " + t("dir_act_" + e.action.replace("directory.", "")) + " " + name),
      changes.length ? el("ul", null, changes) : null,
    ]);
  }

  async function loadHistory(id, all) {
    if (all) {
      const res = await api("GET", API + "/history");
      if (res.status !== 200) return;
      const list = document.getElementById("dir-history-list");
      list.replaceChildren.apply(list, res.data.events.slice(0, 50).map(historyItem));
      document.getElementById("dir-history-empty").hidden = res.data.events.length > 0;
      if (current) loadHistory(current.id);
      return;
    }
    const own = document.getElementById("dir-own-history");
    if (!id) { own.replaceChildren(); return; }
    const res = await api("GET", API + "/history?recipient_id=" + encodeURIComponent(id));
    if (res.status !== 200) return;
    own.replaceChildren.apply(own, res.data.events.length ? res.data.events.map(historyItem) : [el("li", { className: "empty" }, t("dir_history_empty"))]);
  }

  loadList();
  loadHistory(null, true);
})();
