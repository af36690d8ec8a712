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

/**
 * A canvas ready to draw on at the device's pixel ratio, with the stylesheet's colours: what both charts
 * start from. Null when the browser gives no 2D context.
 */
function chartFrame(canvas) {
  var css = getComputedStyle(document.documentElement);
  var dpr = window.devicePixelRatio || 1;
  var w = canvas.clientWidth || 600, hgt = canvas.clientHeight || 220;
  canvas.width = Math.round(w * dpr); canvas.height = Math.round(hgt * dpr);
  var g = canvas.getContext('2d');
  if (!g) return null;
  g.scale(dpr, dpr);
  g.clearRect(0, 0, w, hgt);
  var pad = { l: 44, r: 44, t: 10, b: 22 };
  var f = {
    g: g, w: w, hgt: hgt, pad: pad, max: { left: 0, right: 0 },
    color: function (name) { return css.getPropertyValue(name).trim() || '#888'; },
    y: function (v, axis) { return hgt - pad.b - (v / f.max[axis]) * (hgt - pad.t - pad.b); },
  };
  return f;
}

/**
 * Scales both axes to the points' largest values (round bounds) and writes them on the canvas as
 * data-left-max / data-right-max, for people reading the page source and for tests (a canvas has no text).
 */
function chartScale(f, canvas, points, series) {
  points.forEach(function (p) { series.forEach(function (s) { if (p[s.key] != null) f.max[s.axis] = Math.max(f.max[s.axis], p[s.key]); }); });
  f.max.left = niceMax(f.max.left); f.max.right = niceMax(f.max.right);
  canvas.setAttribute('data-left-max', String(f.max.left));
  canvas.setAttribute('data-right-max', String(f.max.right));
}

/** Four grid lines with the left axis's labels, and the right axis's in rightColor. */
function chartGrid(f, rightColor) {
  var g = f.g;
  g.lineWidth = 1; g.font = '11px system-ui, sans-serif';
  for (var k = 0; k <= 4; k++) {
    var yy = f.y((f.max.left * k) / 4, 'left');
    g.strokeStyle = f.color('--line'); g.beginPath(); g.moveTo(f.pad.l, yy); g.lineTo(f.w - f.pad.r, yy); g.stroke();
    g.fillStyle = f.color('--muted'); g.fillText(axisLabel((f.max.left * k) / 4), 4, yy + 4);
    var right = axisLabel((f.max.right * k) / 4);
    g.fillStyle = f.color(rightColor);
    g.fillText(right, f.w - g.measureText(right).width - 4, yy + 4);
  }
  g.fillStyle = f.color('--muted');
}

/** The first and last time labels under the chart. */
function chartTimes(f, first, last) {
  f.g.fillText(first, f.pad.l, f.hgt - 6);
  f.g.fillText(last, f.w - f.pad.r - f.g.measureText(last).width, f.hgt - 6);
}

/** A legend of the series: a swatch and a label each, marked with its axis. */
function seriesLegend(series) {
  var legend = h('div', { class: 'legend' }, series.map(function (s) {
    return h('span', { 'data-axis': s.axis }, h('span', { class: 'sw', 'data-color': s.color }), s.label);
  }));
  // Swatch colours are set through CSSOM (allowed by the CSP), not a style attribute.
  legend.querySelectorAll('.sw').forEach(function (sw) { sw.style.background = 'var(' + sw.getAttribute('data-color') + ')'; });
  return legend;
}

function drawChart(canvas) {
  var f = chartFrame(canvas);
  if (!f) return;
  var g = f.g;
  chartScale(f, canvas, history, SERIES);
  var x = function (i) { return f.pad.l + (history.length < 2 ? 0 : (i * (f.w - f.pad.l - f.pad.r)) / (history.length - 1)); };
  chartGrid(f, '--c-rate');
  if (history.length) {
    chartTimes(f, new Date(history[0].t).toISOString().slice(11, 19),
      new Date(history[history.length - 1].t).toISOString().slice(11, 19));
  }
  SERIES.forEach(function (s) {
    g.strokeStyle = f.color(s.color); g.lineWidth = 2; g.beginPath();
    var started = false;
    history.forEach(function (p, i) {
      if (p[s.key] == null) return;
      if (!started) { g.moveTo(x(i), f.y(p[s.key], s.axis)); started = true; } else g.lineTo(x(i), f.y(p[s.key], s.axis));
    });
    g.stroke();
  });
}

function chartLegend() {
  return seriesLegend(SERIES);
}
`;
