/* Admins edit training scenarios (YAML, checked by the server: an invalid one is refused and its
   problems shown) and choose the ones required before the counsellor role. */
"use strict";

(function () {
  const { t, el, api, errorText } = HL;
  const API = "/console/api/training";
  const $ = function (id) { return document.getElementById(id); };
  let current = null;

  async function list() {
    const res = await api("GET", API + "/scenarios");
    if (res.status !== 200) return;
    document.querySelector("#ta-scenarios tbody").replaceChildren(...res.data.scenarios.map(function (s) {
      const req = el("input", { type: "checkbox", checked: s.required, className: "ta-required", dataset: { scenario: s.id } });
      req.setAttribute("aria-label", t("training_required") + ": " + s.title);
      req.addEventListener("change", async function () {
        const r = await api("POST", API + "/scenarios/" + s.id + "/required", { required: req.checked });
        if (r.status !== 200) { req.checked = !req.checked; $("ta-status").textContent = errorText(r); }
      });
      const edit = el("button", { type: "button", className: "ta-edit", dataset: { scenario: s.id } }, t("training_edit"));
      edit.addEventListener("click", function () { open(s.id, s.title); });
      return el("tr", null, [el("td", null, s.title + (s.edited ? " (" + t("training_edited") + ")" : "")),
        el("td", null, s.language), el("td", null, [req]), el("td", null, [edit])]);
    }));
    $("ta-problems").replaceChildren(...Object.entries(res.data.problems).map(function ([id, problems]) {
      return el("li", null, id + ": " + problems.join("; "));
    }));
  }

  async function open(id, title) {
    const res = await api("GET", API + "/scenarios/" + id);
    if (res.status !== 200) return;
    current = id;
    $("ta-editor").hidden = false;
    $("ta-title").textContent = title;
    $("ta-source").value = res.data.source;
    $("ta-status").textContent = "";
    $("ta-problem").textContent = "";
  }

  // A new scenario starts as a copy of the one open (or of the first), under its new id.
  $("ta-new-form").addEventListener("submit", async function (ev) {
    ev.preventDefault();
    const id = $("ta-new-id").value.trim();
    if (!/^[a-z0-9_]{1,64}$/.test(id)) return;
    const from = current || document.querySelector(".ta-edit").dataset.scenario;
    const res = await api("GET", API + "/scenarios/" + from);
    if (res.status !== 200) return;
    current = id;
    $("ta-editor").hidden = false;
    $("ta-title").textContent = id;
    $("ta-source").value = res.data.source.replace(/^id: .*$/m, "id: " + id);
    $("ta-status").textContent = "";
    $("ta-problem").textContent = "";
  });

  $("ta-form").addEventListener("submit", async function (ev) {
    ev.preventDefault();
    const res = await api("POST", API + "/scenarios/" + current, { source: $("ta-source").value });
    if (res.status === 200) {
      $("ta-status").textContent = t("training_saved");
      $("ta-problem").textContent = "";
      list();
    } else {
      $("ta-status").textContent = "";
      $("ta-problem").textContent = errorText(res) + (res.data.fields ? "\n" + Object.values(res.data.fields).join("\n") : "");
    }
  });
  list();
})();
