// Browser code: bulk actions on a queue's job list. A checkbox per row and one for the whole page; the
// bar above the table acts on the selected jobs (POST /queues/{q}/jobs/cancel|promote|suspend|resume
// { ids }) or, "by filter", on every job matching the current filters, at most 1,000 per click. The
// selection survives the live refresh (it is kept here, not in the table); after an action the view
// re-reads the list from the server, and the server applies each action only where it still applies.
export const CLIENT_BULK = String.raw`
var BULK_MAX = 1000;
var BULK_ACTIONS = [
  ['cancel', 'Cancel', 'danger'], ['promote', 'Retry now', 'primary'], ['suspend', 'Suspend', null], ['resume', 'Resume', null]];
var bulk = { queue: null, ids: new Set(), pageIds: [], bar: null };

/** Called when the jobs view opens: a new view (or the re-read after an action) starts unselected. */
function bulkReset(queue) { bulk.queue = queue; bulk.ids = new Set(); bulk.pageIds = []; bulk.bar = null; }

/** After each (re)paint: forget selected jobs that left the page, then redraw the bar's count. */
function bulkPage(ids) {
  bulk.pageIds = ids.slice();
  bulk.ids.forEach(function (id) { if (ids.indexOf(id) < 0) bulk.ids.delete(id); });
  bulkSync();
}

function bulkSync() {
  document.querySelectorAll('[data-testid=select-job]').forEach(function (cb) { cb.checked = bulk.ids.has(cb.getAttribute('data-id')); });
  var all = document.querySelector('[data-testid=select-page]');
  if (all) all.checked = bulk.pageIds.length > 0 && bulk.pageIds.every(function (id) { return bulk.ids.has(id); });
  var n = document.querySelector('[data-testid=bulk-count]');
  if (n) n.textContent = bulk.ids.size + ' selected';
  document.querySelectorAll('[data-bulk-selected]').forEach(function (b) { b.disabled = bulk.ids.size === 0; });
}

function bulkHead() {
  if (CFG.readOnly) return null;
  return h('th', null, h('input', { type: 'checkbox', 'data-testid': 'select-page', 'aria-label': 'select all on this page', onchange: function (ev) {
    bulk.pageIds.forEach(function (id) { if (ev.target.checked) bulk.ids.add(id); else bulk.ids.delete(id); });
    bulkSync();
  } }));
}

function bulkCell(id) {
  if (CFG.readOnly) return null;
  return h('td', null, h('input', { type: 'checkbox', 'data-testid': 'select-job', 'data-id': id, 'aria-label': 'select job ' + id,
    checked: bulk.ids.has(id), onchange: function (ev) {
      if (ev.target.checked) bulk.ids.add(id); else bulk.ids.delete(id);
      bulkSync();
    } }));
}

async function bulkPost(queue, action, ids) {
  return api(qpath(queue) + '/jobs/' + action, { method: 'POST', body: { ids: ids } });
}

/** Every job matching the filters (apiQuery without limit/cursor), read now: at most BULK_MAX ids. */
async function bulkMatching(queue, apiQuery) {
  var q = new URLSearchParams(apiQuery.toString());
  q.delete('cursor'); q.set('limit', String(BULK_MAX));
  var page = await api(qpath(queue) + '/jobs?' + q.toString());
  return { ids: page.items.map(function (j) { return j.id; }), more: !!page.nextCursor };
}

/** Posts the action, says what changed (and, by filter, whether more jobs match), then re-reads the view. */
async function bulkRun(queue, action, label, byFilter, apiQuery) {
  var ids = Array.from(bulk.ids), msg, bad = false;
  try {
    if (byFilter) {
      var m = await bulkMatching(queue, apiQuery);
      var out = m.ids.length ? await bulkPost(queue, action, m.ids) : { changed: 0 };
      msg = label + ': ' + out.changed + ' changed of ' + m.ids.length + ' matching' +
        (m.more ? '; more than ' + BULK_MAX + ' match, only the newest ' + BULK_MAX + ' were acted on' : '');
    } else {
      msg = label + ' (' + (await bulkPost(queue, action, ids)).changed + ' changed)';
    }
  } catch (e) {
    msg = label + ' failed \u2014 ' + (e.code || '') + ': ' + (e.message || e); bad = true;
  }
  toast(msg, bad);
  route();
}

/** The bar above the job table. confirmArea shows the confirmation a Cancel asks for. */
function bulkBar(queue, apiQuery, confirmArea) {
  if (CFG.readOnly) return null;
  var filtered = Array.from(apiQuery.keys()).some(function (k) { return k !== 'limit' && k !== 'cursor'; });
  var button = function (a, byFilter) {
    var action = a[0], text = a[1];
    var attrs = { class: a[2], 'data-testid': 'bulk-' + action + (byFilter ? '-filter' : ''), onclick: function () {
      var what = byFilter ? 'every job matching the filters (at most ' + BULK_MAX + ')' : bulk.ids.size + ' selected job' + (bulk.ids.size === 1 ? '' : 's');
      var label = text + ' ' + what;
      if (action === 'cancel') {
        confirmBar(confirmArea, 'Cancel (delete) ' + what + '? Running ones are aborted by their workers; jobs with children are skipped.', 'Cancel jobs',
          function () { bulkRun(queue, action, label, byFilter, apiQuery); });
      } else bulkRun(queue, action, label, byFilter, apiQuery);
    } };
    if (!byFilter) { attrs['data-bulk-selected'] = true; attrs.disabled = bulk.ids.size === 0; }
    return h('button', attrs, text);
  };
  return h('div', { class: 'actions bulk', 'data-testid': 'bulk-bar' },
    h('span', { class: 'muted', 'data-testid': 'bulk-count' }, bulk.ids.size + ' selected'),
    BULK_ACTIONS.map(function (a) { return button(a, false); }),
    filtered ? [h('span', { class: 'muted' }, ' \u00b7 all matching the filters:'), BULK_ACTIONS.map(function (a) { return button(a, true); })] : null);
}

/**
 * The job page's Duplicate: enqueues a copy of the job (payload, group, priority, max attempts; not its
 * keys, parent or schedule) into the same queue with POST /queues/{q}/jobs, then links the new job.
 */
function duplicateButton(job, confirmArea) {
  if (CFG.readOnly) return null;
  var btn = h('button', { 'data-testid': 'duplicate', onclick: async function () {
    btn.disabled = true;
    var old = confirmArea.querySelector('[data-testid=duplicated]');
    if (old) old.remove();
    try {
      var out = await api(qpath(job.queue) + '/jobs', { method: 'POST', body: {
        payload: job.payload, groupKey: job.groupKey, priority: job.priority, maxAttempts: job.maxAttempts } });
      var made = out.job;
      confirmArea.prepend(h('div', { class: 'panel', 'data-testid': 'duplicated', 'data-job': made ? made.id : null },
        made ? ['Duplicated as ', h('a', { href: hashFor('job', [job.queue, made.id]) }, 'job ' + made.id)] : 'Nothing was enqueued.'));
      toast('Duplicated job ' + job.id + (made ? ' as job ' + made.id : ''));
    } catch (e) {
      toast('Duplicate job ' + job.id + ' failed \u2014 ' + (e.code || '') + ': ' + (e.message || e), true);
    }
    btn.disabled = false;
  } }, 'Duplicate');
  return btn;
}
`;
