// Browser code: the Charts view, a queue's (or every queue's) history from the rollup the workers write
// (GET /stats/history): completions and failures per second on the left axis, the wait's p50/p95 (due →
// claimed, seconds) on the right, since a rate and a duration share no scale. It reads only the rows of
// the period shown, so it stays cheap however many jobs there are, and it survives reloads.
export const CLIENT_STATS = String.raw`
var HISTORY_SERIES = [
  { key: 'completedPerSecond', label: 'completed / s (left axis)', axis: 'left', color: '--c-inflight' },
  { key: 'failedPerSecond', label: 'failed attempts / s (left axis)', axis: 'left', color: '--c-rate' },
  { key: 'waitP50', label: 'wait p50, s (right axis)', axis: 'right', color: '--c-claimable' },
  { key: 'waitP95', label: 'wait p95, s (right axis)', axis: 'right', color: '--c-p95' },
];
var PERIODS = [[60, 1, 'last hour'], [360, 5, 'last 6 h'], [1440, 15, 'last 24 h'], [10080, 60, 'last 7 days']];

function drawHistory(canvas, data) {
  var f = chartFrame(canvas);
  if (!f) return;
  var g = f.g;
  var span = data.minutes * 60000, step = data.bucketMinutes * 60000;
  var end = Math.floor(Date.now() / step) * step + step, start = end - span;
  var points = data.buckets.map(function (b) {
    return { t: new Date(b.at).getTime(), completedPerSecond: b.completedPerSecond, failedPerSecond: b.failedPerSecond,
      waitP50: b.waitP50Ms == null ? null : b.waitP50Ms / 1000, waitP95: b.waitP95Ms == null ? null : b.waitP95Ms / 1000 };
  });
  chartScale(f, canvas, points, HISTORY_SERIES);
  canvas.setAttribute('data-points', String(points.length));
  var x = function (t) { return f.pad.l + ((t - start) / span) * (f.w - f.pad.l - f.pad.r); };
  chartGrid(f, '--c-claimable');
  var fmt = function (t) { return new Date(t).toISOString().slice(data.minutes > 1440 ? 5 : 11, 16).replace('T', ' '); };
  chartTimes(f, fmt(start), fmt(end));
  HISTORY_SERIES.forEach(function (s) {
    g.strokeStyle = f.color(s.color); g.fillStyle = f.color(s.color); g.lineWidth = 2; g.beginPath();
    var prev = null;
    points.forEach(function (p) {
      if (p[s.key] == null) { prev = null; return; }
      var px = x(p.t + step / 2), py = f.y(p[s.key], s.axis);
      // A gap of more than one bucket (no job finished) breaks the line.
      if (prev !== null && p.t - prev <= step) g.lineTo(px, py); else { g.moveTo(px, py); g.fillRect(px - 1.5, py - 1.5, 3, 3); }
      prev = p.t;
    });
    g.stroke();
  });
}

function historyLegend() {
  return seriesLegend(HISTORY_SERIES);
}

VIEWS.charts = async function (root, args, params) {
  var queue = args[0] || '';
  var minutes = Number(params.get('minutes')) || 60;
  var period = PERIODS.find(function (p) { return p[0] === minutes; }) || PERIODS[0];
  var nav = function (q, m) { var p = new URLSearchParams(); if (m !== 60) p.set('minutes', String(m)); location.hash = hashFor('charts', q ? [q] : [], p); };
  var sel = queueField({ 'aria-label': 'queue', 'data-testid': 'charts-queue', onchange: function () {
    var name = sel.value.trim();
    if (!name || queueInfo(name)) nav(name, period[0]); else toast('No queue named ' + name, true);
  } }, queue, 'every queue');
  var per = h('select', { 'aria-label': 'period', 'data-testid': 'charts-period', onchange: function () { nav(queue, Number(per.value)); } },
    PERIODS.map(function (p) { return h('option', { value: String(p[0]), selected: p[0] === period[0] }, p[2]); }));
  var canvas = h('canvas', { class: 'chart', 'data-testid': 'history-chart', role: 'img',
    'aria-label': 'completions and failures per second, and wait p50/p95, over time' });
  var totals = h('div', { class: 'cards', 'data-testid': 'history-totals' });
  var tbody = h('tbody');
  append(root, h('h1', null, 'Charts'),
    h('div', { class: 'actions' }, h('label', null, 'Queue ', sel), h('label', null, 'Period ', per)),
    h('div', { class: 'panel' }, h('strong', null, 'Throughput and wait'),
      h('span', { class: 'muted' }, ' \u2014 per ' + period[1] + ' min, from the rollup workers write every few seconds'),
      h('div', { class: 'chart-wrap' }, canvas), historyLegend()),
    totals,
    h('h2', null, 'Buckets'),
    h('div', { class: 'table-wrap' }, h('table', { 'data-testid': 'history-table' },
      h('thead', null, h('tr', null, ['from', 'completed', 'failed', 'dead', 'completed / s', 'wait p50', 'wait p95'].map(function (c, i) { return h('th', { class: i > 0 ? 'num' : null }, c); }))),
      tbody)));
  var shown = null;
  var ms = function (v) { return v == null ? '\u2014' : '\u2264 ' + (v >= 1000 ? v / 1000 + ' s' : v + ' ms'); };
  var base = queue ? qpath(queue) + '/stats/history' : '/stats/history';
  await live(function () { return api(base + '?minutes=' + period[0] + '&bucketMinutes=' + period[1]); }, function (data) {
    shown = data;
    var sum = function (k) { return data.buckets.reduce(function (a, b) { return a + b[k]; }, 0); };
    fill(totals,
      h('div', { class: 'card' }, h('div', { class: 'v', 'data-testid': 'total-completed' }, compactNumber(sum('completed'))), h('div', { class: 'k' }, 'completed, ' + period[2])),
      h('div', { class: 'card' }, h('div', { class: 'v', 'data-testid': 'total-failed' }, compactNumber(sum('failed'))), h('div', { class: 'k' }, 'failed attempts')),
      h('div', { class: 'card' }, h('div', { class: 'v' }, compactNumber(sum('dead'))), h('div', { class: 'k' }, 'dead letters')));
    var rows = data.buckets.slice().reverse().slice(0, 60);
    fill(tbody, rows.length ? rows.map(function (b) {
      return h('tr', null, h('td', null, fmtTime(b.at)), h('td', { class: 'num' }, String(b.completed)),
        h('td', { class: 'num' }, String(b.failed)), h('td', { class: 'num' }, String(b.dead)),
        h('td', { class: 'num' }, b.completedPerSecond.toFixed(2)), h('td', { class: 'num' }, ms(b.waitP50Ms)), h('td', { class: 'num' }, ms(b.waitP95Ms)));
    }) : h('tr', null, h('td', { colspan: '7', class: 'muted' }, 'No job finished in this period (or no worker of this version ran).')));
    drawHistory(canvas, data);
  });
  var onResize = function () { if (shown) drawHistory(canvas, shown); };
  window.addEventListener('resize', onResize);
  cleanup.push(function () { window.removeEventListener('resize', onResize); });
  requestAnimationFrame(onResize);
};
`;
