// Browser code: the cron view. Every recurring schedule from GET /cron (code and runtime ones, live), with
// pause / resume / remove per schedule, and a form that adds a schedule or changes one (POST /cron,
// POST /cron/{name}). Running workers pick a change up within a second.
export const CLIENT_CRON = String.raw`
function cronPath(name) { return '/cron/' + encodeURIComponent(name); }

/** The add / change form. Kept outside what the live table repaints, so typing survives refreshes. */
function cronForm() {
  var f = {
    name: h('input', { type: 'text', name: 'name', placeholder: 'nightly-report', 'aria-label': 'name', required: true }),
    queue: queueField({ name: 'queue', 'aria-label': 'queue' }, null),
    pattern: h('input', { type: 'text', name: 'pattern', placeholder: '0 3 * * *', 'aria-label': 'pattern', required: true }),
    tz: h('input', { type: 'text', name: 'tz', value: 'UTC', 'aria-label': 'time zone' }),
    payload: h('input', { type: 'text', name: 'payload', value: '{}', 'aria-label': 'payload (JSON)' }),
    overlap: h('select', { name: 'overlap', 'aria-label': 'overlap' }, ['skip', 'allow'].map(function (v) { return h('option', { value: v }, v); })),
    missed: h('select', { name: 'missed', 'aria-label': 'missed ticks' }, ['once', 'skip', 'catch-up'].map(function (v) { return h('option', { value: v }, v); })),
    catchUpMax: h('input', { type: 'number', name: 'catchUpMax', value: '10', min: '1', max: '1000', 'aria-label': 'catch up to' }),
  };
  var editing = null;
  var title = h('strong', { 'data-testid': 'cron-form-title' }, 'Add a schedule');
  var submit = h('button', { class: 'primary', type: 'submit', 'data-testid': 'cron-submit' }, 'Add');
  var cancel = h('button', { type: 'button', hidden: true, onclick: function () { reset(); } }, 'Cancel edit');
  function reset() {
    editing = null; f.name.disabled = false; f.name.value = ''; f.pattern.value = ''; f.payload.value = '{}';
    title.textContent = 'Add a schedule'; submit.textContent = 'Add'; cancel.hidden = true;
  }
  function edit(s) {
    editing = s.name; f.name.value = s.name; f.name.disabled = true;
    f.queue.value = s.queue; f.pattern.value = s.pattern; f.tz.value = s.tz;
    f.payload.value = s.payload === null ? '' : JSON.stringify(s.payload);
    f.overlap.value = s.overlap; f.missed.value = s.missed; f.catchUpMax.value = String(s.catchUpMax);
    title.textContent = 'Change ' + s.name; submit.textContent = 'Save changes'; cancel.hidden = false;
    f.pattern.focus();
  }
  var form = h('form', { class: 'filters panel', 'data-testid': 'cron-form', onsubmit: function (ev) {
    ev.preventDefault();
    var body = { queue: f.queue.value, pattern: f.pattern.value.trim(), tz: f.tz.value.trim() || 'UTC',
      overlap: f.overlap.value, missed: f.missed.value, catchUpMax: Number(f.catchUpMax.value) };
    // An empty payload field on a code schedule whose payload is a function leaves it in code.
    if (f.payload.value.trim() !== '') {
      try { body.payload = JSON.parse(f.payload.value); } catch (e) { toast('The payload is not valid JSON: ' + e.message, true); return; }
    }
    var name = editing;
    if (name) act('Changed schedule ' + name, function () { return api(cronPath(name), { method: 'POST', body: body }); });
    else {
      body.name = f.name.value.trim();
      act('Added schedule ' + body.name, function () { return api('/cron', { method: 'POST', body: body }); });
    }
  } }, title,
    h('label', null, 'Name', f.name), h('label', null, 'Queue', f.queue), h('label', null, 'Pattern', f.pattern),
    h('label', null, 'Time zone', f.tz), h('label', null, 'Payload', f.payload), h('label', null, 'Overlap', f.overlap),
    h('label', null, 'Missed ticks', f.missed), h('label', null, 'Catch up to', f.catchUpMax), submit, cancel);
  return { form: form, edit: edit };
}

VIEWS.cron = async function (root) {
  var confirmArea = h('div', null);
  var form = CFG.readOnly ? null : cronForm();
  var tbody = h('tbody');
  append(root, h('h1', null, 'Cron schedules'),
    h('p', { class: 'muted' }, 'Schedules from code (a worker\'s cron option) and added here. Changes reach running workers within a second; a code schedule changed here is left alone by later deploys, and a pause survives deploys.'),
    form ? form.form : null, confirmArea,
    h('div', { class: 'table-wrap' }, h('table', { 'data-testid': 'cron-table' },
      h('thead', null, h('tr', null, ['name', 'queue', 'pattern', 'state', 'source', 'missed ticks', 'last tick', 'next tick', ''].map(function (c) { return h('th', null, c); }))),
      tbody)));
  await live(function () { return api('/cron'); }, function (data) {
    fill(tbody, data.items.length ? data.items.map(function (s) {
      var actions = CFG.readOnly ? null : h('span', { class: 'actions' },
        h('button', { 'data-testid': s.paused ? 'cron-resume' : 'cron-pause', onclick: function () {
          var verb = s.paused ? 'resume' : 'pause';
          act((s.paused ? 'Resumed' : 'Paused') + ' schedule ' + s.name, function () { return api(cronPath(s.name) + '/' + verb, { method: 'POST' }); });
        } }, s.paused ? 'Resume' : 'Pause'),
        h('button', { 'data-testid': 'cron-edit', onclick: function () { form.edit(s); } }, 'Edit'),
        h('button', { class: 'danger', 'data-testid': 'cron-remove', onclick: function () {
          confirmBar(confirmArea, 'Remove schedule ' + s.name + '?' + (s.source === 'code' ? ' It comes back when a worker that has it in code starts.' : ''), 'Remove', function () {
            act('Removed schedule ' + s.name, function () { return api(cronPath(s.name), { method: 'DELETE' }); });
          });
        } }, 'Remove'));
      return h('tr', { 'data-cron': s.name, 'data-paused': String(s.paused) },
        h('td', { class: 'mono' }, s.name),
        h('td', null, h('a', { href: hashFor('jobs', [s.queue]) }, s.queue)),
        h('td', { class: 'mono' }, s.pattern + (s.tz !== 'UTC' ? ' (' + s.tz + ')' : '')),
        h('td', null, h('span', { class: 'badge ' + (s.paused ? 'suspended' : 'ready'), 'data-testid': 'cron-state' }, s.paused ? 'paused' : 'active')),
        h('td', null, s.source + (s.overridden ? ' (changed here)' : '')),
        h('td', null, s.missed === 'catch-up' ? 'catch up to ' + s.catchUpMax : s.missed),
        h('td', null, timeCell(s.lastTick)),
        h('td', null, timeCell(s.nextTick)),
        h('td', null, actions));
    }) : h('tr', null, h('td', { colspan: '9', class: 'muted' }, 'No schedules.')));
  });
};
`;
