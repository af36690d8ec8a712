// Browser code: the Search view, GET /search across queues. An id is found through the indexes; a
// payload or error text in a bounded scan of each table's newest rows, which the page says. It runs when
// the form is sent, never on a timer (a scan is not for polling); the query lives in the address.
export const CLIENT_SEARCH = String.raw`
VIEWS.search = async function (root, args, params) {
  var idIn = h('input', { type: 'text', name: 'id', placeholder: 'job id', value: params.get('id') || '', 'aria-label': 'job id' });
  var payloadIn = h('input', { type: 'text', name: 'payload', placeholder: '{"customer":{"id":"c-1"}}', value: params.get('payload') || '', 'aria-label': 'payload contains (JSON)' });
  var errorIn = h('input', { type: 'text', name: 'error', placeholder: 'text in the last error', value: params.get('error') || '', 'aria-label': 'error text' });
  var queueSel = queueField({ name: 'queue', 'aria-label': 'queue' }, params.get('queue'), 'every queue');
  var scanIn = h('input', { type: 'text', name: 'scan', inputmode: 'numeric', value: params.get('scan') || '1000', 'aria-label': 'rows scanned per table' });
  var form = h('form', { class: 'filters', 'data-testid': 'search-form', onsubmit: function (ev) {
    ev.preventDefault();
    var p = new URLSearchParams();
    [['id', idIn], ['payload', payloadIn], ['error', errorIn], ['queue', queueSel], ['scan', scanIn]].forEach(function (f) {
      var v = f[1].value.trim(); if (v && !(f[0] === 'scan' && v === '1000')) p.set(f[0], v);
    });
    location.hash = hashFor('search', [], p);
  } },
    h('label', null, 'Job id', idIn), h('label', null, 'Payload contains (JSON)', payloadIn),
    h('label', null, 'Error text', errorIn), h('label', null, 'Queue', queueSel),
    h('label', null, 'Rows per table', scanIn), h('button', { class: 'primary', type: 'submit' }, 'Search'));
  append(root, h('h1', null, 'Search'), h('div', { class: 'panel' }, form));
  var query = new URLSearchParams();
  ['id', 'payload', 'error', 'queue', 'scan'].forEach(function (k) { if (params.get(k)) query.set(k, params.get(k)); });
  if (!query.has('id') && !query.has('payload') && !query.has('error')) {
    append(root, h('p', { class: 'muted' }, 'Give a job id (found through the indexes, in every queue), or payload JSON and/or error text (searched in the newest rows of each queue\u2019s jobs, history and dead letters).'));
    return;
  }
  var data = await api('/search?' + query.toString());
  var note = data.mode === 'index'
    ? 'By id, through the indexes of ' + data.queuesSearched + ' of ' + data.queuesTotal + ' queue(s).'
    : 'Searched the newest ' + data.scanned.toLocaleString('en-US') + ' rows of each table of ' + data.queuesSearched + ' of ' + data.queuesTotal + ' queue(s); older rows were not read.';
  append(root,
    h('p', { class: 'muted', 'data-testid': 'search-note' }, note + (data.truncated ? ' Stopped at the limit: more may match.' : '')),
    h('div', { class: 'table-wrap' }, h('table', { 'data-testid': 'search-results' },
      h('thead', null, h('tr', null, ['queue', 'found in', 'job', 'at', 'payload', 'last error'].map(function (c) { return h('th', null, c); }))),
      h('tbody', null, data.items.length ? data.items.map(function (r) {
        var link = r.source === 'dead-letter' ? hashFor('dead', [r.queue, r.deadLetterId]) : hashFor('job', [r.queue, r.id]);
        return h('tr', { 'data-hit': r.queue + ':' + r.id, 'data-source': r.source },
          h('td', null, r.queue), h('td', null, h('span', { class: 'badge ' + (r.source === 'job' ? 'ready' : r.source === 'history' ? 'alive' : 'dead') }, r.source)),
          h('td', null, h('a', { href: link }, r.id)), h('td', null, timeCell(r.at)),
          h('td', { class: 'payload mono' }, state.showPayloads ? oneLine(r.payload, 200) : '\u2026'),
          h('td', { class: 'error' }, r.lastError || ''));
      }) : h('tr', null, h('td', { colspan: '6', class: 'muted' }, 'No match.'))))));
};
`;
