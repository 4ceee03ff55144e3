/* tuneback AB-X page: preload + decode X/A/B (Web Audio), keyboard, countdown, retried answers. No dependencies. */
(function () {
  "use strict";
  var root = document.getElementById("abx");
  if (!root) return;
  var URLS = { state: root.dataset.stateUrl, present: root.dataset.presentUrl, answer: root.dataset.answerUrl, events: root.dataset.eventsUrl };
  var CSRF = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var PENDING_KEY = "tuneback.pending." + URLS.answer;
  var $ = function (id) { return document.getElementById(id); };
  /* the page's strings, translated by the server (templates render experiment.i18n.js_strings() as JSON) */
  var T = {};
  try { T = JSON.parse(($("i18n") || {}).textContent || "{}"); } catch (e) { T = {}; }
  function t(key, values) {
    var text = T[key] || key;
    Object.keys(values || {}).forEach(function (k) { text = text.split("{" + k + "}").join(String(values[k])); });
    return text;
  }
  var ctx = null, gain = null, source = null, buffers = {}, played = {}, heard = {}, state = null, trial = null;
  var enabled = false, busy = false, deadline = 0, timerId = 0, queue = [], started = false;
  var playing = null;  /* the play under way: {slot, source, start, duration, state, latency} (the playback log) */

  function now() { return (window.performance && performance.now) ? performance.now() : Date.now(); }
  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var b = new Uint8Array(16); crypto.getRandomValues(b);
    return Array.prototype.map.call(b, function (x) { return ("0" + x.toString(16)).slice(-2); }).join("");
  }
  function status(text) { $("status").textContent = text || ""; }
  function show(panel) {
    ["start-panel", "intermission-panel", "trial-panel", "feedback-panel"].forEach(function (id) { $(id).hidden = id !== panel; });
  }
  function sleep(ms) { return new Promise(function (r) { setTimeout(r, ms); }); }

  /* ---- network: JSON with the CSRF header; network errors and 5xx are retried with backoff ---- */
  function send(method, url, body) {
    return fetch(url, {
      method: method, credentials: "same-origin", cache: "no-store",
      headers: { "Content-Type": "application/json", "X-CSRFToken": CSRF, "Accept": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (j) { return { status: r.status, body: j }; });
    });
  }
  async function reliable(method, url, body) {
    for (var attempt = 0; ; attempt++) {
      try {
        var res = await send(method, url, body);
        if (res.status < 500) { if (attempt) status(""); return res; }
      } catch (e) { /* offline or server restarting: try again */ }
      status(t("retrying"));
      await sleep(Math.min(8000, 400 * Math.pow(2, attempt)));
    }
  }

  /* ---- events: batched, flushed every 2 s, on answers and when the page hides ---- */
  function log(kind, slot, detail) {
    queue.push({ kind: kind, slot: slot || null, trial: trial ? trial.id : null, t: Math.round(now()), detail: detail || null });
  }
  function flush(keepalive) {
    if (!queue.length) return Promise.resolve();
    var batch = queue.splice(0, 100);
    return fetch(URLS.events, {
      method: "POST", credentials: "same-origin", keepalive: !!keepalive,
      headers: { "Content-Type": "application/json", "X-CSRFToken": CSRF }, body: JSON.stringify({ events: batch })
    }).catch(function () { queue = batch.concat(queue); });
  }
  setInterval(flush, 2000);
  document.addEventListener("visibilitychange", function () {
    log(document.hidden ? "hidden" : "visible");
    if (document.hidden) { cut("hidden"); flush(true); }
  });
  if (navigator.mediaDevices && navigator.mediaDevices.addEventListener) {
    navigator.mediaDevices.addEventListener("devicechange", function () { cut("device_change"); });
  }

  /* ---- audio: unlocked on the first gesture (Safari/iOS), all three decoded before answers open ---- */
  function unlock() {
    var AC = window.AudioContext || window.webkitAudioContext;
    if (!ctx) {
      ctx = new AC(); gain = ctx.createGain(); gain.connect(ctx.destination);
      ctx.onstatechange = function () { if (ctx.state !== "running") cut("suspended"); };
    }
    var silent = ctx.createBuffer(1, 1, 22050), s = ctx.createBufferSource();
    s.buffer = silent; s.connect(ctx.destination); s.start(0);
    return ctx.resume ? ctx.resume() : Promise.resolve();
  }
  function decode(data) {
    return new Promise(function (resolve, reject) {
      var p = ctx.decodeAudioData(data, resolve, reject);
      if (p && p.then) p.then(resolve, reject);
    });
  }
  async function load(urls) {
    var out = {};
    for (const slot of ["x", "a", "b"]) {  /* always the same order, so request order tells nothing */
      for (var attempt = 0; ; attempt++) {
        try {
          var r = await fetch(urls[slot], { credentials: "same-origin", cache: "no-store" });
          if (!r.ok) throw new Error("HTTP " + r.status);
          out[slot] = await decode(await r.arrayBuffer());
          break;
        } catch (e) {
          if (attempt >= 4) { log("audio_error", slot, { message: String(e) }); throw e; }
          await sleep(500 * (attempt + 1));
        }
      }
    }
    return out;
  }
  /* ---- the playback log: per play, the context's state, start and end on the audio clock, output latency,
     and whether it ended or was cut (and why); the analysis flags trials where a clip never sounded or was cut ---- */
  function finish(outcome, cause) {
    var p = playing; if (!p) return;
    playing = null;
    log("playback", p.slot, { ctx_state: p.state, start_s: p.start, end_s: ctx ? ctx.currentTime : null,
      duration_s: p.duration, output_latency_s: p.latency, outcome: outcome, cause: cause || null });
  }
  function cut(cause) {  /* interrupted from outside: the tab hid, the output device changed, the context stopped */
    if (!playing) return;
    var s = playing.source;
    finish("cut", cause);
    try { s.onended = null; s.stop(); } catch (e) {}
    if (source === s) source = null;
    stopped();
  }
  function stopped() {
    Array.prototype.forEach.call(document.querySelectorAll(".play"), function (b) { b.classList.remove("playing"); });
  }
  function stop(cause) {
    if (source) {
      if (playing && playing.source === source) finish("cut", cause || "stopped");
      try { source.onended = null; source.stop(); } catch (e) {}
      log("stop"); source = null;
    }
    stopped();
  }
  function play(slot) {
    if (!buffers[slot] || !ctx) return;
    stop("replaced");
    var s = ctx.createBufferSource();
    s.buffer = buffers[slot]; s.connect(gain);
    var button = document.querySelector('.play[data-slot="' + slot + '"]');
    button.classList.add("playing");
    s.onended = function () {
      button.classList.remove("playing"); if (source === s) source = null;
      if (playing && playing.source === s) finish("ended");
      log("ended", slot); heard[slot] = true; allowAnswers();
    };
    source = s; s.start(0);
    playing = { slot: slot, source: s, start: ctx.currentTime, duration: s.buffer.duration, state: ctx.state,
                latency: (typeof ctx.outputLatency === "number" ? ctx.outputLatency : ctx.baseLatency) || null };
    log(played[slot] ? "replay" : "play", slot); played[slot] = true;
    allowAnswers();
  }
  /* an answer only once X, A and B have each been played (no key answers before A and B have sounded) */
  function allHeard() { return !!(played.x && played.a && played.b); }
  function allowAnswers() { setEnabled(deadline > now() && allHeard() && !busy); if (allHeard()) $("answer-hint").hidden = true; }

  /* ---- the trial loop ---- */
  function setEnabled(on) {
    enabled = on;
    Array.prototype.forEach.call(document.querySelectorAll(".answer"), function (b) { b.disabled = !on; });
  }
  function setPlayable(on) {
    Array.prototype.forEach.call(document.querySelectorAll(".play"), function (b) { b.disabled = !on; });
  }
  function progress(st) {
    var p = st.progress, cur = st.trial;
    $("progress").max = p.practice_total + p.trials_total;
    $("progress").value = p.practice_done + p.trials_done;
    if (cur) $("phase").textContent = t(cur.practice ? "practice_of" : "trial_of", { n: cur.index, total: cur.total });
  }
  function countdown() {
    clearInterval(timerId);
    var tick = function () {
      var left = Math.max(0, deadline - now());
      $("countdown").textContent = t("seconds_left", { n: Math.ceil(left / 1000) });
      if (left <= 0) { clearInterval(timerId); setEnabled(false); setPlayable(false); stop("time_up"); status(t("time_up")); setTimeout(refresh, 1200); }
    };
    tick(); timerId = setInterval(tick, 250);
  }
  async function refresh() { var res = await reliable("GET", URLS.state); await render(res.body); }
  async function render(st) {
    if (!st || !st.stage) { status(t("went_wrong")); return; }
    state = st; progress(st);
    if (st.redirect) { flush(true); window.location.assign(st.redirect); return; }
    trial = st.trial; played = {}; heard = {}; buffers = {};
    setEnabled(false); setPlayable(false); clearInterval(timerId); $("countdown").textContent = "–";
    var pending = readPending();
    if (pending && pending.trial === trial.id) { await submit(pending.answer, pending); return; }
    if (!trial.presented && st.intermission) { show("intermission-panel"); $("continue").focus(); return; }
    if (!trial.presented) {
      var res = await reliable("POST", URLS.present, { trial: trial.id });
      if (res.status !== 200) { return render(res.body.state || null); }
      st = res.body; state = st; trial = st.trial;
    }
    if (trial.remaining_ms <= 0) { status(t("time_up")); setTimeout(refresh, 1500); return; }
    show("trial-panel"); status(t("loading_sounds"));
    deadline = now() + trial.remaining_ms;
    countdown();
    try { buffers = await load(trial.audio); }
    catch (e) { status(t("load_failed")); return; }
    if (gain) gain.gain.value = st.volume;
    log("ready");
    status(""); setPlayable(true); $("answer-hint").hidden = false; allowAnswers();
    document.querySelector('.play[data-slot="x"]').focus();
  }

  function readPending() { try { return JSON.parse(sessionStorage.getItem(PENDING_KEY) || "null"); } catch (e) { return null; } }
  function writePending(p) { try { if (p) sessionStorage.setItem(PENDING_KEY, JSON.stringify(p)); else sessionStorage.removeItem(PENDING_KEY); } catch (e) {} }

  async function submit(side, pending) {
    if (busy) return;
    busy = true; setEnabled(false); setPlayable(false); stop("answered"); clearInterval(timerId);  /* answered: the clock must not run on into the feedback screen */
    var p = pending || { trial: trial.id, answer: side, id: uuid() };
    writePending(p);  /* survives a reload: the same id is sent again, so the answer counts once */
    if (pending) log("retry");
    await flush();  /* the plays reach the server before the answer (a study may require X, A and B played) */
    var res = await reliable("POST", URLS.answer, { trial: p.trial, answer: p.answer, id: p.id });
    writePending(null); busy = false;
    if (res.status === 409 && res.body && res.body.error === "not_listened") {  /* listen first, then answer again */
      setPlayable(true); allowAnswers(); countdown(); status(t("not_listened")); return;
    }
    if (res.status === 200 && res.body.feedback) {
      var fb = res.body.feedback;
      $("feedback").textContent = fb.correct ? t("correct") : t("not_quite", { side: fb.correct_side });
      $("feedback").className = "feedback " + (fb.correct ? "correct" : "incorrect");
      show("feedback-panel"); $("next").focus();
      $("next").onclick = function () { render(res.body.state); };
      return;
    }
    if (res.status === 200) { saved(res.body.state); return render(res.body.state); }
    if (res.body && res.body.state) return render(res.body.state);
    status(t("not_saved"));
  }

  /* a visible saved step: the answer is stored, and the next trial is a new one */
  function saved(next) {
    var done = next && next.progress ? next.progress.trials_done : null;
    var total = next && next.progress ? next.progress.trials_total : null;
    var note = $("saved-note");  /* stays until the next answer: the new trial is seen to be a new one */
    note.textContent = done !== null ? t("saved_n", { n: done, total: total }) : t("saved");
    note.classList.remove("flash"); void note.offsetWidth; note.classList.add("flash");
    var panel = $("trial-panel"); panel.classList.remove("saved"); void panel.offsetWidth; panel.classList.add("saved");
  }

  /* ---- wiring ---- */
  $("start").addEventListener("click", function () {
    if (started) return; started = true;
    unlock().then(function () { log("unlock"); }).catch(function () {});
    refresh();
  });
  $("continue").addEventListener("click", async function () {
    var res = await reliable("POST", URLS.present, { trial: trial.id });
    render(res.body.state || res.body);
  });
  Array.prototype.forEach.call(document.querySelectorAll(".play"), function (b) {
    b.addEventListener("click", function () { play(b.dataset.slot); });
  });
  Array.prototype.forEach.call(document.querySelectorAll(".answer"), function (b) {
    b.addEventListener("click", function () { if (enabled) submit(b.dataset.answer); });
  });
  document.addEventListener("keydown", function (e) {
    if (e.altKey || e.ctrlKey || e.metaKey || !started) return;
    var k = e.key.toLowerCase();
    if (!$("trial-panel").hidden) {
      if (k === "x") play("x"); else if (k === "1") play("a"); else if (k === "2") play("b");
      else if ((k === "a" || k === "b") && enabled) submit(k.toUpperCase());
      else if (k === "a" || k === "b") status(t("play_all_first"));
      else return;
      e.preventDefault();
    }
  });
  log("reload");
  $("start").focus();
})();
