/* tuneback admin charts: accuracy by version and the completion timeline, drawn as SVG from the progress JSON
   (the same payload admin.js polls), so they stay live. No dependencies. */
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";
  var W = 420, H = 220, M = { left: 44, right: 12, top: 14, bottom: 34 };

  function el(name, attrs, parent) {
    var node = document.createElementNS(NS, name);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (parent) { parent.appendChild(node); }
    return node;
  }
  function text(parent, x, y, content, attrs) {
    var t = el("text", Object.assign({ x: x, y: y, "font-size": 11, fill: "#1b1d21" }, attrs || {}), parent);
    t.textContent = content;
    return t;
  }
  function frame(holder, label) {
    holder.textContent = "";
    var svg = el("svg", { viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": label, width: "100%" }, holder);
    el("title", {}, svg).textContent = label;
    return svg;
  }
  /* Wilson 95% interval: stays inside [0, 1] */
  function wilson(k, n) {
    if (!n) { return [0, 1]; }
    var z = 1.959964, p = k / n, d = 1 + z * z / n, c = (p + z * z / (2 * n)) / d;
    var h = z * Math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d;
    return [Math.max(0, c - h), Math.min(1, c + h)];
  }
  function yAxis(svg, y) {
    [0, 0.25, 0.5, 0.75, 1].forEach(function (v) {
      el("line", { x1: M.left, x2: W - M.right, y1: y(v), y2: y(v), stroke: v === 0.5 ? "#5c6470" : "#e3e6ea",
                   "stroke-dasharray": v === 0.5 ? "4 3" : "" }, svg);
      text(svg, M.left - 6, y(v) + 4, Math.round(100 * v) + "%", { "text-anchor": "end" });
    });
  }

  function accuracy(holder, data) {
    var scored = data.participants.filter(function (p) { return p.trials_done > 0 && p.status !== "withdrawn"; });
    var versions = data.versions.map(function (v) { return v.version; });
    var y = function (v) { return M.top + (1 - v) * (H - M.top - M.bottom); };
    var band = (W - M.left - M.right) / Math.max(1, versions.length);
    var parts = [];
    var svg = frame(holder, "");
    yAxis(svg, y);
    text(svg, W - M.right, y(0.5) - 4, "chance", { "text-anchor": "end", fill: "#5c6470" });
    versions.forEach(function (v, i) {
      var mine = scored.filter(function (p) { return p.version === v; });
      var k = mine.reduce(function (s, p) { return s + p.correct; }, 0);
      var n = mine.reduce(function (s, p) { return s + p.trials_done; }, 0);
      var cx = M.left + band * (i + 0.5);
      mine.forEach(function (p, j) {
        el("circle", { cx: cx - 18 + (j % 7) * 2, cy: y(p.correct / p.trials_done), r: 2.5, fill: "#9aa3ad",
                       class: "listener-dot" }, svg);
      });
      if (n) {
        var ci = wilson(k, n);
        el("line", { x1: cx + 12, x2: cx + 12, y1: y(ci[0]), y2: y(ci[1]), stroke: "#1d5fd1", "stroke-width": 2 }, svg);
        el("circle", { cx: cx + 12, cy: y(k / n), r: 5, fill: "#1d5fd1", class: "version-mean" }, svg);
        parts.push("version " + v + ": " + Math.round(100 * k / n) + "% of " + n + " trials (95% CI " +
                   Math.round(100 * ci[0]) + "–" + Math.round(100 * ci[1]) + "%), " + mine.length + " listeners");
      } else {
        parts.push("version " + v + ": no answered trials yet");
        text(svg, M.left + band * (i + 0.5), y(0.75), "no answers yet", { "text-anchor": "middle", fill: "#5c6470" });
      }
      text(svg, cx, H - M.bottom + 16, "Version " + v, { "text-anchor": "middle" });
    });
    var label = "Accuracy by version (pooled, Wilson 95% CI; grey: listeners; dashed: chance). " + parts.join("; ") + ".";
    svg.setAttribute("aria-label", label);
    svg.querySelector("title").textContent = label;
  }

  function timeline(holder, data) {
    var done = data.participants.filter(function (p) { return p.status === "completed"; }).map(function (p) {
      var iso = p.started_utc.replace(" ", "T").replace(/(\.\d{3})\d+/, "$1");
      return Date.parse(iso + (/([zZ]|[+-]\d\d:?\d\d)$/.test(iso) ? "" : "Z"))
             + 1000 * p.time_used_s;
    }).filter(function (t) { return !isNaN(t); }).sort(function (a, b) { return a - b; });
    var started = data.participants.length;
    var now = Date.parse(data.now_utc);
    var label = done.length ? "Completion timeline: " + done.length + " of " + started + " started sessions completed, " +
      "the last at " + new Date(done[done.length - 1]).toISOString().slice(0, 16).replace("T", " ") + " UTC."
      : "Completion timeline: no session completed yet.";
    var svg = frame(holder, label);
    if (!done.length) { text(svg, W / 2, H / 2, "No completed sessions yet", { "text-anchor": "middle" }); return; }
    var t0 = done[0], t1 = Math.max(now, done[done.length - 1], t0 + 60000);
    var x = function (t) { return M.left + (t - t0) / (t1 - t0) * (W - M.left - M.right); };
    var y = function (n) { return M.top + (1 - n / done.length) * (H - M.top - M.bottom); };
    [0, Math.ceil(done.length / 2), done.length].forEach(function (n) {
      el("line", { x1: M.left, x2: W - M.right, y1: y(n), y2: y(n), stroke: "#e3e6ea" }, svg);
      text(svg, M.left - 6, y(n) + 4, String(n), { "text-anchor": "end" });
    });
    var d = "M" + x(t0) + "," + y(0);
    done.forEach(function (t, i) { d += " L" + x(t) + "," + y(i) + " L" + x(t) + "," + y(i + 1); });
    d += " L" + x(t1) + "," + y(done.length);
    el("path", { d: d, fill: "none", stroke: "#1a7f37", "stroke-width": 2, class: "completions" }, svg);
    [t0, t1].forEach(function (t, i) {
      text(svg, x(t), H - M.bottom + 16, new Date(t).toISOString().slice(5, 16).replace("T", " "),
           { "text-anchor": i ? "end" : "start" });
    });
    text(svg, M.left, H - 4, "completed sessions over time (UTC)", { fill: "#5c6470" });
  }

  window.tunebackCharts = {
    render: function (data) {
      var a = document.getElementById("chart-accuracy"), t = document.getElementById("chart-timeline");
      if (a) { accuracy(a, data); }
      if (t) { timeline(t, data); }
    }
  };
}());
