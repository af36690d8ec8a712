// Browser code: the groups views. Every group of a queue from GET /queues/{q}/groups (keyset pages of the
// groups table, each with its state and why it is blocked), and one group's jobs with the part each plays
// (who holds the group, who runs next, who waits), from the group as the server describes it. Both live.
export const CLIENT_GROUPS = String.raw`
/**
 * The part one job plays in its group, from the server's description of the group (its blocker and next
 * job, found with the claim's own rules): [text, row class].
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

function groupList(box, queue, params) {
  var p = new URLSearchParams({ limit: params.get('limit') || '50' });
  if (params.get('cursor')) p.set('cursor', params.get('cursor'));
  return live(function () { return api(qpath(queue) + '/groups?' + p.toString()); }, function (list) {
    var rows = list.items.map(function (g) {
      return h('tr', { 'data-group': g.groupKey, 'data-state': g.state, class: g.blocked ? 'blocked-row' : null },
        h('td', null, h('a', { href: hashFor('groups', [queue], new URLSearchParams({ key: g.groupKey })) }, g.groupKey)),
        h('td', { class: 'num' }, g.jobCount.toLocaleString('en-US')),
        h('td', null, h('span', { class: 'badge ' + (g.state === 'idle' ? 'scheduled' : g.state), 'data-testid': 'group-state' }, g.state)),
        h('td', { class: 'mono' }, g.head ? [h('a', { href: hashFor('job', [queue, g.head.id]) }, g.head.id), ' ', badge(g.head.status)] : '\u2014'),
        h('td', null, g.blockedUntil ? timeCell(g.blockedUntil) : '\u2014'),
        h('td', { 'data-testid': 'group-reason' }, g.reason));
    });
    fill(box,
      h('div', { class: 'table-wrap' }, h('table', { 'data-testid': 'groups-list' },
        h('thead', null, h('tr', null, ['group', 'jobs', 'state', 'head', 'blocked until', 'why'].map(function (c, i) { return h('th', { class: i === 1 ? 'num' : null }, c); }))),
        h('tbody', null, rows.length ? rows : h('tr', null, h('td', { colspan: '6', class: 'muted' }, 'No groups: no live job of this queue has a group key.'))))),
      pager('groups', [queue], params, list.nextCursor, list.items.length + ' groups'));
  });
}

function groupDetail(box, queue, key) {
  return live(function () { return api(qpath(queue) + '/groups/' + encodeURIComponent(key) + '?limit=200'); }, function (page) {
    var g = page.group;
    var jobs = page.items.slice().sort(fifoOrder);
    var waiting = jobs.filter(function (j) { return groupRole(j, g)[1] === 'blocked'; }).length;
    var holder = g ? (g.blocker ? g.blocker.id : g.nextJobId) : null;
    var summary = !g ? 'No live job has this group key.'
      : (holder ? 'Head: job ' + holder + ' (' + g.state + '). ' : '') + g.reason + '. ' + waiting + ' job' + (waiting === 1 ? '' : 's') + ' wait behind it.';
    fill(box,
      h('div', { class: 'why', 'data-testid': 'group-summary', 'data-state': g ? g.state : null }, h('strong', null, 'Group "' + key + '": ' + page.count + ' jobs. '), summary),
      h('div', { class: 'table-wrap' }, h('table', { 'data-testid': 'group-table' },
        h('thead', null, h('tr', null, ['id', 'state', 'priority', 'attempts', 'run at', 'role', 'payload'].map(function (c) { return h('th', null, c); }))),
        h('tbody', null, jobs.length ? jobs.map(function (j) {
          var role = groupRole(j, g);
          return h('tr', { 'data-job': j.id, class: role[1] ? role[1] + '-row' : null },
            h('td', { class: 'mono' }, h('a', { href: hashFor('job', [queue, j.id]) }, j.id)),
            h('td', null, badge(j.status)), h('td', { class: 'num' }, String(j.priority)),
            h('td', { class: 'num' }, j.attempts + '/' + j.maxAttempts), h('td', null, timeCell(j.runAt)),
            h('td', { 'data-role': role[1] || 'other' }, role[0]), payloadCell(j.payload));
        }) : h('tr', null, h('td', { colspan: '7', class: 'muted' }, 'No jobs.'))))),
      page.nextCursor ? h('p', { class: 'muted' }, 'Showing the newest 200 jobs of this group.') : null);
  });
}

VIEWS.groups = async function (root, args, params) {
  var queue = args[0] || state.queue;
  if (!queue) { append(root, h('h1', null, 'Groups'), h('p', { class: 'muted' }, 'No queues yet.')); return; }
  state.queue = queue;
  var key = params.get('key') || '';
  var input = h('input', { type: 'text', name: 'key', value: key, placeholder: 'group key', 'aria-label': 'group key' });
  var box = h('div', null);
  append(root, h('h1', null, 'Groups ', h('span', { class: 'muted' }, '\u00b7 ' + queue)),
    h('form', { class: 'filters panel', onsubmit: function (ev) {
      ev.preventDefault();
      location.hash = hashFor('groups', [queue], input.value ? new URLSearchParams({ key: input.value }) : null);
    } }, queuePicker('groups', queue), h('label', null, 'Group key', input),
      h('button', { class: 'primary', type: 'submit' }, 'Show'),
      key ? h('a', { href: hashFor('groups', [queue]), 'data-testid': 'all-groups' }, 'All groups') : null),
    box);
  await (key ? groupDetail(box, queue, key) : groupList(box, queue, params));
};
`;
