// Browser code: the job page's live report (what the handler reported with ctx.progress, ctx.setMeta and
// ctx.log), fed by the admin API's server-sent events (GET /queues/{q}/jobs/{id}/events). Read with
// fetch so the stored credentials go along (EventSource cannot send an Authorization header). Kept apart
// from the job page's other sections: the page only appends jobReportPanel(queue, id).
export const CLIENT_REPORTS = String.raw`
/** Reads a text/event-stream response, calling onEvent(name, data) per event; resolves when it ends. */
async function readEventStream(res, onEvent) {
  var reader = res.body.getReader();
  var decoder = new TextDecoder();
  var buf = '';
  for (;;) {
    var r = await reader.read();
    if (r.done) return;
    buf += decoder.decode(r.value, { stream: true });
    var at;
    while ((at = buf.indexOf('\n\n')) >= 0) {
      var block = buf.slice(0, at); buf = buf.slice(at + 2);
      var name = 'message', data = [];
      block.split('\n').forEach(function (line) {
        if (line.indexOf('event: ') === 0) name = line.slice(7);
        else if (line.indexOf('data: ') === 0) data.push(line.slice(6));
      });
      if (data.length) { try { onEvent(name, JSON.parse(data.join('\n'))); } catch (e) { /* not JSON: skip */ } }
    }
  }
}

/**
 * Follows a job's events until it has left the queue or the page moves on; reconnects when a stream ends
 * early (streams last a few minutes) or fails. Returns a function that stops it.
 */
function followJobEvents(queue, id, onEvent) {
  var ctrl = new AbortController();
  var stopped = false;
  (async function loop() {
    while (!stopped) {
      var ended = false;
      try {
        var headers = { Accept: 'text/event-stream' };
        if (state.auth) headers.Authorization = state.auth;
        var res = await fetch(CFG.apiBase + qpath(queue) + '/jobs/' + encodeURIComponent(id) + '/events',
          { headers: headers, credentials: 'same-origin', cache: 'no-store', signal: ctrl.signal });
        if (res.status === 404) return onEvent('missing', null);
        if (!res.ok) throw new Error('HTTP ' + res.status);
        await readEventStream(res, function (name, data) { if (name === 'end') ended = true; onEvent(name, data); });
      } catch (e) { if (stopped) return; }
      if (ended || stopped) return;
      await new Promise(function (r) { setTimeout(r, 2000); });
    }
  })();
  return function () { stopped = true; ctrl.abort(); };
}

function progressView(p) {
  if (p === null || p === undefined) return h('span', { class: 'muted' }, 'none');
  if (typeof p === 'number') {
    // A native <progress>: no inline style, which the page's CSP would refuse.
    return h('div', { class: 'progress', 'data-value': String(p) },
      h('progress', { max: '100', value: Math.max(0, Math.min(100, p)) }), h('span', { class: 'progress-label' }, ' ' + p + '%'));
  }
  return h('pre', { 'data-value': JSON.stringify(p) }, json(p));
}

function logList(logs) {
  if (!logs.length) return h('span', { class: 'muted' }, 'no log lines');
  return h('ol', { class: 'logs mono', 'data-testid': 'report-logs' }, logs.map(function (l) {
    return h('li', { 'data-attempt': String(l.attempt) },
      h('span', { class: 'muted' }, fmtTime(l.at) + ' #' + l.attempt + ' '), l.message);
  }));
}

/** Fills the panel with the job's failed attempts (GET /attempts); hidden while there are none. */
async function loadAttempts(panel, queue, jobId) {
  var data;
  try { data = await api(qpath(queue) + '/jobs/' + encodeURIComponent(jobId) + '/attempts'); } catch (e) { return; }
  panel.hidden = data.items.length === 0;
  panel.replaceChildren();
  append(panel, h('h2', null, 'Failed attempts (' + data.items.length + ')'),
    h('div', { class: 'table-wrap' }, h('table', { 'data-testid': 'attempts-table' },
      h('thead', null, h('tr', null, ['#', 'failed', 'took', 'worker', 'error'].map(function (c) { return h('th', null, c); }))),
      h('tbody', null, data.items.map(function (a) {
        return h('tr', { 'data-attempt': String(a.attempt) },
          h('td', { class: 'num', 'data-label': '#' }, String(a.attempt)),
          h('td', { 'data-label': 'failed' }, fmtTime(a.failedAt)),
          h('td', { class: 'num', 'data-label': 'took' }, a.durationMs === null ? '\u2014' : a.durationMs + ' ms'),
          h('td', { class: 'mono', 'data-label': 'worker' }, a.workerId || '\u2014'),
          h('td', { class: 'error', 'data-label': 'error' }, h('pre', null, a.error)));
      })))));
}

/** A stored step result in one short line. */
function stepSummary(v) {
  if (v === undefined) return '\u2014';
  var t = JSON.stringify(v);
  return t.length > 120 ? t.slice(0, 119) + '\u2026' : t;
}

/**
 * Fills the panel with the job's durable steps (GET /steps: name, kind, result summary, finished at) and
 * what it waits for (an event until a timeout, or a sleep's end); hidden while it has neither.
 */
async function loadSteps(panel, queue, jobId) {
  var data;
  try { data = await api(qpath(queue) + '/jobs/' + encodeURIComponent(jobId) + '/steps'); } catch (e) { return; }
  panel.hidden = data.steps.length === 0 && !data.waiting;
  panel.replaceChildren();
  var w = data.waiting;
  var waitLine = !w ? null : h('p', { 'data-testid': 'job-waiting' }, w.kind === 'event'
    ? ['Waiting for event ', h('code', null, w.event), w.until ? ' until ' + fmtTime(w.until) : ' (no timeout)']
    : ['Sleeping until ' + fmtTime(w.until)]);
  append(panel, h('h2', null, 'Steps (' + data.steps.length + ')'), waitLine,
    data.steps.length === 0 ? null : h('div', { class: 'table-wrap' }, h('table', { 'data-testid': 'steps-table' },
      h('thead', null, h('tr', null, ['step', 'kind', 'result', 'finished', 'attempt'].map(function (c) { return h('th', null, c); }))),
      h('tbody', null, data.steps.map(function (st) {
        return h('tr', { 'data-step': st.name },
          h('td', { class: 'mono', 'data-label': 'step' }, st.name),
          h('td', { 'data-label': 'kind' }, st.kind),
          h('td', { class: 'mono', 'data-label': 'result' }, stepSummary(st.result)),
          h('td', { 'data-label': 'finished' }, fmtTime(st.finishedAt)),
          h('td', { class: 'num', 'data-label': 'attempt' }, st.attempt === 0 ? 'emit' : String(st.attempt)));
      })))));
}

/** A dead letter's failed attempts (by its job id), for the dead-letter page. */
function attemptsPanel(queue, jobId) {
  var panel = h('div', { class: 'panel', 'data-testid': 'job-attempts', hidden: true });
  loadAttempts(panel, queue, jobId);
  return panel;
}

/**
 * The job page's live sections: its failed attempts and its report (progress, meta, logs), both kept
 * once the job finished. One event stream feeds both: attempts are read again when the job's attempt
 * number moves on.
 */
function jobReportPanel(queue, id) {
  var attempts = h('div', { class: 'panel', 'data-testid': 'job-attempts', hidden: true });
  var seenAttempts = null;
  var panel = h('div', { class: 'panel', 'data-testid': 'job-report', hidden: true });
  var steps = h('div', { class: 'panel', 'data-testid': 'job-steps', hidden: true });
  var seenJob = null;
  var render = function (report) {
    if (!report) { panel.hidden = true; panel.replaceChildren(); return; }
    panel.hidden = false;
    var logBox = logList(report.logs);
    panel.replaceChildren();
    append(panel,
      h('h2', null, 'Progress ', h('span', { class: 'muted' }, '\u00b7 attempt ' + report.attempt + ', ' + fmtTime(report.updatedAt))),
      h('div', { 'data-testid': 'report-progress' }, progressView(report.progress)),
      report.meta ? [h('h3', null, 'Reported meta'), h('pre', { 'data-testid': 'report-meta' }, json(report.meta))] : null,
      h('h3', null, 'Logs (' + report.logs.length + ')'), logBox);
    if (logBox.scrollTo) logBox.scrollTop = logBox.scrollHeight;
  };
  var stop = followJobEvents(queue, id, function (name, data) {
    // Steps are read again whenever the job changes (a step finished, it parked or was released).
    if (name === 'job') { var text = JSON.stringify(data); if (text !== seenJob) { seenJob = text; loadSteps(steps, queue, id); } }
    if (name === 'end' || name === 'missing') loadSteps(steps, queue, id);
    if (name === 'report') render(data);
    else if (name === 'job' && data && data.attempts !== seenAttempts) { seenAttempts = data.attempts; loadAttempts(attempts, queue, id); }
    else if (name === 'end') { panel.setAttribute('data-ended', 'true'); loadAttempts(attempts, queue, id); }
    else if (name === 'missing') loadAttempts(attempts, queue, id);
  });
  cleanup.push(stop);
  return h('div', null, steps, attempts, panel);
}
`;
