// Browser code: the job list (filters + keyset pagination) and the job page (the "why isn't this
// running?" answer from the server, payload, timeline, children with results, actions). Both are live:
// the table and the job refresh in place; the filter form and an open confirmation stay as they are.
export const CLIENT_JOBS = String.raw`
var FILTER_KEYS = ['status', 'groupKey', 'parentId', 'createdAfter', 'createdBefore', 'payloadContains'];

function payloadCell(p) {
  return state.showPayloads
    ? h('td', { class: 'payload mono', title: oneLine(p, 2000) }, oneLine(p, 120))
    : h('td', { class: 'payload muted', 'data-hidden': 'true' }, 'hidden');
}
function localToIso(v) { if (!v) return ''; var d = new Date(v); return isNaN(d.getTime()) ? '' : d.toISOString(); }
function isoToLocal(v) {
  if (!v) return '';
  var d = new Date(v);
  if (isNaN(d.getTime())) return '';
  return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
}
function pageSizeSelect(params) {
  return h('select', { name: 'limit', 'aria-label': 'page size' }, ['10', '25', '50', '100', '500'].map(function (n) {
    return h('option', { value: n, selected: (params.get('limit') || '50') === n }, n);
  }));
}

/** Filters live in the URL hash, so a filtered page can be bookmarked and Back works. */
function filterForm(queue, params) {
  var f = {};
  f.status = h('select', { name: 'status', 'aria-label': 'status' }, h('option', { value: '' }, 'any'),
    CFG.statuses.map(function (s) { return h('option', { value: s, selected: params.get('status') === s }, s); }));
  f.groupKey = h('input', { type: 'text', name: 'groupKey', value: params.get('groupKey') || '', placeholder: 'group key' });
  f.parentId = h('input', { type: 'text', name: 'parentId', value: params.get('parentId') || '', placeholder: 'job id' });
  f.createdAfter = h('input', { type: 'datetime-local', name: 'createdAfter', value: isoToLocal(params.get('createdAfter')) });
  f.createdBefore = h('input', { type: 'datetime-local', name: 'createdBefore', value: isoToLocal(params.get('createdBefore')) });
  f.payloadContains = h('input', { type: 'text', name: 'payloadContains', value: params.get('payloadContains') || '', placeholder: '{"to":"a@b.c"}' });
  f.limit = pageSizeSelect(params);
  return h('form', { class: 'filters panel', 'data-testid': 'job-filters', onsubmit: function (ev) {
    ev.preventDefault();
    var p = new URLSearchParams();
    FILTER_KEYS.forEach(function (k) {
      var v = f[k].value.trim();
      if (k === 'createdAfter' || k === 'createdBefore') v = localToIso(v);
      if (v) p.set(k, v);
    });
    if (f.limit.value !== '50') p.set('limit', f.limit.value);
    location.hash = hashFor('jobs', [queue], p);
  } },
  h('label', null, 'State', f.status), h('label', null, 'Group', f.groupKey), h('label', null, 'Parent', f.parentId),
  h('label', null, 'Created after', f.createdAfter), h('label', null, 'Created before', f.createdBefore),
  h('label', null, 'Payload contains (JSON)', f.payloadContains), h('label', null, 'Page size', f.limit),
  h('button', { class: 'primary', type: 'submit' }, 'Apply'),
  h('button', { type: 'button', onclick: function () { location.hash = hashFor('jobs', [queue]); } }, 'Clear'));
}

/** Previous / Next over keyset pages; the cursors that led here are kept in the hash ("trail"). */
function pager(view, args, params, nextCursor, label) {
  var trail = (params.get('trail') || '').split(',').filter(Boolean);
  var cur = params.get('cursor');
  var nav = function (cursor, newTrail) {
    var p = new URLSearchParams(params.toString());
    p.delete('cursor'); p.delete('trail');
    if (cursor) p.set('cursor', cursor);
    if (newTrail.length) p.set('trail', newTrail.join(','));
    location.hash = hashFor(view, args, p);
  };
  return h('div', { class: 'pager' },
    h('button', { 'data-testid': 'first-page', disabled: !cur, onclick: function () { nav(null, []); } }, '\u00ab First'),
    h('button', { 'data-testid': 'prev-page', disabled: !cur, onclick: function () {
      var t = trail.slice(); var prev = t.pop(); nav(prev === '-' ? null : prev, t);
    } }, '\u2039 Previous'),
    h('span', { class: 'muted', 'data-testid': 'page-no' }, 'page ' + (trail.length + 1) + ' \u00b7 ' + label),
    h('button', { 'data-testid': 'next-page', disabled: !nextCursor, onclick: function () {
      nav(nextCursor, trail.concat([cur || '-']));
    } }, 'Next \u203a'));
}

VIEWS.jobs = async function (root, args, params) {
  var queue = args[0] || state.queue;
  if (!queue) { append(root, h('h1', null, 'Jobs'), h('p', { class: 'muted' }, 'No queues yet.')); return; }
  state.queue = queue;
  var apiQuery = new URLSearchParams();
  FILTER_KEYS.concat(['limit', 'cursor']).forEach(function (k) { if (params.get(k)) apiQuery.set(k, params.get(k)); });
  var box = h('div', null), confirmArea = h('div', null);
  bulkReset(queue);
  append(root, h('h1', null, 'Jobs ', h('span', { class: 'muted' }, '\u00b7 ' + queue)),
    h('div', { class: 'actions' }, queuePicker('jobs', queue)), retentionPanel(queue), filterForm(queue, params),
    confirmArea, bulkBar(queue, apiQuery, confirmArea), box);
  await live(function () { return api(qpath(queue) + '/jobs?' + apiQuery.toString()); }, function (page) {
    var rows = page.items.map(function (j) {
      return h('tr', { 'data-job': j.id }, bulkCell(j.id),
        h('td', { class: 'mono' }, h('a', { href: hashFor('job', [queue, j.id]) }, j.id)),
        h('td', null, badge(j.status)),
        h('td', null, j.groupKey === null ? h('span', { class: 'muted' }, '\u2014') : h('a', { href: hashFor('groups', [queue], new URLSearchParams({ key: j.groupKey })) }, j.groupKey)),
        h('td', { class: 'num hide-sm' }, String(j.priority)),
        h('td', { class: 'num' }, j.attempts + '/' + j.maxAttempts),
        h('td', { class: 'hide-sm' }, timeCell(j.runAt)),
        h('td', { class: 'hide-sm' }, fmtTime(j.createdAt)),
        payloadCell(j.payload),
        h('td', { class: 'error' }, j.lastError ? oneLine(j.lastError, 100).replace(/^"|"$/g, '') : ''));
    });
    fill(box,
      h('div', { class: 'table-wrap' }, h('table', { 'data-testid': 'jobs-table' },
        h('thead', null, h('tr', null, bulkHead(), ['id', 'state', 'group', 'priority', 'attempts', 'run at', 'created', 'payload', 'last error'].map(function (c, i) {
          return h('th', { class: (i === 3 || i === 5 || i === 6 ? 'hide-sm ' : '') + (i === 3 || i === 4 ? 'num' : '') }, c);
        }))),
        h('tbody', null, rows.length ? rows : h('tr', null, h('td', { colspan: CFG.readOnly ? '9' : '10', class: 'muted' }, 'No jobs match.'))))),
      pager('jobs', [queue], params, page.nextCursor, page.items.length + ' jobs'));
    bulkPage(page.items.map(function (j) { return j.id; }));
  });
};

function actionButtons(job, confirmArea) {
  if (CFG.readOnly) return null;
  var q = job.queue;
  var b = function (label, path, testid, cls) {
    return h('button', { class: cls || null, 'data-testid': testid, onclick: function () {
      act(label + ' job ' + job.id, function () { return api(qpath(q) + '/jobs/' + job.id + '/' + path, { method: 'POST' }); });
    } }, label);
  };
  return h('div', { class: 'actions' },
    job.status === 'scheduled' || job.status === 'retrying' ? b('Promote', 'promote', 'promote', 'primary') : null,
    !job.suspended && job.status !== 'in-flight' ? b('Suspend', 'suspend', 'suspend') : null,
    // A waiting parent is woken by its last child; resuming it by hand would run it before its children.
    job.suspended && job.status !== 'waiting' ? b('Resume', 'resume', 'resume', 'primary') : null,
    h('button', { class: 'danger', 'data-testid': 'cancel', onclick: function () {
      // A running job's worker aborts its handler at once (signal reason 'cancelled'); say so before.
      var running = job.status === 'in-flight';
      confirmBar(confirmArea, 'Cancel (delete) job ' + job.id + '?' +
        (running ? ' It is running: its worker stops the handler now and records nothing.' : ''), 'Cancel job', function () {
        act('Cancelled job ' + job.id, function () { return api(qpath(q) + '/jobs/' + job.id + '/cancel', { method: 'POST' }); },
          function () { go('jobs/' + encodeURIComponent(q)); });
      });
    } }, 'Cancel'), duplicateButton(job, confirmArea));
}

/** The "why isn't this running?" answer from GET /queues/{q}/jobs/{id}/why: every reason, in order. */
function whyBox(why, queue) {
  var codes = why.reasons.map(function (r) { return r.code; });
  return h('div', { class: 'why' + (why.ok ? ' ok' : ''), 'data-testid': 'why', 'data-code': codes.join(' ') },
    h('strong', null, why.ok ? 'Status' : 'Why isn\'t this running?'),
    h('ul', null, why.reasons.map(function (r) {
      return h('li', { 'data-code': r.code, 'data-job': r.jobId || null }, r.text,
        r.until ? relSpan(r.until) : null,
        r.jobId ? [' ', h('a', { href: hashFor('job', [queue, r.jobId]) }, 'job ' + r.jobId)] : null);
    })));
}

function kv(pairs) { return h('dl', { class: 'kv' }, pairs.map(function (p) { return [h('dt', null, p[0]), h('dd', null, p[1])]; })); }

/** The page of a job that left the queue as a dead letter: why says so, with a link to the letter. */
function deadJobPage(queue, id, why) {
  var d = why.deadLetter;
  return [h('h1', null, 'Job ' + id + ' ', badge('dead'), h('span', { class: 'muted' }, ' \u00b7 ' + queue)),
    whyBox(why, queue),
    h('p', null, h('a', { href: hashFor('dead', [queue, d.id]), 'data-testid': 'dead-letter-link' }, 'Dead letter ' + d.id))];
}

VIEWS.job = async function (root, args) {
  var queue = args[0], id = args[1];
  var confirmArea = h('div', null);
  var box = h('div', null);
  var payloadShown = state.showPayloads;
  append(root, confirmArea, box, jobReportPanel(queue, id));
  var load = async function () {
    var why;
    try { why = await api(qpath(queue) + '/jobs/' + encodeURIComponent(id) + '/why'); } catch (e) {
      if (e.status === 404) return { gone: e };
      throw e;
    }
    var children = why.job ? await api(qpath(queue) + '/jobs/' + why.job.id + '/children?limit=200') : null;
    return { why: why, children: children };
  };
  await live(load, function (d) {
    if (d.gone) {
      fill(box, h('h1', null, 'Job ' + id), errorBox(d.gone),
        h('p', null, 'It has completed or been cancelled (finished jobs leave the queue). ', h('a', { href: hashFor('jobs', [queue]) }, 'Back to the jobs of ' + queue)));
      return;
    }
    if (!d.why.job) { fill(box, deadJobPage(queue, id, d.why)); return; }
    var job = d.why.job, children = d.children;
    var payloadBox = h('div', null);
    var showPayload = function () { payloadShown = true; payloadBox.replaceChildren(h('pre', { 'data-testid': 'payload' }, json(job.payload))); };
    if (payloadShown) showPayload();
    else payloadBox.append(h('button', { 'data-testid': 'show-payload', onclick: showPayload }, 'Show payload'));
    var childRows = children.items.map(function (c) {
      return h('tr', { 'data-child': c.id }, h('td', { class: 'mono' }, h('a', { href: hashFor('job', [queue, c.id]) }, c.id)), h('td', null, badge(c.status)), h('td', null, c.attempts + '/' + c.maxAttempts), h('td', { class: 'error' }, c.lastError || ''));
    });
    Object.keys(children.results || {}).forEach(function (cid) {
      childRows.push(h('tr', { 'data-child': cid }, h('td', { class: 'mono' }, cid), h('td', null, h('span', { class: 'badge alive' }, 'done')), h('td', null, ''), h('td', { class: 'mono' }, oneLine(children.results[cid], 200))));
    });
    Object.keys(children.deadChildErrors || {}).forEach(function (cid) {
      childRows.push(h('tr', { 'data-child': cid }, h('td', { class: 'mono' }, cid), h('td', null, badge('dead')), h('td', null, ''), h('td', { class: 'error' }, String(children.deadChildErrors[cid]))));
    });
    fill(box,
      h('h1', null, 'Job ' + job.id + ' ', badge(job.status), h('span', { class: 'muted' }, ' \u00b7 ' + queue)),
      whyBox(d.why, queue),
      actionButtons(job, confirmArea),
      h('div', { class: 'grid2' },
        h('div', { class: 'panel' }, h('h2', null, 'Details'), kv([
          ['group', job.groupKey === null ? '\u2014' : h('a', { href: hashFor('groups', [queue], new URLSearchParams({ key: job.groupKey })) }, job.groupKey)],
          ['parent', job.parentId === null ? '\u2014' : h('a', { href: hashFor('job', [queue, job.parentId]) }, job.parentId)]].concat(
          // A flow node links to its flow (docs/workflows.md).
          job.meta && job.meta.arbiter && job.meta.arbiter.flow ? [['flow', h('a', { href: hashFor('flow', [job.meta.arbiter.flow]), 'data-testid': 'flow-link' },
            'flow ' + job.meta.arbiter.flow + ', node ' + job.meta.arbiter.node)]] : [], [
          ['priority', String(job.priority)], ['attempts', job.attempts + ' of ' + job.maxAttempts],
          ['worker', job.workerId || '\u2014'], ['suspended', job.suspended ? 'yes' : 'no'], ['rollup', job.isRollup ? 'yes' : 'no'],
          ['dedup key', job.dedupKey || '\u2014'], ['idempotency key', job.idempotencyKey || '\u2014'], ['limit key', job.limitKey || '\u2014']].concat(
          // A debounced job: the later enqueues it took in (docs/enqueue.md).
          job.debounced ? [['debounced', h('span', { 'data-testid': 'debounced' }, 'key ' + job.debounced.key + ', absorbed ' +
            job.debounced.absorbed + ' enqueue' + (job.debounced.absorbed === 1 ? '' : 's'))]] : [])))),
        h('div', { class: 'panel' }, h('h2', null, 'Timeline'), kv([
          ['created', timeCell(job.createdAt)], ['run at', timeCell(job.runAt)], ['claimed', timeCell(job.claimedAt)],
          ['leased until', timeCell(job.leasedUntil)], ['updated', timeCell(job.updatedAt)]]))),
      h('div', { class: 'panel' }, h('h2', null, 'Last error'), job.lastError ? h('pre', { 'data-testid': 'last-error' }, job.lastError) : h('span', { class: 'muted' }, 'none')),
      h('div', { class: 'panel' }, h('h2', null, 'Payload'), payloadBox),
      job.meta ? h('div', { class: 'panel' }, h('h2', null, 'Meta'), h('pre', null, json(job.meta))) : null,
      h('h2', null, 'Children (' + childRows.length + (children.nextCursor ? '+' : '') + ') ',
        children.items.length ? h('a', { href: hashFor('jobs', [queue], new URLSearchParams({ parentId: job.id })) }, 'list them with filters') : null),
      h('div', { class: 'table-wrap' }, h('table', { 'data-testid': 'children-table' },
        h('thead', null, h('tr', null, ['id', 'state', 'attempts', 'result / error'].map(function (c) { return h('th', null, c); }))),
        h('tbody', null, childRows.length ? childRows : h('tr', null, h('td', { colspan: '4', class: 'muted' }, 'No children.'))))));
  });
};
`;
