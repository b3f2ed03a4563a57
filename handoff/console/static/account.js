/* My account: my sessions (end any of them) and my second factor (enrol, new recovery codes, off). */
"use strict";

(function () {
  const t = HL.t;
  const el = HL.el;
  const notice = document.getElementById("ac-notice");
  const problemBox = document.getElementById("ac-problem");
  const byId = (id) => document.getElementById(id);

  function say(text) {
    problemBox.hidden = true;
    notice.textContent = text;
  }
  function refuse(data) {
    notice.textContent = "";
    problemBox.hidden = false;
    problemBox.textContent = t((data && data.error) || "invalid_input");
  }
  function when(iso) {
    return new Date(iso).toLocaleString(document.documentElement.lang);
  }

  function showCodes(codes) {
    byId("ac-recovery-codes").replaceChildren(...codes.map((c) => el("li", null, [el("code", null, c)])));
    byId("ac-tf-recovery").hidden = false;
  }

  async function load() {
    const res = await HL.api("GET", "/console/api/account");
    if (res.status !== 200) return refuse(res.data);
    const a = res.data;
    byId("ac-sessions").querySelector("tbody").replaceChildren(
      ...a.sessions.map((s) => {
        const end = el("button", { type: "button", className: "ac-end" }, s.current ? t("ac_this_session") + ": " + t("ac_end") : t("ac_end"));
        end.addEventListener("click", async () => {
          const r = await HL.api("POST", "/console/api/account/sessions/" + s.id + "/end");
          if (r.status !== 200) return refuse(r.data);
          if (s.current) {
            window.location.assign("/console/login");
            return;
          }
          say(t("st_done"));
          await load();
        });
        return el("tr", { dataset: { session: s.id } }, [
          el("td", null, when(s.created_at)),
          el("td", null, when(s.last_seen_at)),
          s.browser ? el("td", { attrs: { translate: "no" } }, s.browser) : el("td", null, t("ac_unknown_browser")),
          el("td", null, [end]),
        ]);
      })
    );
    const state = a.second_factor ? t("ac_tf_on").replace("{left}", String(a.recovery_codes_left)) : t("ac_tf_off_state");
    byId("ac-tf-state").textContent = a.second_factor_required ? state + " " + t("ac_tf_required") : state;
    byId("ac-tf-start").hidden = a.second_factor;
    byId("ac-tf-form").hidden = !a.second_factor;
    byId("ac-tf-confirm").hidden = true;
    byId("ac-tf-codes").hidden = !a.second_factor;
    byId("ac-tf-off").hidden = !a.second_factor || a.second_factor_required;
  }

  byId("ac-tf-start").addEventListener("click", async () => {
    const res = await HL.api("POST", "/console/api/account/2fa/start");
    if (res.status !== 200) return refuse(res.data);
    byId("ac-tf-qr").src = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(res.data.qr_svg);
    byId("ac-tf-secret").textContent = res.data.secret;
    byId("ac-tf-uri").textContent = res.data.uri;
    byId("ac-tf-enrol").hidden = false;
    byId("ac-tf-form").hidden = false;
    byId("ac-tf-confirm").hidden = false;
    byId("ac-tf-start").hidden = true;
  });

  async function withCode(path) {
    const res = await HL.api("POST", path, { code: byId("ac-tf-code").value.trim() });
    byId("ac-tf-code").value = "";
    if (res.status !== 200) return refuse(res.data);
    if (res.data.recovery_codes) showCodes(res.data.recovery_codes);
    byId("ac-tf-enrol").hidden = true;
    say(t("st_done"));
    await load();
  }
  byId("ac-tf-form").addEventListener("submit", (event) => {
    event.preventDefault();
    withCode("/console/api/account/2fa/confirm");
  });
  byId("ac-tf-codes").addEventListener("click", () => withCode("/console/api/account/2fa/recovery-codes"));
  byId("ac-tf-off").addEventListener("click", () => withCode("/console/api/account/2fa/off"));

  load();
})();
