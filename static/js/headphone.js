/* tuneback headphone page: volume slider and Huggins-pitch sounds through Web Audio. No dependencies. */
(function () {
  "use strict";
  var root = document.getElementById("hp");
  if (!root) return;
  var CSRF = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var ctx = null, gain = null, source = null, buffers = {}, queue = [];
  var slider = document.getElementById("volume-slider"), hidden = document.getElementById("volume");
  var statusEl = document.getElementById("hp-status");
  var T = {};  /* translated by the server: the template renders experiment.i18n.js_strings() as JSON */
  try { T = JSON.parse((document.getElementById("i18n") || {}).textContent || "{}"); } catch (e) { T = {}; }

  function ensure() {
    var AC = window.AudioContext || window.webkitAudioContext;
    if (!ctx) { ctx = new AC(); gain = ctx.createGain(); gain.gain.value = Number(slider.value); gain.connect(ctx.destination); }
    return ctx.resume ? ctx.resume() : Promise.resolve();
  }
  function decode(data) {
    return new Promise(function (resolve, reject) {
      var p = ctx.decodeAudioData(data, resolve, reject);
      if (p && p.then) p.then(resolve, reject);
    });
  }
  async function buffer(slot, url) {
    if (!buffers[slot]) {
      var r = await fetch(url, { credentials: "same-origin", cache: "no-store" });
      if (!r.ok) throw new Error("HTTP " + r.status);
      buffers[slot] = await decode(await r.arrayBuffer());
    }
    return buffers[slot];
  }
  function log(kind, slot, detail) { queue.push({ kind: kind, slot: slot, t: Math.round(performance.now()), detail: detail || null }); }
  function flush() {
    if (!queue.length) return;
    var batch = queue.splice(0, 100);
    fetch(root.dataset.eventsUrl, { method: "POST", credentials: "same-origin", keepalive: true,
      headers: { "Content-Type": "application/json", "X-CSRFToken": CSRF }, body: JSON.stringify({ events: batch }) })
      .catch(function () { queue = batch.concat(queue); });
  }
  setInterval(flush, 3000);

  Array.prototype.forEach.call(root.querySelectorAll("[data-play]"), function (button) {
    button.addEventListener("click", async function () {
      try {
        await ensure();
        statusEl.textContent = T.loading || "…";
        var b = await buffer(button.dataset.play, button.dataset.url);
        statusEl.textContent = "";
        if (source) { try { source.stop(); } catch (e) {} }
        source = ctx.createBufferSource(); source.buffer = b; source.connect(gain); source.start(0);
        log("play", button.dataset.play);
      } catch (e) {
        statusEl.textContent = T.play_failed || "!";
        log("audio_error", button.dataset.play, { message: String(e) });
      }
    });
  });
  slider.addEventListener("input", function () {
    hidden.value = slider.value;
    if (gain) gain.gain.value = Number(slider.value);
  });
  slider.addEventListener("change", function () { log("volume", null, { value: Number(slider.value) }); });
  document.getElementById("hp-form").addEventListener("submit", flush);
})();
