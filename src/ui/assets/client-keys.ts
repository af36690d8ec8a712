// Browser code: the Keys table of a queue with per-key limits, under its limits panel (client-limits.ts):
// a page of keys from GET /queues/{q}/keys (key order, `after` paging) with each key's limit, jobs in
// flight and ready, tokens and weight, and a form that sets one key's override
// (POST /queues/{q}/keys/{key}/limits). Nothing is shown for a queue without per-key limits.
export const CLIENT_KEYS = String.raw`
var KEYS_PAGE = 25;

function keyLabel(k) { return k === '' ? '(no key)' : k; }

/** The table of one page of keys (after: the key the page starts after; '' for the first page). */
async function showKeys(box, queue, limits, after, trail) {
  trail = trail || [];
  if (!limits.perKey) {
    box.replaceChildren();
    box.removeAttribute('data-state');
    return;
  }
  box.setAttribute('data-state', 'loading');
  try {
    var q = new URLSearchParams({ limit: String(KEYS_PAGE) });
    if (after) q.set('after', after);
    var page = await api(qpath(queue) + '/keys?' + q.toString());
    var form = keyForm(box, queue, limits, after, trail);
    var rows = page.items.map(function (k) {
      var full = k.maxInFlight !== null && k.inFlight >= k.maxInFlight;
      return h('tr', { 'data-key': k.key, class: full ? 'alert-row' : null },
        h('td', null, keyLabel(k.key), k.configured ? h('span', { class: 'muted', title: 'This key has its own override' }, ' \u2022 own limits') : null),
        h('td', { class: 'num', 'data-k': 'in-flight' }, k.inFlight + ' / ' + (k.maxInFlight === null ? '\u221e' : k.maxInFlight)),
        h('td', { class: 'num', 'data-k': 'ready' }, k.ready >= 10000 ? '10,000+' : k.ready.toLocaleString('en-US')),
        h('td', { class: 'num', 'data-k': 'tokens' }, k.tokens === null ? '\u2014' : (Math.floor(k.tokens * 10) / 10) + ' / ' + k.rate.burst),
        h('td', { class: 'num', 'data-k': 'weight' }, String(k.weight)),
        h('td', { class: 'actions-cell' }, CFG.readOnly || k.key === '' ? null :
          h('button', { 'data-testid': 'key-edit', onclick: function () { form.edit(k.key); } }, 'Edit')));
    });
    var prev = trail.length ? trail[trail.length - 1] : null;
    box.replaceChildren(
      h('strong', null, 'Keys'), ' ',
      h('button', { 'data-testid': 'keys-refresh', onclick: function () { showKeys(box, queue, limits, after, trail); } }, 'Refresh'),
      h('div', { class: 'table-wrap' }, h('table', { 'data-testid': 'keys-table' },
        h('thead', null, h('tr', null, ['key', 'in flight / limit', 'ready', 'tokens', 'weight', ''].map(function (c, i) {
          return h('th', { class: i >= 1 && i <= 4 ? 'num' : null }, c);
        }))),
        h('tbody', null, rows.length ? rows : h('tr', null, h('td', { colspan: '6', class: 'muted' }, after ? 'No more keys.' : 'No key yet: no ungrouped job waits or runs, and no key has an override.'))))),
      h('div', { class: 'actions' },
        h('button', { 'data-testid': 'keys-prev', disabled: prev === null, onclick: function () { showKeys(box, queue, limits, prev, trail.slice(0, -1)); } }, '\u2190 Previous'), ' ',
        h('button', { 'data-testid': 'keys-next', disabled: !page.nextAfter, onclick: function () { showKeys(box, queue, limits, page.nextAfter, trail.concat([after])); } }, 'Next \u2192')),
      CFG.readOnly ? null : form.node);
    box.setAttribute('data-state', 'done');
  } catch (e) {
    box.replaceChildren(errorBox(e));
    box.setAttribute('data-state', 'error');
  }
}

/** The form that reads and sets one key's override; edit(key) fills it from the key's stored override. */
function keyForm(box, queue, limits, after, trail) {
  var key = h('input', { type: 'text', 'data-testid': 'key-name', placeholder: 'limit key' });
  var cap = numInput('key-max-in-flight', null, 'default');
  var weight = numInput('key-weight', null, 'default (1)');
  var rate = numInput('key-rate', null, 'default');
  var burst = numInput('key-burst', null, 'same as rate');
  var save = h('button', { 'data-testid': 'key-save', onclick: async function () {
    var k = key.value;
    var body = { maxInFlight: limitField(cap), weight: limitField(weight), rate: rateField(rate, burst) };
    save.disabled = true;
    try {
      await api(qpath(queue) + '/keys/' + encodeURIComponent(k) + '/limits', { method: 'POST', body: body });
      toast('Limits of key ' + k + ' of ' + queue + ' saved');
      await showKeys(box, queue, limits, after, trail);
      box.setAttribute('data-saved', k);
    } catch (e) {
      box.setAttribute('data-state', 'error');
      toast('Limits of key ' + k + ' not changed \u2014 ' + (e.code || '') + ': ' + (e.message || e), true);
    }
    save.disabled = false;
  } }, 'Save key');
  var node = h('div', { 'data-testid': 'key-form' },
    h('label', null, 'Key ', key), ' ',
    h('label', null, 'Max in flight ', cap), ' ',
    h('label', null, 'Weight ', weight), ' ',
    h('label', null, 'Rate per second ', rate), ' ',
    h('label', null, 'Burst ', burst), ' ', save,
    h('p', { class: 'muted' }, 'A key\u2019s own limits replace the queue\u2019s key defaults; an empty field falls back to the default. The weight is how many jobs the key takes per turn of the fair share.'));
  return {
    node: node,
    edit: async function (k) {
      key.value = k;
      try {
        var o = await api(qpath(queue) + '/keys/' + encodeURIComponent(k) + '/limits');
        cap.value = o.maxInFlight === null ? '' : String(o.maxInFlight);
        weight.value = o.weight === null ? '' : String(o.weight);
        rate.value = o.rate === null ? '' : String(o.rate.perSecond);
        burst.value = o.rate === null ? '' : String(o.rate.burst);
        node.setAttribute('data-key', k);
      } catch (e) {
        toast('Limits of key ' + k + ' not read \u2014 ' + (e.code || '') + ': ' + (e.message || e), true);
      }
    },
  };
}
`;
