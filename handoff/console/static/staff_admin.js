/* The admin's page of staff accounts: list, create, edit, and the actions, each confirmed in a dialog. */
"use strict";

(function () {
  const t = HL.t;
  const el = HL.el;
  const tbody = document.querySelector("#st-users tbody");
  const notice = document.getElementById("st-notice");
  const problemBox = document.getElementById("st-problem");
  let users = [];

  function fill(text, values) {
    return text.replace(/\{(\w+)\}/g, (m, k) => (k in values ? String(values[k]) : m));
  }

  function say(text) {
    problemBox.hidden = true;
    notice.textContent = text;
  }

  function refuse(data, values) {
    notice.textContent = "";
    problemBox.hidden = false;
    problemBox.textContent = fill(t((data && data.error) || "invalid_input"), values || {});
  }

  function when(iso) {
    return iso ? new Date(iso).toLocaleString(document.documentElement.lang) : t("st_never");
  }

  function codes(id) {
    return document.getElementById(id).value.split(/[\s,]+/).filter(Boolean);
  }

  function status(u) {
    if (!u.active) return t("st_disabled");
    return u.locked ? t("st_locked") : t("st_enabled");
  }

  function confirmThen(text, action) {
    const dialog = document.getElementById("st-confirm");
    document.getElementById("st-confirm-text").textContent = text;
    const yes = document.getElementById("st-confirm-yes");
    const no = document.getElementById("st-confirm-no");
    function done(go) {
      yes.onclick = null;
      no.onclick = null;
      dialog.close();
      if (go) action();
    }
    yes.onclick = () => done(true);
    no.onclick = () => done(false);
    dialog.showModal();
  }

  function showPassword(text, password) {
    document.getElementById("st-password-text").textContent = text;
    document.getElementById("st-password-value").textContent = password;
    document.getElementById("st-password").showModal();
  }
  document.getElementById("st-password-close").addEventListener("click", () => {
    document.getElementById("st-password-value").textContent = "";
    document.getElementById("st-password").close();
  });

  async function act(u, action) {
    const res = await HL.api("POST", "/console/api/staff/" + u.id + "/" + action);
    if (res.status !== 200) return refuse(res.data);
    if (action === "reset-password") showPassword(fill(t("st_new_password"), { name: u.username }), res.data.password);
    else say(t("st_done"));
    await load();
  }

  const ACTIONS = [
    ["disable", "st_disable", (u) => u.active],
    ["enable", "st_enable", (u) => !u.active],
    ["reset-password", "st_reset_password", () => true],
    ["reset-2fa", "st_reset_2fa", (u) => u.second_factor],
    ["end-sessions", "st_end_sessions", () => true],
    ["delete", "st_delete", () => true],
  ];

  function row(u) {
    const buttons = [el("button", { type: "button", className: "st-edit", dataset: { user: u.username } }, t("st_edit"))];
    buttons[0].addEventListener("click", () => openEdit(u));
    for (const [action, label, shown] of ACTIONS) {
      if (!shown(u)) continue;
      const b = el("button", { type: "button", className: "st-" + action, dataset: { user: u.username } }, t(label));
      const key = "st_confirm_" + action.replace(/-/g, "_");
      b.addEventListener("click", () => confirmThen(fill(t(key), { name: u.username }), () => act(u, action)));
      buttons.push(b);
    }
    return el("tr", { dataset: { user: u.username } }, [
      el("td", null, u.username),
      el("td", null, u.display_name),
      el("td", null, t("role_" + u.role)),
      el("td", null, String(u.capacity)),
      el("td", null, u.municipality_code || "–"),
      el("td", { className: "st-spoken" }, (u.spoken_languages || []).join(", ")),
      el("td", { className: "st-status" }, status(u)),
      el("td", { className: "st-2fa" }, u.second_factor ? t("st_on") : t("st_off")),
      el("td", null, when(u.last_login_at)),
      el("td", { className: "actions" }, buttons),
    ]);
  }

  async function load() {
    const res = await HL.api("GET", "/console/api/staff");
    if (res.status !== 200) return refuse(res.data);
    users = res.data.users;
    tbody.replaceChildren(...users.map(row));
  }

  let editing = null;
  function openEdit(u) {
    editing = u;
    document.getElementById("st-edit-name").textContent = u.username;
    document.getElementById("st-edit-display").value = u.display_name;
    document.getElementById("st-edit-role").value = u.role;
    document.getElementById("st-edit-capacity").value = String(u.capacity);
    document.getElementById("st-edit-extension").value = u.extension || "";
    document.getElementById("st-edit-municipality").value = u.municipality_code || "";
    document.getElementById("st-edit-language").value = u.language;
    document.getElementById("st-edit-spoken").value = (u.spoken_languages || []).join(", ");
    document.getElementById("st-edit").showModal();
  }
  document.getElementById("st-edit-cancel").addEventListener("click", () => document.getElementById("st-edit").close());
  document.getElementById("st-edit-save").addEventListener("click", async () => {
    if (!editing) return;
    const municipality = document.getElementById("st-edit-municipality").value.trim();
    const body = {
      display_name: document.getElementById("st-edit-display").value,
      role: document.getElementById("st-edit-role").value,
      capacity: Number(document.getElementById("st-edit-capacity").value),
      extension: document.getElementById("st-edit-extension").value.trim(),
      municipality_code: municipality,
      language: document.getElementById("st-edit-language").value,
      spoken_languages: codes("st-edit-spoken"),
    };
    const res = await HL.api("POST", "/console/api/staff/" + editing.id + "/edit", body);
    document.getElementById("st-edit").close();
    if (res.status !== 200) return refuse(res.data, { code: municipality });
    say(t("st_saved"));
    await load();
  });

  document.getElementById("st-create").addEventListener("submit", async (event) => {
    event.preventDefault();
    const municipality = document.getElementById("st-new-municipality").value.trim();
    const body = {
      username: document.getElementById("st-new-username").value.trim(),
      display_name: document.getElementById("st-new-display").value.trim(),
      role: document.getElementById("st-new-role").value,
      capacity: Number(document.getElementById("st-new-capacity").value || "3"),
      municipality_code: municipality,
      language: document.getElementById("st-new-language").value,
      spoken_languages: codes("st-new-spoken"),
    };
    const res = await HL.api("POST", "/console/api/staff", body);
    if (res.status !== 201) return refuse(res.data, { code: municipality });
    event.target.reset();
    showPassword(fill(t("st_created"), { name: res.data.user.username }), res.data.password);
    await load();
  });

  load();
})();
