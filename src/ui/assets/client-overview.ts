// Browser code: the queues overview (live counts, alerts, chart, pause/resume) and the workers view.
// Counts come from one GET /overview?limit=50 per refresh: one page of queues in name order (keyset cursor
// in the page's hash, ?cursor=), so a refresh costs the same with 1,000 queues as with 50. The server caches that reading for all dashboards and
// every figure reads a bounded number of index entries (exact below the cap, "10,000+" or a planner
// estimate "≈1.2M" above), so a refresh never scans a queue of millions of jobs; a queue's paused flag is
// read fresh each time. Ready / scheduled / retrying / suspended counts need a full scan: only on a click
// ("Exact counts", GET /queues/{queue}/stats), never polled.
export const CLIENT_OVERVIEW = String.raw`
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
function countCell(c, k, link) {
  return h('td', { class: 'num', 'data-k': k, 'data-kind': c ? c.kind : null, title: countTitle(c) }, link ? h('a', { href: link }, fmtCount(c)) : fmtCount(c));
}
function fmtAge(s) { return s == null ? '\u2014' : s < 120 ? Math.round(s) + ' s' : s < 7200 ? Math.round(s / 60) + ' min' : Math.round(s / 3600) + ' h'; }

var CLAIMABLE_TITLE = 'Jobs a claim could take now: ready ungrouped jobs, plus one per group that nothing holds (its next job: a group runs one job at a time, so its other ready jobs wait their turn).';

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
      h('div', null, 'Oldest ready job: ', fmtAge(s.oldestReadyAgeSeconds), ' ',
        h('button', { 'data-testid': 'exact-counts-close', onclick: function () { panel.hidden = true; panel.replaceChildren(); panel.removeAttribute('data-queue'); } }, 'Close')));
    panel.setAttribute('data-state', 'done');
  } catch (e) {
    panel.replaceChildren(errorBox(e));
    panel.setAttribute('data-state', 'error');
  }
}

/**
 * Pause or Resume: each button asks for one explicit state (POST .../pause or .../resume, never a toggle),
 * and the row shows the answer at once, whatever an earlier reading said.
 */
function pauseButton(q, redraw) {
  var target = q.paused ? 'resume' : 'pause';
  var btn = h('button', { 'data-testid': 'queue-pause', 'data-action': target, onclick: async function () {
    btn.disabled = true;
    try {
      var out = await api(qpath(q.name) + '/' + target, { method: 'POST' });
      q.paused = out.paused;
      toast((out.paused ? 'Paused ' : 'Resumed ') + q.name);
    } catch (e) {
      toast((target === 'pause' ? 'Pause ' : 'Resume ') + q.name + ' failed \u2014 ' + (e.code || '') + ': ' + (e.message || e), true);
    }
    redraw();
  } }, target === 'pause' ? 'Pause' : 'Resume');
  return btn;
}

var OVERVIEW_PAGE = 50;
// Per page cursor walked to with Next: the page before it and its number, so Previous (and the browser's
// Back and Forward, which only change the address) land on the right page. A cursor opened from a link
// and never walked to has page 1 before it.
var overviewPrev = {};
var overviewPageNo = { '': 1 };
var chartPage = null; // the page the chart's history sums: another page starts the chart afresh

/** Next / Previous over the overview's pages (keyset: Previous returns to the cursors walked through). */
function overviewPager(cursor, data) {
  var first = !cursor;
  var pageNo = overviewPageNo[cursor] || null; // null: a cursor opened from a link
  var bar = h('div', { class: 'actions', 'data-testid': 'overview-pager', 'data-page': pageNo ? String(pageNo) : null },
    h('button', { 'data-testid': 'overview-prev', disabled: first, onclick: function () {
      var prev = overviewPrev[cursor] || '';
      go('overview' + (prev ? '?' + new URLSearchParams({ cursor: prev }).toString() : ''));
    } }, '← Previous'),
    ' ', h('span', { class: 'muted', 'data-testid': 'overview-page' }, 'page ' + (pageNo || '?') + ' · ' + data.queues.length + ' queue' + (data.queues.length === 1 ? '' : 's') + ' shown, ' + OVERVIEW_PAGE + ' per page'),
    ' ', h('button', { 'data-testid': 'overview-next', disabled: !data.nextCursor, onclick: function () {
      overviewPrev[data.nextCursor] = cursor;
      if (pageNo) overviewPageNo[data.nextCursor] = pageNo + 1;
      go('overview?' + new URLSearchParams({ cursor: data.nextCursor }).toString());
    } }, 'Next →'));
  return bar;
}

VIEWS.overview = async function (root, args, params) {
  var cursor = params.get('cursor') || '';
  var pager = h('div', { 'data-testid': 'overview-pager-box' });
  var totalsScope = h('p', { class: 'muted', 'data-testid': 'totals-scope' });
  var tbody = h('tbody');
  var totals = h('div', { class: 'cards', 'data-testid': 'totals' });
  var alertBox = h('div', { class: 'why', 'data-testid': 'alerts', role: 'alert', hidden: 'hidden' });
  var canvas = h('canvas', { class: 'chart', 'data-testid': 'chart', role: 'img', 'aria-label': 'claimable and in-flight jobs (left axis) and completions per second (right axis) over time' });
  var stamp = h('span', { class: 'muted' });
  var exactPanel = h('div', { class: 'panel', 'data-testid': 'exact-counts', hidden: 'hidden' });
  var limitsPanel = h('div', { class: 'panel', 'data-testid': 'limits-panel', hidden: 'hidden' });
  var heads = [['queue'], ['state'], ['claimable now', CLAIMABLE_TITLE], ['in flight'], ['dead letters'], ['groups'], ['total jobs', 'Live jobs, dead letters not included'], ['oldest claimable', 'How long the longest-waiting claimable job (or group) has been claimable'], ['actions']];
  append(root, h('h1', null, 'Queues'), alertBox, totals, totalsScope,
    h('div', { class: 'panel' }, h('strong', null, 'Claimable, in flight and throughput '), stamp, h('div', { class: 'chart-wrap' }, canvas), chartLegend()),
    h('div', { class: 'table-wrap' }, h('table', { 'data-testid': 'queues-table' },
      h('thead', null, h('tr', null, heads.map(function (c, i) {
        return h('th', { class: i >= 2 && i <= 7 ? 'num' : null, title: c[1] || null }, c[0]);
      }))), tbody)),
    pager,
    h('p', { class: 'muted', 'data-testid': 'overview-note' }, 'Live counts read a bounded number of index entries per queue. Claimable counts each group once (its next job). Ready, scheduled, retrying and suspended jobs cannot be counted that way: \u201cExact counts\u201d on a queue counts everything, with one full scan of its job table.'),
    exactPanel, limitsPanel);

  var last = null;
  function drawRows() {
    var queues = last.queues;
    var alerts = [];
    var rows = queues.map(function (q) {
      (q.alerts || []).forEach(function (a) { alerts.push(h('li', { 'data-queue': q.name, 'data-code': a.code }, a.text)); });
      return h('tr', { 'data-queue': q.name, class: q.alerts && q.alerts.length ? 'alert-row' : null },
        h('td', null, h('a', { href: hashFor('jobs', [q.name]) }, q.name)),
        h('td', { 'data-k': 'state' }, q.paused ? badge('paused') : h('span', { class: 'badge alive' }, 'active'),
          (q.alerts || []).map(function (a) { return [' ', h('span', { class: 'badge dead', 'data-testid': 'queue-alert', 'data-code': a.code, title: a.text }, 'no live worker')]; })),
        countCell(q.claimable, 'claimable'), countCell(q.inFlight, 'inFlight'),
        countCell(q.dead, 'dead', hashFor('dlq', [], new URLSearchParams({ queue: q.name }))),
        countCell(q.groups, 'groups', hashFor('groups', [q.name])),
        countCell(q.total, 'total'),
        h('td', { class: 'num', 'data-k': 'oldest' }, fmtAge(q.oldestClaimableAgeSeconds)),
        h('td', { class: 'actions-cell' },
          h('button', { 'data-testid': 'exact-counts-btn', title: 'Count every state exactly: one full scan of this queue\u2019s job table', onclick: function () { showExactCounts(exactPanel, q.name); } }, 'Exact counts'),
          ' ', h('button', { 'data-testid': 'queue-limits', title: 'Flow-control limits: a cap on jobs in flight, a rate', onclick: function () { showLimits(limitsPanel, q.name); } }, 'Limits'),
          CFG.readOnly ? null : [' ', pauseButton(q, drawRows)]));
    });
    alertBox.hidden = alerts.length === 0;
    fill(alertBox, h('strong', null, 'Needs attention'), cursor || last.nextCursor ? h('span', { class: 'muted' }, ' (queues on this page)') : null, h('ul', null, alerts));
    fill(tbody, rows.length ? rows : h('tr', null, h('td', { colspan: '9', class: 'muted' }, 'No queues yet.')));
  }

  var query = new URLSearchParams({ limit: String(OVERVIEW_PAGE) });
  if (cursor) query.set('cursor', cursor);
  if (chartPage !== cursor) { history.length = 0; chartPage = cursor; }
  await live(function () { return api('/overview?' + query.toString()); }, function (data) {
    last = data;
    drawRows();
    var paged = !!cursor || !!data.nextCursor;
    fill(pager, paged ? overviewPager(cursor, data) : null);
    totalsScope.textContent = paged
      ? 'Totals and chart cover the ' + data.queues.length + ' queues of this page (' + OVERVIEW_PAGE + ' per page, in name order), not every queue.'
      : 'Totals of every queue.';
    var sum = {};
    ['claimable', 'inFlight', 'dead', 'total'].forEach(function (k) { sum[k] = sumCounts(data.queues.map(function (q) { return q[k]; })); });
    fill(totals, [['claimable', 'claimable now', CLAIMABLE_TITLE], ['inFlight', 'in flight'], ['dead', 'dead letters'], ['total', 'total jobs']].map(function (p) {
      var c = sum[p[0]];
      return h('div', { class: 'card', 'data-k': p[0], 'data-kind': c.kind, title: countTitle(c) || p[2] || null }, h('div', { class: 'v' }, fmtCount(c)), h('div', { class: 'k' }, p[1]));
    }));
    stamp.textContent = '\u2014 counts as of ' + new Date(data.generatedAt).toISOString().slice(11, 19) + 'Z, refreshed every ' + CFG.pollMs / 1000 + ' s; each count stops at ' + data.cap.toLocaleString('en-US') + ' (then "+" or "\u2248" estimates)';
    recordPoint(sum.claimable.value, sum.inFlight.value).then(function () { drawChart(canvas); });
  });
  var onResize = function () { drawChart(canvas); };
  window.addEventListener('resize', onResize);
  cleanup.push(function () { window.removeEventListener('resize', onResize); });
  requestAnimationFrame(function () { drawChart(canvas); });
};
`;
