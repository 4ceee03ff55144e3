/* tuneback admin panel: refresh a study's live progress without reloading the page.
 *
 * Polls the JSON at #live[data-progress-url] every few seconds (slower while the tab is hidden) and rewrites
 * the version, participant and per-clip tables. Every value goes in through textContent, never as HTML.
 * No dependencies. */
(function () {
  "use strict";

  var live = document.getElementById("live");
  if (!live || !window.fetch) { return; }
  var url = live.getAttribute("data-progress-url");
  var participantUrl = live.getAttribute("data-participant-url");
  var INTERVAL_MS = 5000;
  var HIDDEN_INTERVAL_MS = 30000;
  var timer = null;
  var failures = 0;

  function pct(x) { return x === null || x === undefined ? "\u2013" : Math.round(100 * x) + "%"; }

  function duration(s) {
    if (s === null || s === undefined) { return "\u2013"; }
    s = Math.round(s);
    var m = Math.floor(s / 60), r = s % 60;
    return m + ":" + (r < 10 ? "0" : "") + r;
  }

  function cell(row, text, className) {
    var td = document.createElement("td");
    if (className) { td.className = className; }
    if (text instanceof Node) { td.appendChild(text); } else { td.textContent = text === null || text === undefined ? "" : String(text); }
    row.appendChild(td);
    return td;
  }

  function tag(text, className) {
    var span = document.createElement("span");
    span.className = className;
    span.textContent = text;
    return span;
  }

  function fill(tableId, rows, render, emptyText, columns) {
    var table = document.getElementById(tableId);
    if (!table) { return; }
    var body = document.createElement("tbody");
    rows.forEach(function (item) {
      var tr = document.createElement("tr");
      render(tr, item);
      body.appendChild(tr);
    });
    if (!rows.length && emptyText) {
      var tr = document.createElement("tr");
      cell(tr, emptyText).colSpan = columns;
      body.appendChild(tr);
    }
    table.replaceChild(body, table.tBodies[0]);
  }

  function renderVersion(tr, v) {
    var first = document.createElement("span");
    first.textContent = String(v.version);
    var wrap = document.createDocumentFragment();
    wrap.appendChild(first);
    if (v.full) { wrap.appendChild(document.createTextNode(" ")); wrap.appendChild(tag("full", "tag")); }
    cell(tr, wrap);
    ["quota", "filled", "started", "active", "completed", "timed_out", "abandoned", "screened_out", "withdrawn"].forEach(function (k) {
      cell(tr, v[k], "num");
    });
  }

  function renderParticipant(tr, p) {
    var link = document.createElement("a");
    link.href = participantUrl.replace(/\/0$/, "/" + p.session_id);
    link.textContent = p.listener;
    cell(tr, link);
    cell(tr, p.version);
    cell(tr, tag(p.erased ? "erased" : p.status, "status-tag " + p.status));
    cell(tr, p.stage);
    cell(tr, p.practice_done + "/" + p.practice_total, "num");
    cell(tr, p.trials_done + "/" + p.trials_total, "num");
    cell(tr, pct(p.accuracy) + (p.trials_done ? " (" + p.correct + "/" + p.trials_done + ")" : ""), "num");
    cell(tr, p.catch_total ? p.catch_correct + "/" + p.catch_done : "", "num");
    cell(tr, p.too_fast, "num");
    cell(tr, duration(p.time_used_s), "num");
    cell(tr, p.prolific_pid || "");
    cell(tr, p.headphone_passed === null ? "" : (p.headphone_passed ? "passed" : "failed"));
    cell(tr, p.started_utc.slice(0, 19).replace("T", " "), "nowrap");
  }

  function renderClip(tr, c) {
    [c.clip, c.song, c.position, c.eeg_participant, c.half].forEach(function (x) { cell(tr, x); });
    cell(tr, c.match_correct + "/" + c.match_n, "num");
    cell(tr, pct(c.match_accuracy), "num");
    cell(tr, c.foil_correct + "/" + c.foil_n, "num");
    cell(tr, pct(c.foil_accuracy), "num");
  }

  function render(data) {
    fill("versions", data.versions, renderVersion);
    fill("participants", data.participants, renderParticipant, "No participants yet.", 13);
    fill("clips", data.clips, renderClip);
    if (window.tunebackCharts) { window.tunebackCharts.render(data); }
    var state = document.getElementById("study-state");
    if (state) { state.textContent = data.study.state; state.className = "state " + data.study.state; }
    var previews = document.getElementById("previews");
    if (previews) { previews.textContent = String(data.previews); }
    var updated = document.getElementById("updated");
    if (updated) { updated.textContent = "as of " + data.now_utc.slice(0, 19).replace("T", " ") + " UTC"; updated.className = "muted small"; }
  }

  function showProblem(text) {
    var updated = document.getElementById("updated");
    if (updated) { updated.textContent = text; updated.className = "small stale"; }
  }

  function schedule() {
    clearTimeout(timer);
    var wait = document.hidden ? HIDDEN_INTERVAL_MS : INTERVAL_MS;
    timer = setTimeout(poll, Math.min(wait * Math.pow(2, Math.min(failures, 3)), 60000));
  }

  function poll() {
    clearTimeout(timer);
    fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (response.status === 401) {
          showProblem("logged out \u2013 reload the page to log in again");
          failures = 10;
          return null;
        }
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (data) {
        if (data) { failures = 0; render(data); }
      })
      .catch(function () {
        failures += 1;
        showProblem("not updating (connection problem); retrying");
      })
      .then(function () { if (failures < 10) { schedule(); } });
  }

  document.addEventListener("visibilitychange", function () { if (!document.hidden && failures < 10) { poll(); } });
  poll();  /* at once: the charts are drawn from the first answer */
}());
