/* The supervisor's view: every active conversation and every counsellor's load. */
"use strict";

(function () {
  const { t, el, api } = HL;
  const convBody = document.querySelector("#sup-conversations tbody");
  const staffBody = document.querySelector("#sup-counsellors tbody");
  let pending = null;

  async function refresh() {
    pending = null;
    const res = await api("GET", "/console/api/supervisor");
    if (res.status !== 200) return;
    const rows = res.data.conversations.map(function (c) {
      return el("tr", { className: "prio-" + c.priority, dataset: { conversationId: c.conversation_id, state: c.state } }, [
        el("td", null, [el("span", { className: "badge prio-" + c.priority }, HL.priorityLabel(c.priority))]),
        el("td", null, t("s_" + c.state)),
        el("td", null, c.channel + " · " + c.language),
        el("td", null, HL.intentLabel(c.intent)),
        el("td", { className: "assignee" }, c.assigned_to || "–"),
        el("td", null, String(c.message_count)),
        el("td", null, [el("a", { href: "/console/conversations/" + c.conversation_id }, t("open_transcript"))]),
      ]);
    });
    convBody.replaceChildren.apply(convBody, rows);
    const staff = res.data.counsellors.map(function (u) {
      return el("tr", { className: u.load >= u.capacity ? "full" : "", dataset: { username: u.username } }, [
        el("td", null, u.display_name && u.display_name !== u.username ? u.display_name + " (" + u.username + ")" : u.username),
        el("td", null, u.role),
        el("td", { className: "load" }, String(u.load)),
        el("td", { className: "capacity" }, String(u.capacity)),
      ]);
    });
    staffBody.replaceChildren.apply(staffBody, staff);
  }

  function soon() {
    if (!pending) pending = setTimeout(refresh, 200);
  }

  refresh();
  setInterval(refresh, 15000);
  HL.live(function (msg) { if (msg.type === "queue") soon(); }, function () {}, function () {});
})();
