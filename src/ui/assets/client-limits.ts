// Browser code: a queue's flow-control limits (GET/POST /queues/{q}/limits), shown and changed from the
// queues overview in a panel under the table. Empty fields remove a limit; the server validates and says
// which field is wrong, and nothing changes then.
export const CLIENT_LIMITS = String.raw`
function limitsText(l) {
  var cap = l.maxInFlight === null ? 'no cap' : 'at most ' + l.maxInFlight + ' in flight';
  var rate = l.rate === null ? 'no rate limit' : l.rate.perSecond + '/s (burst ' + l.rate.burst + ', cost ' + l.rate.cost + ')';
  return cap + '; ' + rate;
}

/** Reads a number field: '' is null (no limit); anything else goes to the server as typed, to be checked there. */
function limitField(input) {
  var v = input.value.trim();
  return v === '' ? null : Number(v);
}

async function showLimits(panel, queue) {
  panel.hidden = false;
  panel.setAttribute('data-queue', queue);
  panel.setAttribute('data-state', 'loading');
  panel.replaceChildren(h('span', { class: 'muted' }, 'Reading the limits of ' + queue + '\u2026'));
  try {
    var l = await api(qpath(queue) + '/limits');
    var cap = h('input', { type: 'text', inputmode: 'numeric', 'data-testid': 'limit-max-in-flight', value: l.maxInFlight === null ? '' : String(l.maxInFlight), placeholder: 'none' });
    var rate = h('input', { type: 'text', inputmode: 'decimal', 'data-testid': 'limit-rate', value: l.rate ? String(l.rate.perSecond) : '', placeholder: 'none' });
    var burst = h('input', { type: 'text', inputmode: 'decimal', 'data-testid': 'limit-burst', value: l.rate ? String(l.rate.burst) : '', placeholder: 'same as rate' });
    var now = h('p', { 'data-testid': 'limits-now' }, 'In force: ' + limitsText(l) + '.');
    var save = h('button', { 'data-testid': 'limits-save', onclick: async function () {
      var r = limitField(rate);
      var b = limitField(burst);
      var body = { maxInFlight: limitField(cap), rate: r === null ? null : (b === null ? { perSecond: r } : { perSecond: r, burst: b }) };
      save.disabled = true;
      try {
        var out = await api(qpath(queue) + '/limits', { method: 'POST', body: body });
        now.textContent = 'In force: ' + limitsText(out) + '.';
        panel.setAttribute('data-state', 'saved');
        toast('Limits of ' + queue + ': ' + limitsText(out));
      } catch (e) {
        panel.setAttribute('data-state', 'error');
        toast('Limits of ' + queue + ' not changed \u2014 ' + (e.code || '') + ': ' + (e.message || e), true);
      }
      save.disabled = false;
    } }, 'Save');
    panel.replaceChildren(
      h('strong', null, 'Flow-control limits of ' + queue), now,
      h('label', null, 'Max in flight ', cap), ' ',
      h('label', null, 'Rate per second ', rate), ' ',
      h('label', null, 'Burst ', burst), ' ',
      CFG.readOnly ? null : save, ' ',
      h('button', { 'data-testid': 'limits-close', onclick: function () { panel.hidden = true; panel.replaceChildren(); panel.removeAttribute('data-queue'); } }, 'Close'),
      h('p', { class: 'muted' }, 'Enforced inside every claim, across all workers; workers apply a change within a second. An empty field removes that limit.'));
    panel.setAttribute('data-state', 'done');
  } catch (e) {
    panel.replaceChildren(errorBox(e));
    panel.setAttribute('data-state', 'error');
  }
}
`;
