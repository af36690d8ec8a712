// Browser code: a queue's retention (what it keeps of finished work), shown on the queue's jobs page from
// GET /queues (each queue carries the retention in force), and changed with POST /queues/{q}/retention.
export const CLIENT_RETENTION = String.raw`
var RETENTION_FIELDS = [
  ['historyMaxAgeMs', 'history max age', true],
  ['historyMaxCount', 'history max count', false],
  ['deadLetterMaxAgeMs', 'dead letter max age', true],
  ['deadLetterMaxCount', 'dead letter max count', false],
  ['statsMaxAgeMs', 'stats max age', true],
];

function fmtAge(ms) {
  var units = [[86400000, 'd'], [3600000, 'h'], [60000, 'm'], [1000, 's']];
  for (var i = 0; i < units.length; i++) if (ms % units[i][0] === 0) return (ms / units[i][0]) + units[i][1];
  return ms + 'ms';
}
function fmtLimit(v, age) { return v === null ? 'no limit' : age ? fmtAge(v) : v.toLocaleString('en-US'); }

/** One limit as typed: "none", "default", a count, or an age such as 14d, 12h, 90m. Throws on anything else. */
function parseLimit(text, age, label) {
  var t = text.trim().toLowerCase();
  if (t === 'none') return null;
  if (t === 'default') return 'default';
  var m = /^(\d+)(ms|s|m|h|d)?$/.exec(t);
  if (!m || (!age && m[2])) throw new Error(label + ': ' + (age ? 'an age like 14d, 12h or 90m' : 'a whole number') + ', none or default');
  var n = Number(m[1]);
  return age ? n * ({ ms: 1, s: 1000, m: 60000, h: 3600000, d: 86400000 })[m[2] || 'ms'] : n;
}

/** The retention line of a queue page, with an editor (hidden until asked for; absent when read-only). */
function retentionPanel(queue) {
  var info = queueInfo(queue);
  if (!info || !info.retention) return null;
  var r = info.retention;
  var summary = h('span', { 'data-testid': 'retention' }, RETENTION_FIELDS.map(function (f, i) {
    return h('span', { 'data-k': f[0] }, (i ? ' \u00b7 ' : '') + f[1] + ': ' + fmtLimit(r[f[0]], f[2]));
  }));
  if (CFG.readOnly) return h('p', { class: 'muted' }, 'Keeps: ', summary);
  var inputs = {};
  var form = h('form', { class: 'filters panel', hidden: true, 'data-testid': 'retention-form', onsubmit: function (ev) {
    ev.preventDefault();
    var body = {};
    try {
      RETENTION_FIELDS.forEach(function (f) { if (inputs[f[0]].value.trim() !== '') body[f[0]] = parseLimit(inputs[f[0]].value, f[2], f[1]); });
    } catch (e) { toast(e.message, true); return; }
    act('Changed the retention of ' + queue, function () { return api(qpath(queue) + '/retention', { method: 'POST', body: body }); });
  } }, RETENTION_FIELDS.map(function (f) {
    inputs[f[0]] = h('input', { type: 'text', name: f[0], value: r[f[0]] === null ? 'none' : f[2] ? fmtAge(r[f[0]]) : String(r[f[0]]), 'aria-label': f[1] });
    return h('label', null, f[1], inputs[f[0]]);
  }), h('button', { class: 'primary', type: 'submit', 'data-testid': 'retention-save' }, 'Save'),
    h('span', { class: 'muted' }, 'none: no limit; default: the default. The maintenance leader prunes at its next round.'));
  var toggle = h('button', { type: 'button', 'data-testid': 'retention-edit', onclick: function () { form.hidden = !form.hidden; } }, 'Change');
  return h('div', null, h('p', { class: 'muted' }, 'Keeps: ', summary, ' ', toggle), form);
}
`;
