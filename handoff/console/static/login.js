/* The login page and its second step (the code, or the enrolment): the click that signs in is a
   user gesture on this origin.  Starting (and resuming) an AudioContext in it lets the browser's autoplay policy allow sound on the console
   page that follows, where the browser carries that gesture over a same-origin navigation
   (Chromium does); the console says so plainly where it does not. */
"use strict";

(function () {
  const form = document.getElementById("login-form");
  if (!form) return;
  form.addEventListener("submit", function () {
    try {
      const Ctx = window.AudioContext || window.webkitAudioContext;
      if (!Ctx) return;
      const ctx = new Ctx();
      // A silent, one-sample sound: enough for the browser to count this page as having played.
      const buffer = ctx.createBuffer(1, 1, 22050);
      const source = ctx.createBufferSource();
      source.buffer = buffer;
      source.connect(ctx.destination);
      source.start(0);
      if (ctx.state === "suspended") ctx.resume();
    } catch (e) { /* no sound here: the console will say so */ }
  });
})();
