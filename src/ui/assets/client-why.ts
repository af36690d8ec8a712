// Browser code: the "why isn't this job running?" answer and the group analysis, computed from job fields
// the API returns (same rules as the claim query: one job in flight per group, a retry waiting for its
// backoff keeps its group blocked, the head is the runnable job with the lowest (priority, id), and
// delayed or suspended jobs never block their group). Pure functions of their inputs, so they are easy
// to reason about; loadWhyContext() fetches those inputs with small filtered listings, never a count.
export const CLIENT_WHY = String.raw`
function ts(v) { return v ? new Date(v).getTime() : 0; }
function isRunnable(j, now) {
  return !j.suspended && ts(j.runAt) <= now && j.attempts < j.maxAttempts && !(ts(j.leasedUntil) > now);
}
function cmpHead(a, b) {
  if (a.priority !== b.priority) return a.priority - b.priority;
  var x = BigInt(a.id), y = BigInt(b.id);
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * Who holds a group: the in-flight job (at most one), a job waiting for its retry (blocks too), and the
 * head among runnable jobs. active: in-flight + retrying jobs of the group; pending: its ready jobs.
 */
function analyzeGroup(active, pending, now) {
  var running = active.filter(function (j) { return ts(j.leasedUntil) > now; });
  var retrying = active.filter(function (j) {
    return !(ts(j.leasedUntil) > now) && !j.suspended && j.attempts > 0 && ts(j.runAt) > now;
  });
  var runnable = pending.filter(function (j) { return isRunnable(j, now); }).sort(cmpHead);
  return { running: running[0] || null, retrying: retrying[0] || null, head: runnable[0] || null, runnable: runnable };
}

/**
 * Reasons, most important first: [{ code, text }]. ctx: { now, queuePaused, group (analyzeGroup result or
 * null), children: { count, more }, workers: [...] }.
 */
function whyNotRunning(job, ctx) {
  var now = ctx.now;
  var out = [];
  var add = function (code, text) { out.push({ code: code, text: text }); };
  var attempt = 'attempt ' + job.attempts + ' of ' + job.maxAttempts;
  if (ts(job.leasedUntil) > now) {
    add('in-flight', 'In flight on worker ' + (job.workerId || '(unknown)') + ' until ' + fmtTime(job.leasedUntil) +
      ' (' + fmtRel(job.leasedUntil) + '), ' + attempt + '.');
    return out;
  }
  if (ctx.queuePaused) add('queue-paused', 'Queue "' + job.queue + '" is paused: no job of it is claimed until it is resumed.');
  if (job.suspended && job.status === 'waiting') {
    var n = ctx.children ? ctx.children.count + (ctx.children.more ? '+' : '') : 'some';
    add('waiting-children', 'Waiting for ' + n + ' child job' + (n === 1 ? '' : 's') + ' to finish; the last one to finish wakes it.');
    return out;
  }
  if (job.suspended) {
    add('suspended', 'Suspended: it is never claimed until someone resumes it.');
    return out;
  }
  if (job.leasedUntil && job.attempts >= job.maxAttempts) {
    add('exhausted', 'Exhausted: its last attempt (' + attempt + ') lost its lease; maintenance moves it to the dead-letter table.');
    return out;
  }
  if (job.attempts >= job.maxAttempts) {
    add('exhausted', 'No attempts left (' + attempt + '): it will not be claimed again.');
    return out;
  }
  if (ts(job.runAt) > now) {
    if (job.attempts > 0) {
      add('retry-backoff', 'Retry backoff until ' + fmtTime(job.runAt) + ' (' + fmtRel(job.runAt) + ') after ' + attempt +
        ' failed' + (job.lastError ? ': ' + job.lastError : '.'));
    } else {
      add('delayed', 'Delayed until ' + fmtTime(job.runAt) + ' (' + fmtRel(job.runAt) + ').');
    }
    return out;
  }
  var g = ctx.group;
  if (job.groupKey !== null && g) {
    if (g.running && g.running.id !== job.id) {
      add('group-in-flight', 'Behind the head of group "' + job.groupKey + '": job ' + g.running.id + ' is in flight on worker ' +
        (g.running.workerId || '(unknown)') + ' until ' + fmtTime(g.running.leasedUntil) + '. One job per group runs at a time.');
      return out;
    }
    if (g.retrying && g.retrying.id !== job.id) {
      add('group-retry', 'Group "' + job.groupKey + '" is blocked: job ' + g.retrying.id + ' waits for its retry until ' +
        fmtTime(g.retrying.runAt) + ' (' + fmtRel(g.retrying.runAt) + '); FIFO order survives failures.');
      return out;
    }
    if (g.head && g.head.id !== job.id) {
      add('behind-head', 'Behind the head of group "' + job.groupKey + '": job ' + g.head.id + ' runs first (groups run in (priority, id) order).');
      return out;
    }
  }
  if (out.length === 0) {
    var serving = (ctx.workers || []).filter(function (w) {
      return (w.queues || []).indexOf(job.queue) >= 0 && now - ts(w.lastHeartbeat) < 60000;
    });
    if (serving.length === 0) add('no-worker', 'Ready, but no worker with a recent heartbeat serves queue "' + job.queue + '".');
    else add('ready', 'Ready: the next free worker claims it (' + serving.length + ' live worker' + (serving.length === 1 ? '' : 's') + ' serve this queue).');
  }
  return out;
}

/** Every job of a group with one of these statuses (walks a few pages; groups are usually short). */
async function groupJobs(queue, groupKey, status, maxPages) {
  var items = [];
  var cursor = null;
  for (var i = 0; i < maxPages; i++) {
    var p = new URLSearchParams({ groupKey: groupKey, status: status, limit: '1000' });
    if (cursor) p.set('cursor', cursor);
    var page = await api(qpath(queue) + '/jobs?' + p.toString());
    items = items.concat(page.items);
    cursor = page.nextCursor;
    if (!cursor) break;
  }
  return items;
}
async function loadGroupAnalysis(queue, groupKey) {
  var both = await Promise.all([groupJobs(queue, groupKey, 'in-flight,retrying', 1), groupJobs(queue, groupKey, 'ready', 5)]);
  return analyzeGroup(both[0], both[1], Date.now());
}

async function loadWhyContext(job, children) {
  var workers = (await api('/workers')).items;
  var q = queueInfo(job.queue);
  var group = job.groupKey !== null ? await loadGroupAnalysis(job.queue, job.groupKey) : null;
  return {
    now: Date.now(), queuePaused: !!(q && q.paused), group: group, workers: workers,
    children: { count: children.items.length, more: !!children.nextCursor },
  };
}
`;
