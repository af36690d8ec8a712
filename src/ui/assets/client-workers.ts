// Browser code: the Workers view. Each registered worker with what it ran at its last heartbeat (GET
// /workers, one read of the small _workers table): its concurrency, per queue running/limit and prefetch,
// the jobs it runs (linked), where it runs and whether its heartbeat is recent.
export const CLIENT_WORKERS = String.raw`
VIEWS.workers = async function (root) {
  var tbody = h('tbody');
  var running = h('tbody');
  append(root, h('h1', null, 'Workers'),
    h('div', { class: 'table-wrap' }, h('table', { 'data-testid': 'workers-table' },
      h('thead', null, h('tr', null, ['id', 'handlers busy', 'queues (busy / limit)', 'host', 'started', 'last heartbeat', 'health'].map(function (c) { return h('th', null, c); }))),
      tbody)),
    h('h2', null, 'Running now'),
    h('div', { class: 'table-wrap' }, h('table', { 'data-testid': 'running-table' },
      h('thead', null, h('tr', null, ['worker', 'queue', 'job', 'attempt', 'claimed'].map(function (c) { return h('th', null, c); }))),
      running)));
  await live(function () { return api('/workers'); }, function (data) {
    var now = Date.now();
    var jobs = [];
    fill(tbody, data.items.length ? data.items.map(function (w) {
      var age = (now - new Date(w.lastHeartbeat).getTime()) / 1000;
      var info = w.info;
      if (info) info.jobs.forEach(function (j) { jobs.push({ worker: w.id, job: j }); });
      return h('tr', { 'data-worker': w.id },
        h('td', { class: 'mono' }, w.id),
        h('td', { 'data-testid': 'worker-running' }, info
          ? [info.running + ' of ' + info.concurrency, info.prefetched > 0 ? h('span', { class: 'muted' }, ' + ' + info.prefetched + ' prefetched (claimed, not started)') : null]
          : h('span', { class: 'muted' }, 'not reported')),
        h('td', { 'data-testid': 'worker-queues' }, info
          ? info.queues.map(function (q, i) {
            return h('span', null, i ? ', ' : '', h('a', { href: hashFor('jobs', [q.name], new URLSearchParams('status=in-flight')) }, q.name),
              ' ' + q.running + '/' + q.concurrency, q.prefetch > 1 ? h('span', { class: 'muted' }, ' (prefetch ' + q.prefetch + ')') : null);
          })
          : (w.queues || []).join(', ')),
        h('td', null, w.hostname + ' (pid ' + w.pid + ')'),
        h('td', null, timeCell(w.startedAt)),
        h('td', null, timeCell(w.lastHeartbeat)),
        h('td', null, age < 15 ? h('span', { class: 'badge alive' }, 'live') : h('span', { class: 'badge dead' }, 'silent ' + Math.round(age) + ' s')));
    }) : h('tr', null, h('td', { colspan: '7', class: 'muted' }, 'No registered workers.')));
    fill(running, jobs.length ? jobs.map(function (r) {
      return h('tr', { 'data-job': r.job.id },
        h('td', { class: 'mono' }, r.worker),
        h('td', null, r.job.queue),
        h('td', null, h('a', { href: hashFor('job', [r.job.queue, r.job.id]) }, r.job.id)),
        h('td', { class: 'num' }, String(r.job.attempt)),
        h('td', null, timeCell(r.job.claimedAt)));
    }) : h('tr', null, h('td', { colspan: '5', class: 'muted' }, 'Nothing running (as of the last heartbeats).')));
  });
};
`;
