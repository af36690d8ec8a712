// Browser code: the enqueue controls view (docs/enqueue.md). One table, a row per queue, a column per
// counter: enqueues debounced (folded into a pending job), throttled, rejected by a unique key, rejected
// at a maxQueued cap, and jobs dropped to make room. From GET /enqueue-controls, live like every view.
export const CLIENT_CONTROLS = String.raw`
var CONTROL_KINDS = [
  ['debounced', 'debounced', 'Enqueues folded into a pending debounced job'],
  ['throttled', 'throttled', 'Enqueues within an open throttle window'],
  ['unique_rejected', 'unique rejected', 'Enqueues refused: the unique key was taken'],
  ['overflow_rejected', 'overflow rejected', 'Enqueues refused at a maxQueued cap (QueueFullError)'],
  ['overflow_dropped', 'dropped', 'Waiting jobs deleted to make room (overflow dropOldest)'],
];

VIEWS.controls = async function (root) {
  var tbody = h('tbody');
  append(root, h('h1', null, 'Enqueue controls'),
    h('div', { class: 'table-wrap' }, h('table', { 'data-testid': 'controls-table' },
      h('thead', null, h('tr', null, h('th', null, 'queue'), CONTROL_KINDS.map(function (k) {
        return h('th', { class: 'num', title: k[2] }, k[1]);
      }))), tbody)),
    h('p', { class: 'muted' }, 'Totals since the queue was created, from every producer.'));
  await live(function () { return api('/enqueue-controls'); }, function (data) {
    var byQueue = {};
    data.items.forEach(function (it) { (byQueue[it.queue] = byQueue[it.queue] || {})[it.kind] = it.count; });
    var names = Object.keys(byQueue).sort();
    fill(tbody, names.length ? names.map(function (q) {
      return h('tr', { 'data-queue': q }, h('td', null, h('a', { href: hashFor('jobs', [q]) }, q)),
        CONTROL_KINDS.map(function (k) {
          return h('td', { class: 'num', 'data-k': k[0] }, (byQueue[q][k[0]] || 0).toLocaleString('en-US'));
        }));
    }) : h('tr', null, h('td', { colspan: String(CONTROL_KINDS.length + 1), class: 'muted' }, 'No controlled enqueues yet.')));
  });
};
`;
