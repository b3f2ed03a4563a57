/* The admin's triage page: intents and examples, safe responses, a parse to try, retraining and
   model versions.  Text is only ever set with textContent (through HL.el). */
"use strict";

(function () {
  const { t, el, api } = HL;
  const API = "/console/api/triage";
  const notice = document.getElementById("notice");
  const problem = document.getElementById("problem");
  const intentOptions = document.getElementById("intent-options");
  let currentIntent = "urgent_threat";
  let polling = null;
  let lastCandidate = null;

  function say(text) {
    problem.hidden = true;
    notice.textContent = text || "";
  }

  function fail(res) {
    const d = res.data || {};
    // The one error shape: the words for each refused field, else for the code; a model the gate
    // refused also says why (the gate's reason).
    const fields = d.fields && d.error !== "invalid_input" ? Object.values(d.fields) : [];
    if (d.error === "refused" && d.reason) problem.textContent = t("ta_refused") + " " + d.reason;
    else problem.textContent = fields.length ? fields.join(" ") : HL.errorText(res);
    problem.hidden = false;
    notice.textContent = "";
  }

  function fmt(x) {
    return typeof x === "number" ? x.toFixed(4) : "–";
  }

  function intentSelect(value) {
    const select = el("select", null, null);
    select.appendChild(intentOptions.content.cloneNode(true));
    select.value = value;
    return select;
  }

  // -- intents and examples ---------------------------------------------------------------------
  async function loadIntents() {
    const res = await api("GET", API + "/intents");
    if (res.status !== 200) return fail(res);
    const rev = res.data.revision;
    document.getElementById("revision").textContent = rev.shipped ? t("ta_shipped") : "#" + rev.id + " (" + rev.by + ")";
    const rows = res.data.intents.map(function (i) {
      const link = el("a", { href: "#examples" }, i.label);
      link.addEventListener("click", function (ev) {
        ev.preventDefault();
        currentIntent = i.name;
        loadExamples();
      });
      return el("tr", { className: i.critical ? "critical" : "", dataset: { intent: i.name } }, [
        el("td", null, [link]),
        el("td", null, [el("span", { className: "badge prio-" + i.priority }, HL.priorityLabel(i.priority))]),
        el("td", null, String(i.count)),
        el("td", null, String(i.test_count)),
      ]);
    });
    const body = document.querySelector("#intent-table tbody");
    body.replaceChildren.apply(body, rows);
  }

  async function loadExamples() {
    const q = document.getElementById("filter").value;
    const res = await api("GET", API + "/examples?intent=" + encodeURIComponent(currentIntent) + "&q=" + encodeURIComponent(q));
    if (res.status !== 200) return fail(res);
    document.getElementById("examples-intent").textContent = HL.intentLabel(currentIntent) + " · " + res.data.examples.length;
    const rows = res.data.examples.map(function (text) {
      const edit = el("button", { type: "button" }, t("ta_edit"));
      const remove = el("button", { type: "button", className: "danger" }, t("ta_remove"));
      // A training example is data in its own words (translate="no": not the page's language).
      const cell = el("td", { attrs: { translate: "no" } }, text);
      const row = el("tr", null, [cell, el("td", null, [el("div", { className: "row" }, [edit, remove])])]);
      remove.addEventListener("click", async function () {
        if (!window.confirm(t("ta_confirm_remove"))) return;
        const r = await api("POST", API + "/examples/remove", { intent: currentIntent, text: text });
        if (r.status !== 200) return fail(r);
        say(t("ta_saved"));
        refreshData();
      });
      edit.addEventListener("click", function () {
        const input = el("input", { value: text, maxLength: 500 });
        const select = intentSelect(currentIntent);
        const save = el("button", { type: "button", className: "primary" }, t("ta_save"));
        const cancel = el("button", { type: "button" }, t("ta_cancel"));
        cell.replaceChildren(el("div", { className: "row" }, [input, select, save, cancel]));
        input.focus();
        cancel.addEventListener("click", loadExamples);
        save.addEventListener("click", async function () {
          const r = await api("POST", API + "/examples/edit", {
            intent: currentIntent, text: text, new_intent: select.value, new_text: input.value,
          });
          if (r.status !== 200) return fail(r);
          say(t("ta_saved"));
          refreshData();
        });
      });
      return row;
    });
    const body = document.querySelector("#example-table tbody");
    body.replaceChildren.apply(body, rows);
  }

  function refreshData() {
    loadIntents();
    loadExamples();
  }

  document.getElementById("add-form").addEventListener("submit", async function (ev) {
    ev.preventDefault();
    const input = document.getElementById("add-text");
    const r = await api("POST", API + "/examples", { intent: currentIntent, text: input.value });
    if (r.status !== 201) return fail(r);
    input.value = "";
    say(t("ta_saved"));
    refreshData();
  });

  let filterTimer = null;
  // An accepted correction (admin_corrections.js) is a new revision of the training data.
  document.addEventListener("hl:dataset", refreshData);

  document.getElementById("filter").addEventListener("input", function () {
    clearTimeout(filterTimer);
    filterTimer = setTimeout(loadExamples, 250);
  });

  // -- safe responses ---------------------------------------------------------------------------
  async function loadResponses() {
    const res = await api("GET", API + "/responses");
    if (res.status !== 200) return fail(res);
    const langs = res.data.languages;
    const rows = res.data.responses.map(function (r, n) {
      // Each text area is named by its row (the intent) and its column (the language), and the
      // cells follow the header's columns, whatever order the answer lists its languages in.
      const rowId = "response-row-" + n;
      const order = Array.from(document.querySelectorAll("#response-table th[data-lang]")).map(function (th) { return th.dataset.lang; });
      const cells = order.filter(function (lang) { return langs.indexOf(lang) >= 0; }).map(function (lang) {
        const area = el("textarea", { rows: 4, maxLength: 2000, value: r.texts[lang], attrs: { lang: lang, "aria-labelledby": rowId + " response-col-" + lang } });
        const save = el("button", { type: "button", className: "primary" }, t("ta_save"));
        const parts = [area, el("div", { className: "row" }, [save])];
        if (r.overridden.indexOf(lang) >= 0) {
          const reset = el("button", { type: "button" }, t("ta_reset"));
          parts[1].appendChild(el("span", { className: "count" }, t("ta_overridden")));
          parts[1].appendChild(reset);
          reset.addEventListener("click", async function () {
            const x = await api("POST", API + "/responses/reset", { intent: r.intent, language: lang });
            if (x.status !== 200) return fail(x);
            say(t("ta_saved"));
            loadResponses();
          });
        }
        save.addEventListener("click", async function () {
          const x = await api("POST", API + "/responses", { intent: r.intent, language: lang, text: area.value });
          if (x.status !== 200) return fail(x);
          say(t("ta_saved"));
          loadResponses();
        });
        return el("td", { className: "compose" }, parts);
      });
      return el("tr", { className: r.critical ? "critical" : "", dataset: { intent: r.intent } },
        [el("th", { scope: "row", id: rowId }, r.label)].concat(cells));
    });
    const body = document.querySelector("#response-table tbody");
    body.replaceChildren.apply(body, rows);
  }

  // -- try a sentence ---------------------------------------------------------------------------
  document.getElementById("try-form").addEventListener("submit", async function (ev) {
    ev.preventDefault();
    const res = await api("POST", API + "/parse", { text: document.getElementById("try-text").value });
    if (res.status !== 200) return fail(res);
    const d = res.data;
    const dl = document.getElementById("try-result");
    const facts = [
      [t("intent"), HL.intentLabel(d.intent.name) + " (" + d.intent.name + ")"],
      [t("confidence"), fmt(d.intent.confidence)],
      [t("ta_priority"), HL.priorityLabel(d.priority)],
      [t("language"), d.language],
      [t("matched_rules"), d.matched_rules.length ? d.matched_rules.join(", ") : t("ta_none")],
      [t("ta_decided_by"), d.decided_by],
      [t("ta_version"), d.model_version],
      [t("suggested"), d.safe_response],
    ];
    const nodes = [];
    facts.forEach(function (f) { nodes.push(el("dt", null, f[0]), el("dd", null, f[1])); });
    dl.replaceChildren.apply(dl, nodes);
    dl.hidden = false;
    const pre = document.getElementById("try-json");
    pre.textContent = JSON.stringify(d, null, 2);
    pre.hidden = false;
  });

  // -- models and training ----------------------------------------------------------------------
  async function activate(version) {
    const r = await api("POST", API + "/models/" + encodeURIComponent(version) + "/activate");
    if (r.status === 200) say(t("ta_activated"));
    else fail(r);
    loadModels();
  }

  function showJob(job) {
    const stage = document.getElementById("job-stage");
    stage.textContent = job ? t("ta_stage_" + job.stage) + (job.error ? ": " + job.error : "") : "";
    document.getElementById("train").disabled = !!(job && job.status === "running");
    const box = document.getElementById("job-result");
    if (!job || job.status !== "done") {
      box.hidden = true;
      return;
    }
    box.hidden = false;
    lastCandidate = job.candidate.version;
    document.getElementById("cmp-candidate").textContent = job.candidate.version;
    document.getElementById("cmp-active").textContent = job.active.version || "";
    const c = job.candidate.metrics, a = job.active.metrics;
    const rows = [
      [t("ta_critical_recall"), c.critical_recall, a.critical_recall],
      [t("ta_macro_f1"), c.macro_f1, a.macro_f1],
      [t("ta_accuracy"), c.accuracy, a.accuracy],
    ].map(function (m) {
      return el("tr", null, [el("th", { scope: "row" }, m[0]), el("td", null, fmt(m[1])), el("td", null, fmt(m[2]))]);
    });
    Object.keys(job.candidate.per_intent).forEach(function (intent) {
      const ci = job.candidate.per_intent[intent] || {}, ai = job.active.per_intent[intent] || {};
      rows.push(el("tr", null, [
        el("th", { scope: "row" }, t("ta_per_intent") + ": " + HL.intentLabel(intent)),
        el("td", null, fmt(ci.f1)), el("td", null, fmt(ai.f1)),
      ]));
    });
    const body = document.querySelector("#compare tbody");
    body.replaceChildren.apply(body, rows);
    document.getElementById("gate").textContent = job.gate.ok ? t("ta_gate_ok") : t("ta_gate_refused") + " " + job.gate.reason;
    document.getElementById("activate-candidate").hidden = !job.gate.ok;
  }

  async function loadModels() {
    const res = await api("GET", API + "/models");
    if (res.status !== 200) return fail(res);
    const d = res.data;
    document.getElementById("running-version").textContent = d.running.version || "–";
    document.getElementById("rollback").disabled = d.history.length === 0;
    const rows = d.versions.map(function (v) {
      const cells = [
        el("td", { className: "mono" }, v.version),
        el("td", null, t("ta_st_" + v.status) + (v.running ? " · " + t("ta_running") : "")),
        el("td", null, fmt(v.metrics.macro_f1)),
        el("td", null, fmt(v.metrics.critical_recall)),
        el("td", null, HL.formatTime(v.created_at)),
        el("td", null, v.created_by),
        el("td", null, v.reason),
      ];
      const action = el("td", null, null);
      if (v.status === "candidate" || v.status === "retired" || v.status === "refused") {
        const b = el("button", { type: "button" }, t("ta_activate"));
        b.addEventListener("click", function () { activate(v.version); });
        action.appendChild(b);
      }
      cells.push(action);
      return el("tr", { className: v.status === "active" ? "prio-high" : "", dataset: { version: v.version, status: v.status } }, cells);
    });
    const body = document.querySelector("#versions tbody");
    body.replaceChildren.apply(body, rows);
    showJob(d.job);
    if (d.job && d.job.status === "running") poll(d.job.id);
    // The corrections' evaluation (admin_corrections.js) follows the running model.
    document.dispatchEvent(new CustomEvent("hl:models", { detail: { running: d.running.version } }));
  }

  function poll(jobId) {
    if (polling) return;
    polling = setInterval(async function () {
      const res = await api("GET", API + "/train/" + jobId);
      if (res.status !== 200) return;
      showJob(res.data);
      if (res.data.status !== "running") {
        clearInterval(polling);
        polling = null;
        loadModels();
      }
    }, 1000);
  }

  document.getElementById("train").addEventListener("click", async function () {
    const r = await api("POST", API + "/train");
    if (r.status !== 202) return fail(r);
    say(t("ta_training"));
    poll(r.data.job);
  });

  document.getElementById("activate-candidate").addEventListener("click", function () {
    if (lastCandidate) activate(lastCandidate);
  });

  document.getElementById("rollback").addEventListener("click", async function () {
    if (!window.confirm(t("ta_confirm_rollback"))) return;
    const r = await api("POST", API + "/rollback");
    if (r.status === 200) say(t("ta_rolled_back"));
    else fail(r);
    loadModels();
  });

  refreshData();
  loadResponses();
  loadModels();
})();
