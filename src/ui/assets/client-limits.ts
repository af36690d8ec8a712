// Browser code: a queue's flow-control limits (GET/POST /queues/{q}/limits), shown and changed from the
// queues overview in a panel under the table: the queue's cap and bucket, and the per-key defaults (with
// the Keys table below them, client-keys.ts). Empty fields remove a limit; the server validates and says
// which field is wrong, and nothing changes then.
export const CLIENT_LIMITS = String.raw`
function rateText(r) {
  return r === null ? 'no rate limit' : r.perSecond + '/s (burst ' + r.burst + ', cost ' + r.cost + ')';
}
function limitsText(l) {
  var cap = l.maxInFlight === null ? 'no cap' : 'at most ' + l.maxInFlight + ' in flight';
  var text = cap + '; ' + rateText(l.rate);
  if (l.perKey) {
    text += '; per key: ' + (l.perKey.maxInFlight === null ? 'no cap' : 'at most ' + l.perKey.maxInFlight + ' in flight') +
      ', ' + rateText(l.perKey.rate) + ', fair share';
  }
  return text;
}

/** Reads a number field: '' is null (no limit); anything else goes to the server as typed, to be checked there. */
function limitField(input) {
  var v = input.value.trim();
  return v === '' ? null : Number(v);
}

/** A rate from its two fields: null without a rate; the burst only when given. */
function rateField(rate, burst) {
  var r = limitField(rate);
  var b = limitField(burst);
  return r === null ? null : (b === null ? { perSecond: r } : { perSecond: r, burst: b });
}

function numInput(testid, value, placeholder) {
  return h('input', { type: 'text', inputmode: 'decimal', 'data-testid': testid, value: value === null || value === undefined ? '' : String(value), placeholder: placeholder || 'none' });
}

async function showLimits(panel, queue) {
  panel.hidden = false;
  panel.setAttribute('data-queue', queue);
  panel.setAttribute('data-state', 'loading');
  panel.replaceChildren(h('span', { class: 'muted' }, 'Reading the limits of ' + queue + '\u2026'));
  try {
    var l = await api(qpath(queue) + '/limits');
    var pk = l.perKey || { maxInFlight: null, rate: null };
    var cap = numInput('limit-max-in-flight', l.maxInFlight);
    var rate = numInput('limit-rate', l.rate && l.rate.perSecond);
    var burst = numInput('limit-burst', l.rate && l.rate.burst, 'same as rate');
    var perKey = h('input', { type: 'checkbox', 'data-testid': 'limit-per-key', checked: l.perKey !== null });
    var keyCap = numInput('limit-key-max-in-flight', pk.maxInFlight);
    var keyRate = numInput('limit-key-rate', pk.rate && pk.rate.perSecond);
    var keyBurst = numInput('limit-key-burst', pk.rate && pk.rate.burst, 'same as rate');
    var keysBox = h('div', { 'data-testid': 'keys-box' });
    var now = h('p', { 'data-testid': 'limits-now' }, 'In force: ' + limitsText(l) + '.');
    var save = h('button', { 'data-testid': 'limits-save', onclick: async function () {
      var body = {
        maxInFlight: limitField(cap),
        rate: rateField(rate, burst),
        perKey: perKey.checked ? { maxInFlight: limitField(keyCap), rate: rateField(keyRate, keyBurst) } : null,
      };
      save.disabled = true;
      try {
        var out = await api(qpath(queue) + '/limits', { method: 'POST', body: body });
        now.textContent = 'In force: ' + limitsText(out) + '.';
        panel.setAttribute('data-state', 'saved');
        toast('Limits of ' + queue + ': ' + limitsText(out));
        showKeys(keysBox, queue, out, '');
      } catch (e) {
        panel.setAttribute('data-state', 'error');
        toast('Limits of ' + queue + ' not changed \u2014 ' + (e.code || '') + ': ' + (e.message || e), true);
      }
      save.disabled = false;
    } }, 'Save');
    panel.replaceChildren(
      h('strong', null, 'Flow-control limits of ' + queue), now,
      h('div', null,
        h('label', null, 'Max in flight ', cap), ' ',
        h('label', null, 'Rate per second ', rate), ' ',
        h('label', null, 'Burst ', burst)),
      h('div', null,
        h('label', { title: 'Claim ungrouped jobs key by key (their limitKey) in weighted turns, within each key\u2019s limits' }, perKey, ' Per key (fair share)'), ' ',
        h('label', null, 'Key max in flight ', keyCap), ' ',
        h('label', null, 'Key rate per second ', keyRate), ' ',
        h('label', null, 'Key burst ', keyBurst)),
      h('div', null, CFG.readOnly ? null : save, ' ',
        h('button', { 'data-testid': 'limits-close', onclick: function () { panel.hidden = true; panel.replaceChildren(); panel.removeAttribute('data-queue'); } }, 'Close')),
      h('p', { class: 'muted' }, 'Enforced inside every claim, across all workers; workers apply a change within a second. An empty field removes that limit. The key limits are the defaults of every limit key; a key\u2019s own override is set in the Keys table.'),
      keysBox);
    panel.setAttribute('data-state', 'done');
    showKeys(keysBox, queue, l, '');
  } catch (e) {
    panel.replaceChildren(errorBox(e));
    panel.setAttribute('data-state', 'error');
  }
}
`;
