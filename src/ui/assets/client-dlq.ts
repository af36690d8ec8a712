// Browser code: dead letters. The list spans every queue (GET /dead-letters: keyset pages that read about a
// page of each queue's failed-time index), filtered by queue, group, failure time and payload, with
// retry / delete of the selected letters and "retry all matching" (POST /dead-letters/retry, a page per
// request, following the cursor). Each letter has its own page. A dead letter shows the attempts it made:
// its maxAttempts is the job's own, which a worker's lower queue setting may have cut short.
export const CLIENT_DLQ = String.raw`
var DLQ_FILTERS = ['queue', 'groupKey', 'failedAfter', 'failedBefore', 'payloadContains'];

function dlqFilterForm(params, counts) {
  var f = {};
  f.queue = queueField({ name: 'queue', 'aria-label': 'queue' }, params.get('queue'), 'every queue', function (q) {
    var n = counts[q.name];
    return q.name + (n ? ' (' + fmtCount(n) + ')' : '');
  });
  f.groupKey = h('input', { type: 'text', name: 'groupKey', value: params.get('groupKey') || '', placeholder: 'group key' });
  f.failedAfter = h('input', { type: 'datetime-local', name: 'failedAfter', value: isoToLocal(params.get('failedAfter')) });
  f.failedBefore = h('input', { type: 'datetime-local', name: 'failedBefore', value: isoToLocal(params.get('failedBefore')) });
  f.payloadContains = h('input', { type: 'text', name: 'payloadContains', value: params.get('payloadContains') || '', placeholder: '{"to":"a@b.c"}' });
  f.limit = pageSizeSelect(params);
  return h('form', { class: 'filters panel', 'data-testid': 'dlq-filters', onsubmit: function (ev) {
    ev.preventDefault();
    var p = new URLSearchParams();
    DLQ_FILTERS.forEach(function (k) {
      var v = f[k].value.trim();
      if (k === 'failedAfter' || k === 'failedBefore') v = localToIso(v);
      if (v) p.set(k, v);
    });
    if (f.limit.value !== '50') p.set('limit', f.limit.value);
    location.hash = hashFor('dlq', [], p);
  } },
  h('label', null, 'Queue', f.queue), h('label', null, 'Group', f.groupKey),
  h('label', null, 'Failed after', f.failedAfter), h('label', null, 'Failed before', f.failedBefore),
  h('label', null, 'Payload contains (JSON)', f.payloadContains), h('label', null, 'Page size', f.limit),
  h('button', { class: 'primary', type: 'submit' }, 'Apply'),
  h('button', { type: 'button', onclick: function () { location.hash = hashFor('dlq', []); } }, 'Clear'));
}

/** The filters of the hash, as the query string of /dead-letters (and of its count and retry by filter). */
function dlqQuery(params) {
  var p = new URLSearchParams();
  DLQ_FILTERS.forEach(function (k) { if (params.get(k)) p.set(k, params.get(k)); });
  return p;
}

/** Retries every dead letter matching the filters, a page per request, then reports how many. */
async function retryAllMatching(params, progress) {
  var q = dlqQuery(params).toString();
  var cursor = null, retried = 0;
  do {
    var out = await api('/dead-letters/retry' + (q ? '?' + q : ''), { method: 'POST', body: cursor ? { cursor: cursor } : {} });
    retried += out.retried.length;
    cursor = out.nextCursor;
    progress(retried);
  } while (cursor);
  return { changed: retried };
}

VIEWS.dlq = async function (root, args, params) {
  if (args[0]) { // an older link to one queue's dead letters
    var legacy = new URLSearchParams(params.toString());
    legacy.set('queue', args[0]);
    params = legacy;
  }
  // Dead-letter counts label the queue choices: read for a few queues (a select), not for 1,000 (a search box).
  var overview = state.queues.length > QUEUE_SELECT_MAX ? { queues: [] } : await api('/overview').catch(function () { return { queues: [] }; });
  var counts = {};
  overview.queues.forEach(function (q) { counts[q.name] = q.dead; });
  var selected = new Map(); // "queue/id" -> { queue, id }: kept across refreshes
  var countLabel = h('span', { class: 'muted', 'data-testid': 'selected-count' }, '0 selected');
  var onSel = function () { countLabel.textContent = selected.size + ' selected'; };
  var confirmArea = h('div', null);
  var box = h('div', null);
  var bulk = function (verb, path, cls) {
    return h('button', { class: cls, 'data-testid': 'bulk-' + verb.toLowerCase(), onclick: function () {
      var items = Array.from(selected.values());
      if (!items.length) { toast('Select dead letters first.', true); return; }
      confirmBar(confirmArea, verb + ' ' + items.length + ' dead letter' + (items.length === 1 ? '' : 's') + '?', verb, function () {
        act(verb + ' ' + items.length + ' dead letters', async function () {
          var byQueue = {};
          items.forEach(function (d) { (byQueue[d.queue] = byQueue[d.queue] || []).push(d.id); });
          var changed = 0;
          for (var name of Object.keys(byQueue)) {
            var out = await api(qpath(name) + '/dead-letters/' + path, { method: 'POST', body: { ids: byQueue[name] } });
            changed += out.jobs ? out.jobs.length : out.changed;
          }
          selected.clear();
          return { changed: changed };
        });
      });
    } }, verb + ' selected');
  };
  var retryAll = h('button', { 'data-testid': 'retry-all', onclick: async function () {
    var q = dlqQuery(params).toString();
    var count;
    try { count = (await api('/dead-letters/count' + (q ? '?' + q : ''))).count; } catch (e) { toast('Count failed \u2014 ' + e.message, true); return; }
    var what = q ? 'matching these filters' : 'of every queue';
    confirmBar(confirmArea, 'Retry all ' + fmtCount(count) + ' dead letter' + (count.value === 1 ? '' : 's') + ' ' + what + '?', 'Retry all', function () {
      act('Retried dead letters ' + what, function () {
        return retryAllMatching(params, function (n) { toast('Retrying\u2026 ' + n + ' so far'); });
      });
    });
  } }, 'Retry all matching');
  var heading = params.get('queue') ? '\u00b7 ' + params.get('queue') : '\u00b7 every queue';
  append(root, h('h1', null, 'Dead letters ', h('span', { class: 'muted' }, heading)),
    dlqFilterForm(params, counts),
    CFG.readOnly ? null : h('div', { class: 'actions' }, bulk('Retry', 'retry', 'primary'), bulk('Delete', 'delete', 'danger'), countLabel, retryAll),
    confirmArea, box);

  var apiQuery = dlqQuery(params);
  ['limit', 'cursor'].forEach(function (k) { if (params.get(k)) apiQuery.set(k, params.get(k)); });
  await live(function () { return api('/dead-letters?' + apiQuery.toString()); }, function (page) {
    var boxes = [];
    var rows = page.items.map(function (d) {
      var k = d.queue + '/' + d.id;
      var cb = h('input', { type: 'checkbox', value: d.id, checked: selected.has(k), 'aria-label': 'select dead letter ' + d.id + ' of ' + d.queue, onchange: function () {
        if (cb.checked) selected.set(k, { queue: d.queue, id: d.id }); else selected.delete(k);
        onSel();
      } });
      boxes.push(cb);
      return h('tr', { 'data-dead': d.id, 'data-queue': d.queue },
        h('td', null, cb),
        h('td', null, h('a', { href: hashFor('dlq', [], new URLSearchParams({ queue: d.queue })) }, d.queue)),
        h('td', { class: 'mono' }, h('a', { href: hashFor('dead', [d.queue, d.id]), 'data-testid': 'dead-link' }, d.id)),
        h('td', { class: 'mono hide-sm' }, d.jobId),
        h('td', null, timeCell(d.failedAt)),
        h('td', { class: 'num', 'data-k': 'attempts', title: 'attempts made' }, String(d.attempts)),
        h('td', null, d.groupKey || '\u2014'),
        payloadCell(d.payload),
        h('td', { class: 'error' }, d.lastError ? oneLine(d.lastError, 160).replace(/^"|"$/g, '') : ''));
    });
    var all = h('input', { type: 'checkbox', 'aria-label': 'select all', 'data-testid': 'select-all', onchange: function () {
      boxes.forEach(function (b) { b.checked = all.checked; b.dispatchEvent(new Event('change')); });
    } });
    fill(box,
      h('div', { class: 'table-wrap' }, h('table', { 'data-testid': 'dlq-table' },
        h('thead', null, h('tr', null, h('th', null, all), ['queue', 'dead letter', 'job id', 'failed', 'attempts', 'group', 'payload', 'last error'].map(function (c, i) {
          return h('th', { class: i === 2 ? 'hide-sm' : i === 4 ? 'num' : null }, c);
        }))),
        h('tbody', null, rows.length ? rows : h('tr', null, h('td', { colspan: '9', class: 'muted' }, 'No dead letters match.'))))),
      pager('dlq', [], params, page.nextCursor, page.items.length + ' dead letters'));
    onSel();
  });
};

/** The payload, or a button showing it when payloads are hidden (it stays shown across refreshes). */
var payloadShownOnce = false;
function payloadBlock(payload) {
  var holder = h('div', null);
  var show = function () { payloadShownOnce = true; holder.replaceChildren(h('pre', { 'data-testid': 'payload' }, json(payload))); };
  if (state.showPayloads || payloadShownOnce) show();
  else holder.append(h('button', { 'data-testid': 'show-payload', onclick: show }, 'Show payload'));
  return holder;
}

VIEWS.dead = async function (root, args) {
  payloadShownOnce = false;
  var queue = args[0], id = args[1];
  var confirmArea = h('div', null);
  var box = h('div', null);
  append(root, confirmArea, box);
  var load = function () {
    return api(qpath(queue) + '/dead-letters/' + encodeURIComponent(id)).catch(function (e) { if (e.status === 404) return { gone: e }; throw e; });
  };
  await live(load, function (d) {
    if (d.gone) {
      fill(box, h('h1', null, 'Dead letter ' + id), errorBox(d.gone),
        h('p', null, 'It was retried or deleted. ', h('a', { href: hashFor('dlq', [], new URLSearchParams({ queue: queue })) }, 'Dead letters of ' + queue)));
      return;
    }
    var actions = CFG.readOnly ? null : h('div', { class: 'actions' },
      h('button', { class: 'primary', 'data-testid': 'retry', onclick: function () {
        var newJob = null;
        act('Retried dead letter ' + id, async function () {
          newJob = (await api(qpath(queue) + '/dead-letters/' + encodeURIComponent(id) + '/retry', { method: 'POST' })).job;
        }, function () { if (newJob) go('job/' + encodeURIComponent(queue) + '/' + newJob.id); else route(); });
      } }, 'Retry'),
      h('button', { class: 'danger', 'data-testid': 'delete', onclick: function () {
        confirmBar(confirmArea, 'Delete dead letter ' + id + ' for good?', 'Delete', function () {
          act('Deleted dead letter ' + id, function () { return api(qpath(queue) + '/dead-letters/' + encodeURIComponent(id), { method: 'DELETE' }); },
            function () { location.hash = hashFor('dlq', [], new URLSearchParams({ queue: queue })); });
        });
      } }, 'Delete'));
    fill(box,
      h('h1', null, 'Dead letter ' + d.id + ' ', badge('dead'), h('span', { class: 'muted' }, ' \u00b7 ' + queue)),
      actions,
      h('div', { class: 'grid2' },
        h('div', { class: 'panel' }, h('h2', null, 'Details'), kv([
          ['queue', h('a', { href: hashFor('jobs', [queue]) }, queue)], ['job id (in the queue)', d.jobId],
          ['group', d.groupKey || '\u2014'], ['parent', d.parentId === null ? '\u2014' : h('a', { href: hashFor('job', [queue, d.parentId]) }, d.parentId)],
          ['priority', String(d.priority)], ['attempts made', h('span', { 'data-testid': 'attempts' }, String(d.attempts))],
          ['rollup', d.isRollup ? 'yes' : 'no'], ['dedup key', d.dedupKey || '\u2014'], ['idempotency key', d.idempotencyKey || '\u2014'], ['limit key', d.limitKey || '\u2014']])),
        h('div', { class: 'panel' }, h('h2', null, 'Timeline'), kv([['created', timeCell(d.createdAt)], ['failed', timeCell(d.failedAt)]]))),
      h('div', { class: 'panel' }, h('h2', null, 'Last error'), d.lastError ? h('pre', { 'data-testid': 'last-error' }, d.lastError) : h('span', { class: 'muted' }, 'none')),
      attemptsPanel(queue, d.jobId),
      h('div', { class: 'panel' }, h('h2', null, 'Payload'), payloadBlock(d.payload)),
      d.meta ? h('div', { class: 'panel' }, h('h2', null, 'Meta'), h('pre', null, json(d.meta))) : null);
  });
};
`;
