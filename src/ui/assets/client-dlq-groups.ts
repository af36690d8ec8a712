// Browser code: the dead-letter view (bulk retry / delete behind an in-page confirmation) and the groups
// views: every group of a queue from GET /queues/{q}/groups (keyset pages of the groups table, each with
// its state and why it is blocked), and one group's jobs (who is at the head, who waits behind whom).
export const CLIENT_DLQ_GROUPS = String.raw`
VIEWS.dlq = async function (root, args, params) {
  var queue = args[0] || state.queue;
  if (!queue) { append(root, h('h1', null, 'Dead letters'), h('p', { class: 'muted' }, 'No queues yet.')); return; }
  state.queue = queue;
  var p = new URLSearchParams({ limit: params.get('limit') || '50' });
  if (params.get('cursor')) p.set('cursor', params.get('cursor'));
  var page = await api(qpath(queue) + '/dead-letters?' + p.toString());
  var boxes = [];
  var countLabel = h('span', { class: 'muted', 'data-testid': 'selected-count' }, '0 selected');
  var selected = function () { return boxes.filter(function (b) { return b.checked; }).map(function (b) { return b.value; }); };
  var onSel = function () { countLabel.textContent = selected().length + ' selected'; };
  var all = h('input', { type: 'checkbox', 'aria-label': 'select all', 'data-testid': 'select-all', onchange: function () {
    boxes.forEach(function (b) { b.checked = all.checked; }); onSel();
  } });
  var rows = page.items.map(function (d) {
    var box = h('input', { type: 'checkbox', value: d.id, 'aria-label': 'select dead letter ' + d.id, onchange: onSel });
    boxes.push(box);
    return h('tr', { 'data-dead': d.id },
      h('td', null, box),
      h('td', { class: 'mono' }, d.id),
      h('td', { class: 'mono' }, d.jobId),
      h('td', null, timeCell(d.failedAt)),
      h('td', { class: 'num' }, d.attempts + '/' + d.maxAttempts),
      h('td', null, d.groupKey || '—'),
      payloadCell(d.payload),
      h('td', { class: 'error' }, d.lastError || ''));
  });
  var panel = h('div', null);
  var bulk = function (verb, path, cls) {
    return h('button', { class: cls, 'data-testid': 'bulk-' + verb.toLowerCase(), onclick: function () {
      var ids = selected();
      if (!ids.length) { toast('Select dead letters first.', true); return; }
      confirmBar(panel, verb + ' ' + ids.length + ' dead letter' + (ids.length === 1 ? '' : 's') + ' of "' + queue + '"?', verb, function () {
        act(verb + ' ' + ids.length + ' dead letters', async function () {
          var out = await api(qpath(queue) + '/dead-letters/' + path, { method: 'POST', body: { ids: ids } });
          return out.jobs ? { changed: out.jobs.length } : out;
        });
      });
    } }, verb + ' selected');
  };
  append(root, h('h1', null, 'Dead letters ', h('span', { class: 'muted' }, '· ' + queue)),
    h('div', { class: 'actions' }, queuePicker('dlq', queue),
      CFG.readOnly ? null : [bulk('Retry', 'retry', 'primary'), bulk('Delete', 'delete', 'danger'), countLabel]),
    panel,
    h('div', { class: 'table-wrap' }, h('table', { 'data-testid': 'dlq-table' },
      h('thead', null, h('tr', null, h('th', null, all), ['dead-letter id', 'job id', 'failed', 'attempts', 'group', 'payload', 'last error'].map(function (c) { return h('th', null, c); }))),
      h('tbody', null, rows.length ? rows : h('tr', null, h('td', { colspan: '8', class: 'muted' }, 'The dead-letter table is empty.'))))),
    h('div', { class: 'pager' },
      h('button', { disabled: !params.get('cursor'), onclick: function () { location.hash = hashFor('dlq', [queue]); } }, '« First'),
      h('button', { 'data-testid': 'next-page', disabled: !page.nextCursor, onclick: function () {
        location.hash = hashFor('dlq', [queue], new URLSearchParams({ cursor: page.nextCursor }));
      } }, 'Next ›')));
};

/**
 * The part one job plays in its group, from the group as the server describes it (GET .../groups/{key}:
 * its blocker and next job, the claim's own rules): [text, row class].
 */
function groupRole(j, g) {
  if (j.status === 'in-flight') return ['in flight on ' + (j.workerId || '?') + ' until ' + fmtTime(j.leasedUntil), 'head'];
  if (j.status === 'waiting') return ['waiting for its children (does not hold the group)', ''];
  if (j.status === 'suspended') return ['suspended (does not hold the group)', ''];
  if (g && g.blocker && g.blocker.id === j.id) return ['waiting for its retry until ' + fmtTime(j.runAt) + ' \u2014 holds the group', 'head'];
  if (j.status === 'scheduled') return ['delayed until ' + fmtTime(j.runAt) + ' (does not hold the group)', ''];
  if (j.status === 'exhausted' || j.attempts >= j.maxAttempts) return ['no attempts left', ''];
  if (g && g.blocker) return ['waits behind job ' + g.blocker.id, 'blocked'];
  if (g && g.nextJobId === j.id) return ['next \u2014 a claim takes it now', 'head'];
  if (g && g.nextJobId) return ['waits behind job ' + g.nextJobId, 'blocked'];
  return ['', ''];
}

/** FIFO order inside a group: lower priority first, then lower id. */
function fifoOrder(a, b) {
  if (a.priority !== b.priority) return a.priority - b.priority;
  var x = BigInt(a.id), y = BigInt(b.id);
  return x < y ? -1 : x > y ? 1 : 0;
}

VIEWS.groups = async function (root, args, params) {
  var queue = args[0] || state.queue;
  if (!queue) { append(root, h('h1', null, 'Groups'), h('p', { class: 'muted' }, 'No queues yet.')); return; }
  state.queue = queue;
  var key = params.get('key') || '';
  var input = h('input', { type: 'text', name: 'key', value: key, placeholder: 'group key', 'aria-label': 'group key' });
  append(root, h('h1', null, 'Groups ', h('span', { class: 'muted' }, '\u00b7 ' + queue)),
    h('form', { class: 'filters panel', onsubmit: function (ev) {
      ev.preventDefault();
      location.hash = hashFor('groups', [queue], input.value ? new URLSearchParams({ key: input.value }) : null);
    } }, queuePicker('groups', queue), h('label', null, 'Group key', input),
      h('button', { class: 'primary', type: 'submit' }, 'Show'),
      key ? h('a', { href: hashFor('groups', [queue]), 'data-testid': 'all-groups' }, 'All groups') : null));
  if (!key) {
    var p = new URLSearchParams({ limit: params.get('limit') || '50' });
    if (params.get('cursor')) p.set('cursor', params.get('cursor'));
    var list = await api(qpath(queue) + '/groups?' + p.toString());
    var STATE_BADGE = { 'in-flight': 'in-flight', retrying: 'retrying', ready: 'ready', idle: 'scheduled' };
    var rows = list.items.map(function (g) {
      return h('tr', { 'data-group': g.groupKey, 'data-state': g.state, class: g.blocked ? 'blocked-row' : null },
        h('td', null, h('a', { href: hashFor('groups', [queue], new URLSearchParams({ key: g.groupKey })) }, g.groupKey)),
        h('td', { class: 'num' }, g.jobCount.toLocaleString('en-US')),
        h('td', null, h('span', { class: 'badge ' + (STATE_BADGE[g.state] || ''), 'data-testid': 'group-state' }, g.state)),
        h('td', { class: 'mono' }, g.head ? [h('a', { href: hashFor('job', [queue, g.head.id]) }, g.head.id), ' ', badge(g.head.status)] : '\u2014'),
        h('td', null, g.blockedUntil ? timeCell(g.blockedUntil) : '\u2014'),
        h('td', { 'data-testid': 'group-reason' }, g.reason));
    });
    append(root,
      h('div', { class: 'table-wrap' }, h('table', { 'data-testid': 'groups-list' },
        h('thead', null, h('tr', null, ['group', 'jobs', 'state', 'head', 'blocked until', 'why'].map(function (c, i) { return h('th', { class: i === 1 ? 'num' : null }, c); }))),
        h('tbody', null, rows.length ? rows : h('tr', null, h('td', { colspan: '6', class: 'muted' }, 'No groups: no live job of this queue has a group key.'))))),
      h('div', { class: 'pager' },
        h('button', { disabled: !params.get('cursor'), onclick: function () { location.hash = hashFor('groups', [queue]); } }, '\u00ab First'),
        h('button', { 'data-testid': 'next-page', disabled: !list.nextCursor, onclick: function () {
          location.hash = hashFor('groups', [queue], new URLSearchParams({ cursor: list.nextCursor }));
        } }, 'Next \u203a')));
    return;
  }
  var page = await api(qpath(queue) + '/groups/' + encodeURIComponent(key) + '?limit=200');
  var g = page.group;
  var jobs = page.items.slice().sort(fifoOrder);
  var blocked = jobs.filter(function (j) { return groupRole(j, g)[1] === 'blocked'; }).length;
  var summary = !g ? 'No live job has this group key.'
    : (g.blocker || g.nextJobId ? 'Head: job ' + (g.blocker ? g.blocker.id : g.nextJobId) + ' (' + g.state + '). ' : '') + g.reason + '. ' +
      blocked + ' job' + (blocked === 1 ? '' : 's') + ' wait behind it.';
  append(root,
    h('div', { class: 'why', 'data-testid': 'group-summary', 'data-state': g ? g.state : null }, h('strong', null, 'Group "' + key + '": ' + page.count + ' jobs. '), summary),
    h('div', { class: 'table-wrap' }, h('table', { 'data-testid': 'group-table' },
      h('thead', null, h('tr', null, ['id', 'status', 'priority', 'attempts', 'run at', 'role', 'payload'].map(function (c) { return h('th', null, c); }))),
      h('tbody', null, jobs.map(function (j) {
        var role = groupRole(j, g);
        return h('tr', { 'data-job': j.id, class: role[1] ? role[1] + '-row' : null },
          h('td', { class: 'mono' }, h('a', { href: hashFor('job', [queue, j.id]) }, j.id)),
          h('td', null, badge(j.status)), h('td', { class: 'num' }, String(j.priority)),
          h('td', { class: 'num' }, j.attempts + '/' + j.maxAttempts), h('td', null, timeCell(j.runAt)),
          h('td', { 'data-role': role[1] || 'other' }, role[0]), payloadCell(j.payload));
      })))),
    page.nextCursor ? h('p', { class: 'muted' }, 'Showing the newest 200 jobs of this group.') : null);
};
`;
