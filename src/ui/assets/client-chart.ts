// Browser code: the overview's chart. Counts (claimable, in flight) and a rate (completed per second) have
// different scales, so they get different axes: counts on the left, the rate on the right; a busy queue's
// 10,000 claimable jobs would otherwise flatten a rate of 40/s onto the floor. Colours come from the
// stylesheet's custom properties, so the chart follows light and dark mode.
export const CLIENT_CHART = String.raw`
var SERIES = [
  { key: 'claimable', label: 'claimable now', axis: 'left', color: '--c-claimable' },
  { key: 'inFlight', label: 'in flight', axis: 'left', color: '--c-inflight' },
  { key: 'throughput', label: 'completed / s (right axis, from /metrics)', axis: 'right', color: '--c-rate' },
];
var history = []; // kept across visits so the chart does not restart from nothing
var lastCompleted = null;

/** Sum of arbiter_jobs_completed_total over queues, or null when /metrics is absent. */
var metricsMissing = false; // a 404 once means this server exposes no /metrics: stop asking
async function completedTotal() {
  if (metricsMissing) return null;
  try {
    var text = await api('/metrics', { raw: true });
    var total = 0;
    text.split('\n').forEach(function (line) {
      var m = /^arbiter_jobs_completed_total(\{[^}]*\})?\s+([0-9.eE+-]+)/.exec(line);
      if (m) total += Number(m[2]);
    });
    return total;
  } catch (e) { if (e.status === 404) metricsMissing = true; return null; }
}

/** Adds one reading (summed counts) to the history, with the completion rate since the last one. */
async function recordPoint(claimable, inFlight) {
  var now = Date.now();
  var completed = await completedTotal();
  var point = { t: now, claimable: claimable, inFlight: inFlight, throughput: null };
  if (completed !== null && lastCompleted !== null && now > lastCompleted.t) {
    point.throughput = Math.max(0, (completed - lastCompleted.v) / ((now - lastCompleted.t) / 1000));
  }
  if (completed !== null) lastCompleted = { t: now, v: completed };
  history.push(point);
  if (history.length > 120) history.shift();
}

/** A round upper bound for an axis (1, 2, 5 × 10^n) at or above the largest value. */
function niceMax(v) {
  if (!(v > 0)) return 1;
  var p = Math.pow(10, Math.floor(Math.log10(v)));
  return [1, 2, 5, 10].map(function (k) { return k * p; }).find(function (m) { return m >= v; });
}
function axisLabel(v) { return v >= 1000 ? compactNumber(v) : v >= 10 || v === 0 ? String(Math.round(v)) : v.toFixed(1); }

function drawChart(canvas) {
  var css = getComputedStyle(document.documentElement);
  var color = function (name) { return css.getPropertyValue(name).trim() || '#888'; };
  var dpr = window.devicePixelRatio || 1;
  var w = canvas.clientWidth || 600, hgt = canvas.clientHeight || 220;
  canvas.width = Math.round(w * dpr); canvas.height = Math.round(hgt * dpr);
  var g = canvas.getContext('2d');
  if (!g) return;
  g.scale(dpr, dpr);
  g.clearRect(0, 0, w, hgt);
  var pad = { l: 44, r: 44, t: 10, b: 22 };
  var max = { left: 0, right: 0 };
  history.forEach(function (p) { SERIES.forEach(function (s) { if (p[s.key] != null) max[s.axis] = Math.max(max[s.axis], p[s.key]); }); });
  max.left = niceMax(max.left); max.right = niceMax(max.right);
  // What the axes show, for people reading the page source and for tests (a canvas has no text).
  canvas.setAttribute('data-left-max', String(max.left));
  canvas.setAttribute('data-right-max', String(max.right));
  var x = function (i) { return pad.l + (history.length < 2 ? 0 : (i * (w - pad.l - pad.r)) / (history.length - 1)); };
  var y = function (v, axis) { return hgt - pad.b - (v / max[axis]) * (hgt - pad.t - pad.b); };
  g.lineWidth = 1; g.font = '11px system-ui, sans-serif';
  for (var k = 0; k <= 4; k++) {
    var yy = y((max.left * k) / 4, 'left');
    g.strokeStyle = color('--line'); g.beginPath(); g.moveTo(pad.l, yy); g.lineTo(w - pad.r, yy); g.stroke();
    g.fillStyle = color('--muted'); g.fillText(axisLabel((max.left * k) / 4), 4, yy + 4);
    g.fillStyle = color('--c-rate');
    var right = axisLabel((max.right * k) / 4);
    g.fillText(right, w - g.measureText(right).width - 4, yy + 4);
  }
  g.fillStyle = color('--muted');
  if (history.length) {
    g.fillText(new Date(history[0].t).toISOString().slice(11, 19), pad.l, hgt - 6);
    var last = new Date(history[history.length - 1].t).toISOString().slice(11, 19);
    g.fillText(last, w - pad.r - g.measureText(last).width, hgt - 6);
  }
  SERIES.forEach(function (s) {
    g.strokeStyle = color(s.color); g.lineWidth = 2; g.beginPath();
    var started = false;
    history.forEach(function (p, i) {
      if (p[s.key] == null) return;
      if (!started) { g.moveTo(x(i), y(p[s.key], s.axis)); started = true; } else g.lineTo(x(i), y(p[s.key], s.axis));
    });
    g.stroke();
  });
}

function chartLegend() {
  var legend = h('div', { class: 'legend' }, SERIES.map(function (s) {
    return h('span', { 'data-axis': s.axis }, h('span', { class: 'sw', 'data-color': s.color }), s.label);
  }));
  // Swatch colours are set through CSSOM (allowed by the CSP), not a style attribute.
  legend.querySelectorAll('.sw').forEach(function (sw) { sw.style.background = 'var(' + sw.getAttribute('data-color') + ')'; });
  return legend;
}
`;
