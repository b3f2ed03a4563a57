/* The supervisor page's care section: who handled critical contacts in the shift, and the debrief notes. */
"use strict";

(function () {
  const { t, el, api } = HL;
  const handled = document.querySelector("#care-handled tbody");
  const handledEmpty = document.getElementById("care-handled-empty");
  const notes = document.getElementById("care-debriefs");
  const notesEmpty = document.getElementById("care-debriefs-empty");
  if (!handled) return;

  async function load() {
    const res = await api("GET", "/console/api/care/shift");
    if (res.status !== 200) return;
    handled.replaceChildren.apply(handled, res.data.critical_handled.map(function (h) {
      return el("tr", { dataset: { username: h.username } }, [
        el("td", null, h.display_name || h.username),
        el("td", null, String(h.count)),
        el("td", null, HL.formatStamp(h.last_at)),
      ]);
    }));
    handledEmpty.hidden = res.data.critical_handled.length > 0;
    notes.replaceChildren.apply(notes, res.data.debriefs.map(function (n) {
      return el("li", { className: "care-debrief" }, [
        el("strong", null, n.author + " · " + HL.formatStamp(n.created_at)),
        el("p", null, n.note),
      ]);
    }));
    notesEmpty.hidden = res.data.debriefs.length > 0;
  }
  load();
  setInterval(load, 60000);
})();
