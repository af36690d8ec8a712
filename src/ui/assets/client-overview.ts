// Browser code: the queues overview (live counts + chart) and the workers view. Counts come from one
// GET /overview, polled every CFG.pollMs (5 s by default) and only while the overview is open. The server
// caches that reading for all dashboards and every figure reads a bounded number of index entries (exact
// below the cap, "10,000+" or a planner estimate "≈1.2M" above), so a refresh never scans a queue of
// millions of jobs. Scheduled / retrying / suspended counts need a full scan: only on a click ("Exact
// counts", GET /queues/{queue}/stats), never polled.
export const CLIENT_OVERVIEW = String.raw`
var SERIES = [
  { key: 'claimable', label: 'ready (claimable now)', color: '#2f5bd3' },
  { key: 'inFlight', label: 'in flight', color: '#1f8a4c' },
  { key: 'throughput', label: 'completed / s (from /metrics)', color: '#c0392b' },
];
/** A count from /overview: exact ("1,234"), a lower bound ("10,000+") or a planner estimate ("≈1.2M"). */
function compactNumber(n) {
  var units = [[1e9, 'B'], [1e6, 'M'], [1e3, 'k']];
  for (var i = 0; i < units.length; i++) {
    if (n >= units[i][0]) return (n / units[i][0]).toFixed(n >= 10 * units[i][0] ? 0 : 1).replace(/\.0$/, '') + units[i][1];
  }
  return String(n);
}
function fmtCount(c) {
  if (c == null) return '\u2014';
  if (c.kind === 'atLeast') return c.value.toLocaleString('en-US') + '+';
  if (c.kind === 'estimate') return '\u2248' + compactNumber(c.value);
  return c.value.toLocaleString('en-US');
}
function countTitle(c) {
  if (c == null || c.kind === 'exact') return null;
  return c.kind === 'atLeast' ? c.value.toLocaleString('en-US') + ' or more (counting stops at the cap)' : 'planner estimate';
}
/** Sum of counts: approximate when any part is. */
function sumCounts(list) {
  var out = { value: 0, exact: true, kind: 'exact' };
  list.forEach(function (c) {
    if (!c) return;
    out.value += c.value;
    if (!c.exact) { out.exact = false; out.kind = c.kind === 'estimate' || out.kind === 'estimate' ? 'estimate' : 'atLeast'; }
  });
  return out;
}
function countCell(c, k) {
  return h('td', { class: 'num', 'data-k': k, 'data-kind': c ? c.kind : null, title: countTitle(c) }, fmtCount(c));
}

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

function drawChart(canvas) {
  var dpr = window.devicePixelRatio || 1;
  var w = canvas.clientWidth || 600, hgt = canvas.clientHeight || 220;
  canvas.width = Math.round(w * dpr); canvas.height = Math.round(hgt * dpr);
  var g = canvas.getContext('2d');
  if (!g) return;
  g.scale(dpr, dpr);
  g.clearRect(0, 0, w, hgt);
  var pad = { l: 44, r: 10, t: 10, b: 22 };
  var max = 1;
  history.forEach(function (p) { SERIES.forEach(function (s) { if (p[s.key] != null) max = Math.max(max, p[s.key]); }); });
  var x = function (i) { return pad.l + (history.length < 2 ? 0 : (i * (w - pad.l - pad.r)) / (history.length - 1)); };
  var y = function (v) { return hgt - pad.b - (v / max) * (hgt - pad.t - pad.b); };
  g.strokeStyle = '#e3e6eb'; g.fillStyle = '#667085'; g.font = '11px system-ui, sans-serif'; g.lineWidth = 1;
  for (var k = 0; k <= 4; k++) {
    var v = (max * k) / 4, yy = y(v);
    g.beginPath(); g.moveTo(pad.l, yy); g.lineTo(w - pad.r, yy); g.stroke();
    g.fillText(v >= 10 ? String(Math.round(v)) : v.toFixed(1), 4, yy + 4);
  }
  if (history.length) {
    g.fillText(new Date(history[0].t).toISOString().slice(11, 19), pad.l, hgt - 6);
    var last = new Date(history[history.length - 1].t).toISOString().slice(11, 19);
    g.fillText(last, w - pad.r - g.measureText(last).width, hgt - 6);
  }
  SERIES.forEach(function (s) {
    g.strokeStyle = s.color; g.lineWidth = 2; g.beginPath();
    var started = false;
    history.forEach(function (p, i) {
      if (p[s.key] == null) return;
      if (!started) { g.moveTo(x(i), y(p[s.key])); started = true; } else g.lineTo(x(i), y(p[s.key]));
    });
    g.stroke();
  });
}

var CLAIMABLE_TITLE = 'Jobs a claim could take now: due ungrouped jobs, plus one per ready group (its head: a group runs one job at a time, so its other jobs are not counted).';

/** The exact breakdown of one queue (GET /queues/{queue}/stats: one full scan of its job table), on request. */
async function showExactCounts(panel, name) {
  panel.hidden = false;
  panel.setAttribute('data-queue', name);
  panel.setAttribute('data-state', 'loading');
  panel.replaceChildren(h('strong', null, 'Exact counts for ' + name), h('span', { class: 'muted' }, ' \u2014 counting (one full scan of the job table)\u2026'));
  try {
    var s = await api(qpath(name) + '/stats');
    if (panel.getAttribute('data-queue') !== name) return; // another queue was asked for meanwhile
    var items = [['total', 'total'], ['ready', 'ready (every due job, grouped ones included)'], ['inFlight', 'in flight'], ['scheduled', 'scheduled'], ['retrying', 'retrying'], ['suspended', 'suspended / waiting'], ['dead', 'dead letters'], ['groups', 'groups']];
    panel.replaceChildren(
      h('strong', null, 'Exact counts for ' + name),
      h('span', { class: 'muted' }, ' \u2014 as of ' + new Date().toISOString().slice(11, 19) + 'Z; read with one full scan of the queue\u2019s job table, so not refreshed automatically'),
      h('div', { class: 'cards' }, items.map(function (p) {
        return h('div', { class: 'card', 'data-k': p[0] }, h('div', { class: 'v' }, Number(s[p[0]]).toLocaleString('en-US')), h('div', { class: 'k' }, p[1]));
      })),
      h('div', null, 'Oldest ready job: ', s.oldestReadyAgeSeconds == null ? '\u2014' : Math.round(s.oldestReadyAgeSeconds) + ' s', ' ',
        h('button', { 'data-testid': 'exact-counts-close', onclick: function () { panel.hidden = true; panel.replaceChildren(); panel.removeAttribute('data-queue'); } }, 'Close')));
    panel.setAttribute('data-state', 'done');
  } catch (e) {
    panel.replaceChildren(errorBox(e));
    panel.setAttribute('data-state', 'error');
  }
}

VIEWS.overview = async function (root) {
  var tbody = h('tbody');
  var totals = h('div', { class: 'cards', 'data-testid': 'totals' });
  var canvas = h('canvas', { class: 'chart', 'data-testid': 'chart', role: 'img', 'aria-label': 'claimable and in-flight jobs and throughput over time' });
  var legend = h('div', { class: 'legend' }, SERIES.map(function (s) {
    return h('span', null, h('span', { class: 'sw', style: null, 'data-color': s.color }), s.label);
  }));
  var stamp = h('span', { class: 'muted' });
  var exactPanel = h('div', { class: 'panel', 'data-testid': 'exact-counts', hidden: 'hidden' });
  var heads = [['queue'], ['state'], ['ready (claimable now)', CLAIMABLE_TITLE], ['in flight'], ['dead letters'], ['groups'], ['total jobs', 'Live jobs, dead letters not included'], ['oldest ready', 'How long the longest-waiting claimable job (or ready group) has been claimable'], ['']];
  var alertBox = h('div', { class: 'why', 'data-testid': 'alerts', role: 'alert', hidden: 'hidden' });
  append(root, h('h1', null, 'Queues'),
    alertBox,
    totals,
    h('div', { class: 'panel' }, h('strong', null, 'Ready, in flight and throughput '), stamp, h('div', { class: 'chart-wrap' }, canvas), legend),
    h('div', { class: 'table-wrap' }, h('table', { 'data-testid': 'queues-table' },
      h('thead', null, h('tr', null, heads.map(function (c, i) {
        return h('th', { class: i >= 2 && i <= 6 ? 'num' : null, title: c[1] || null }, c[0]);
      }))), tbody)),
    h('p', { class: 'muted', 'data-testid': 'overview-note' }, 'Live counts read a bounded number of index entries per queue. Ready counts each group once (its head). Scheduled, retrying and suspended jobs cannot be counted that way: \u201cExact counts\u201d on a queue counts everything, with one full scan of its job table.'),
    exactPanel);
  // Swatch colours are set through CSSOM (allowed by CSP), not a style attribute.
  legend.querySelectorAll('.sw').forEach(function (sw) { sw.style.background = sw.getAttribute('data-color'); });

  async function refresh() {
    var data = await api('/overview');
    var queues = data.queues;
    var keys = ['claimable', 'inFlight', 'dead', 'total'];
    var sum = {};
    keys.forEach(function (k) { sum[k] = sumCounts(queues.map(function (q) { return q[k]; })); });
    var rows = queues.map(function (q) {
      return h('tr', { 'data-queue': q.name },
        h('td', null, h('a', { href: hashFor('jobs', [q.name]) }, q.name)),
        h('td', null, q.paused ? badge('paused') : h('span', { class: 'badge alive' }, 'active'),
          (q.alerts || []).map(function (a) { return [' ', h('span', { class: 'badge dead', 'data-testid': 'queue-alert', 'data-code': a.code, title: a.text }, 'no live worker')]; })),
        countCell(q.claimable, 'claimable'), countCell(q.inFlight, 'inFlight'),
        h('td', { class: 'num', 'data-k': 'dead', 'data-kind': q.dead.kind, title: countTitle(q.dead) }, h('a', { href: hashFor('dlq', [q.name]) }, fmtCount(q.dead))),
        h('td', { class: 'num', 'data-k': 'groups', 'data-kind': q.groups.kind, title: countTitle(q.groups) }, h('a', { href: hashFor('groups', [q.name]) }, fmtCount(q.groups))),
        countCell(q.total, 'total'),
        h('td', { class: 'num', 'data-k': 'oldest' }, q.oldestClaimableAgeSeconds == null ? '\u2014' : Math.round(q.oldestClaimableAgeSeconds) + ' s'),
        h('td', null,
          h('button', { 'data-testid': 'exact-counts-btn', title: 'Count every status exactly: one full scan of this queue\u2019s job table', onclick: function () { showExactCounts(exactPanel, q.name); } }, 'Exact counts'),
          CFG.readOnly ? null : h('button', { 'data-testid': 'toggle-pause', onclick: function () {
            act((q.paused ? 'Resumed ' : 'Paused ') + q.name, function () { return api(qpath(q.name) + (q.paused ? '/resume' : '/pause'), { method: 'POST' }); });
          } }, q.paused ? 'Resume' : 'Pause')));
    });
    var alerts = [];
    queues.forEach(function (q) { (q.alerts || []).forEach(function (a) { alerts.push(h('li', { 'data-queue': q.name, 'data-code': a.code }, a.text)); }); });
    alertBox.hidden = alerts.length === 0;
    alertBox.replaceChildren(h('strong', null, 'Needs attention'), h('ul', null, alerts));
    tbody.replaceChildren.apply(tbody, rows.length ? rows : [h('tr', null, h('td', { colspan: '9', class: 'muted' }, 'No queues yet.'))]);
    totals.replaceChildren.apply(totals, [['claimable', 'ready (claimable now)', CLAIMABLE_TITLE], ['inFlight', 'in flight'], ['dead', 'dead letters'], ['total', 'total jobs']].map(function (p) {
      var c = sum[p[0]];
      return h('div', { class: 'card', 'data-k': p[0], 'data-kind': c.kind, title: countTitle(c) || p[2] || null }, h('div', { class: 'v' }, fmtCount(c)), h('div', { class: 'k' }, p[1]));
    }));
    var now = Date.now();
    var completed = await completedTotal();
    var point = { t: now, claimable: sum.claimable.value, inFlight: sum.inFlight.value, throughput: null };
    if (completed !== null && lastCompleted !== null && now > lastCompleted.t) {
      point.throughput = Math.max(0, (completed - lastCompleted.v) / ((now - lastCompleted.t) / 1000));
    }
    if (completed !== null) lastCompleted = { t: now, v: completed };
    history.push(point);
    if (history.length > 120) history.shift();
    stamp.textContent = '\u2014 counts as of ' + new Date(data.generatedAt).toISOString().slice(11, 19) + 'Z, refreshed every ' + CFG.pollMs / 1000 + ' s; each count stops at ' + data.cap.toLocaleString('en-US') + ' (then "+" or "\u2248" estimates)';
    drawChart(canvas);
  }
  await refresh();
  // One refresh at a time, and none while the tab is hidden (the server caches /overview as well).
  var busy = false;
  every(CFG.pollMs, function () {
    if (busy || document.hidden) return;
    busy = true;
    refresh().catch(function (e) { stamp.textContent = '— refresh failed: ' + e.message; }).then(function () { busy = false; });
  });
  var onResize = function () { drawChart(canvas); };
  window.addEventListener('resize', onResize);
  cleanup.push(function () { window.removeEventListener('resize', onResize); });
  requestAnimationFrame(function () { drawChart(canvas); });
};

VIEWS.workers = async function (root) {
  var data = await api('/workers');
  var now = Date.now();
  var rows = data.items.map(function (w) {
    var age = (now - new Date(w.lastHeartbeat).getTime()) / 1000;
    return h('tr', { 'data-worker': w.id },
      h('td', { class: 'mono' }, w.id),
      h('td', null, (w.queues || []).join(', ')),
      h('td', null, w.hostname + ' (pid ' + w.pid + ')'),
      h('td', null, timeCell(w.startedAt)),
      h('td', null, timeCell(w.lastHeartbeat)),
      h('td', null, age < 30 ? h('span', { class: 'badge alive' }, 'alive') : h('span', { class: 'badge dead' }, 'silent ' + Math.round(age) + ' s')));
  });
  append(root, h('h1', null, 'Workers'),
    h('div', { class: 'table-wrap' }, h('table', { 'data-testid': 'workers-table' },
      h('thead', null, h('tr', null, ['id', 'queues', 'host', 'started', 'last heartbeat', 'health'].map(function (c) { return h('th', null, c); }))),
      h('tbody', null, rows.length ? rows : h('tr', null, h('td', { colspan: '6', class: 'muted' }, 'No registered workers.'))))));
  every(CFG.pollMs, function () { if (parseHash().view === 'workers') route(); });
};
`;
