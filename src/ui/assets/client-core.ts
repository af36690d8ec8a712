// Browser code, served as part of /ui/app.js. Plain ES2020 in a string so the package needs no bundler;
// it must contain no backticks (it lives in a template literal). Rules kept everywhere below: data only
// ever reaches the page through textContent / attributes set by h(), never innerHTML, so a payload or an
// error message cannot inject markup; every request goes through api(), which sends JSON with the
// same-origin Origin the admin API's CSRF check expects.
export const CLIENT_CORE = String.raw`
var CFG = (function () {
  var meta = document.querySelector('meta[name="arbiter-config"]');
  var c = {};
  try { c = JSON.parse(meta ? meta.getAttribute('content') || '{}' : '{}'); } catch (e) { c = {}; }
  return {
    apiBase: c.apiBase || '', hideArgs: c.hideArgsByDefault === true, readOnly: c.readOnly === true,
    pollMs: c.pollMs || 5000, statuses: Array.isArray(c.statuses) ? c.statuses : [],
  };
})();

var state = {
  queues: [],
  queue: null,
  showPayloads: !CFG.hideArgs,
  auth: sessionStorage.getItem('arbiter.auth') || null,
};

function ApiError(status, code, message) {
  this.status = status; this.code = code; this.message = message;
}
ApiError.prototype = Object.create(Error.prototype);

/** Calls the admin API. Mutations always carry Content-Type: application/json (CSRF rule). */
async function api(path, opts) {
  opts = opts || {};
  var method = opts.method || 'GET';
  var headers = { Accept: 'application/json' };
  if (state.auth) headers.Authorization = state.auth;
  var init = { method: method, headers: headers, credentials: 'same-origin', cache: 'no-store' };
  if (method !== 'GET') {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(opts.body === undefined ? {} : opts.body);
  }
  var res = await fetch(CFG.apiBase + path, init);
  var text = await res.text();
  var data = null;
  if (opts.raw) { if (!res.ok) throw new ApiError(res.status, 'HTTP_' + res.status, text.slice(0, 300)); return text; }
  try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
  if (res.status === 401) showLogin();
  if (!res.ok) {
    var err = data && data.error ? data.error : { code: 'HTTP_' + res.status, message: text.slice(0, 300) };
    throw new ApiError(res.status, err.code, err.message);
  }
  return data;
}

function qpath(queue) { return '/queues/' + encodeURIComponent(queue); }

/** Builds an element. Children that are strings become text nodes; functions in attrs become listeners. */
function h(tag, attrs) {
  var node = document.createElement(tag);
  if (attrs) {
    Object.keys(attrs).forEach(function (k) {
      var v = attrs[k];
      if (v === undefined || v === null || v === false) return;
      if (k.slice(0, 2) === 'on' && typeof v === 'function') node.addEventListener(k.slice(2), v);
      else if (k === 'class') node.className = v;
      else if (k === 'text') node.textContent = String(v);
      else if (k === 'value') node.value = v;
      else if (k === 'checked') node.checked = !!v;
      else node.setAttribute(k, v === true ? '' : String(v));
    });
  }
  for (var i = 2; i < arguments.length; i++) append(node, arguments[i]);
  return node;
}
function append(node) {
  if (arguments.length > 2) { for (var i = 1; i < arguments.length; i++) append(node, arguments[i]); return; }
  var child = arguments[1];
  if (child === null || child === undefined || child === false) return;
  if (Array.isArray(child)) { child.forEach(function (c) { append(node, c); }); return; }
  node.appendChild(typeof child === 'object' ? child : document.createTextNode(String(child)));
}

function fmtTime(v) {
  if (!v) return '—';
  var d = new Date(v);
  if (isNaN(d.getTime())) return String(v);
  return d.toISOString().replace('T', ' ').slice(0, 19) + 'Z';
}
function fmtRel(v) {
  if (!v) return '';
  var s = Math.round((new Date(v).getTime() - Date.now()) / 1000);
  var a = Math.abs(s);
  if (a < 1) return 'now';
  var txt = a < 60 ? a + ' s' : a < 3600 ? Math.round(a / 60) + ' min' : a < 86400 ? Math.round(a / 3600) + ' h' : Math.round(a / 86400) + ' d';
  return s >= 0 ? 'in ' + txt : txt + ' ago';
}
/** " (in 30 s)" / " (2 min ago)": kept current by the ticker below, between refreshes too. */
function relSpan(v) { return h('span', { class: 'muted', 'data-rel': v }, ' (' + fmtRel(v) + ')'); }
function timeCell(v) { return v ? h('span', null, fmtTime(v), relSpan(v)) : '\u2014'; }
setInterval(function () {
  document.querySelectorAll('[data-rel]').forEach(function (el) { el.textContent = ' (' + fmtRel(el.getAttribute('data-rel')) + ')'; });
}, 1000);
function json(v) { try { return JSON.stringify(v, null, 2); } catch (e) { return String(v); } }
function oneLine(v, max) { var s = JSON.stringify(v); if (s === undefined) s = String(v); return s.length > max ? s.slice(0, max) + '…' : s; }
function badge(status) { return h('span', { class: 'badge ' + status, 'data-status': status }, status); }

var toastTimer = null;
function toast(message, isError) {
  var old = document.querySelector('.toast');
  if (old) old.remove();
  var t = h('div', { class: 'toast' + (isError ? ' error' : ''), role: 'status', 'data-testid': 'toast' }, message);
  document.body.appendChild(t);
  clearTimeout(toastTimer);
  toastTimer = setTimeout(function () { t.remove(); }, isError ? 8000 : 4000);
}
function errorBox(e) {
  return h('div', { class: 'error-box', role: 'alert' }, (e && e.code ? e.code + ': ' : '') + (e && e.message ? e.message : String(e)));
}

/** An in-page confirmation (no window.confirm: dialogs are reserved for nothing, which the XSS test checks). */
function confirmBar(container, message, label, onYes) {
  var old = container.querySelector('.confirm');
  if (old) old.remove();
  var bar = h('div', { class: 'confirm', 'data-testid': 'confirm' },
    h('span', null, message),
    h('button', { class: 'danger', 'data-testid': 'confirm-yes', onclick: function () { bar.remove(); onYes(); } }, label),
    h('button', { onclick: function () { bar.remove(); } }, 'Cancel'));
  container.prepend(bar);
}

/** Runs a mutating action, reports the outcome, then re-renders. */
async function act(label, fn, after) {
  try {
    var out = await fn();
    toast(label + (out && typeof out.changed === 'number' ? ' (' + out.changed + ' changed)' : ''));
  } catch (e) {
    toast(label + ' failed — ' + (e.code || '') + ': ' + (e.message || e), true);
  }
  if (after) after(); else route();
}

function showLogin() {
  if (document.getElementById('login')) return;
  var tok = h('input', { type: 'password', placeholder: 'bearer token or user:password', 'aria-label': 'credentials' });
  var box = h('div', { class: 'panel', id: 'login' },
    h('strong', null, 'This API needs credentials. '),
    tok,
    h('button', { class: 'primary', onclick: function () {
      var v = tok.value;
      state.auth = v.indexOf(':') > 0 ? 'Basic ' + btoa(v) : 'Bearer ' + v;
      sessionStorage.setItem('arbiter.auth', state.auth);
      box.remove(); route();
    } }, 'Sign in'));
  document.querySelector('main').prepend(box);
}

async function loadQueues() {
  var data = await api('/queues');
  state.queues = data.items || [];
  if (!state.queue || !state.queues.some(function (q) { return q.name === state.queue; })) {
    state.queue = state.queues.length ? state.queues[0].name : null;
  }
  return state.queues;
}
function queueInfo(name) { return state.queues.find(function (q) { return q.name === name; }) || null; }

/**
 * A queue chooser with a form control's .value: a select while there are at most QUEUE_SELECT_MAX queues;
 * past that a search box whose suggestions are at most QUEUE_SELECT_MAX queues whose name contains what
 * is typed (one shared datalist), so 1,000 queues never render 1,000 options. anyLabel adds the empty
 * choice ("every queue": an empty box); labelOf(q) labels a queue's option.
 */
var QUEUE_SELECT_MAX = 50;
function queueField(attrs, current, anyLabel, labelOf) {
  var label = function (q) { return labelOf ? labelOf(q) : q.name; };
  if (state.queues.length <= QUEUE_SELECT_MAX) {
    return h('select', attrs, anyLabel ? h('option', { value: '', selected: !current }, anyLabel) : null,
      state.queues.map(function (q) { return h('option', { value: q.name, selected: q.name === current }, label(q)); }));
  }
  var list = document.getElementById('queue-suggestions');
  if (!list) { list = h('datalist', { id: 'queue-suggestions', 'data-testid': 'queue-suggestions' }); document.body.appendChild(list); }
  var input = h('input', Object.assign({ type: 'search', list: 'queue-suggestions', value: current || '', autocomplete: 'off',
    placeholder: anyLabel ? anyLabel + ' (or type a queue)' : 'type a queue name', 'data-queue-search': '' }, attrs));
  var suggest = function () {
    var typed = input.value.trim().toLowerCase();
    var hits = [];
    for (var i = 0; i < state.queues.length && hits.length < QUEUE_SELECT_MAX; i++) {
      if (state.queues[i].name.indexOf(typed) >= 0) hits.push(state.queues[i]);
    }
    fill(list, hits.map(function (q) { return h('option', { value: q.name }, label(q) === q.name ? null : label(q)); }));
  };
  input.addEventListener('input', suggest);
  input.addEventListener('focus', suggest);
  return input;
}

/** A queue picker that navigates to the same view for another queue (an unknown name typed: a toast). */
function queuePicker(view, current) {
  var sel = queueField({ 'aria-label': 'queue', 'data-testid': 'queue-picker', onchange: function () {
    var name = sel.value.trim();
    if (queueInfo(name)) go(view + '/' + encodeURIComponent(name));
    else if (name) toast('No queue named ' + name, true);
  } }, current);
  return h('label', null, 'Queue ', sel);
}

// ------------------------------------------------------------------ routing (hash based: no server routes)
var VIEWS = {};
var cleanup = [];
function go(path) { location.hash = '#/' + path; }
function parseHash() {
  var raw = location.hash.replace(/^#\/?/, '');
  var q = raw.indexOf('?');
  var path = q < 0 ? raw : raw.slice(0, q);
  var params = new URLSearchParams(q < 0 ? '' : raw.slice(q + 1));
  var parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  return { view: parts[0] || 'overview', args: parts.slice(1), params: params };
}
function hashFor(view, args, params) {
  var s = '#/' + [view].concat(args.map(encodeURIComponent)).join('/');
  var p = params ? params.toString() : '';
  return p ? s + '?' + p : s;
}
var routeSeq = 0;
async function route() {
  cleanup.forEach(function (f) { f(); });
  cleanup = [];
  var r = parseHash();
  var seq = ++routeSeq;
  document.querySelectorAll('header.top nav a').forEach(function (a) {
    var v = a.getAttribute('data-view');
    a.classList.toggle('active', v === r.view || (r.view === 'job' && v === 'jobs') || (r.view === 'dead' && v === 'dlq') || (r.view === 'flow' && v === 'flows'));
  });
  var main = document.querySelector('main');
  var view = VIEWS[r.view] || VIEWS.overview;
  var root = h('div', { 'data-view': r.view });
  try {
    await loadQueues();
    await view(root, r.args, r.params);
  } catch (e) {
    append(root, errorBox(e));
  }
  if (seq !== routeSeq) return; // a newer navigation won
  labelCells(root);
  var login = document.getElementById('login');
  main.replaceChildren();
  if (login) main.appendChild(login);
  main.appendChild(root);
  refreshed();
  document.body.setAttribute('data-ready', String(seq));
}

/** Runs fn every ms while the view that asked is shown (a newer navigation stops it). */
function every(ms, fn) {
  var mine = routeSeq;
  var t = setInterval(function () { if (mine !== routeSeq) clearInterval(t); else fn(); }, ms);
  cleanup.push(function () { clearInterval(t); });
}

var refreshes = 0;
/** The header's "updated hh:mm:ss" (or why the last refresh failed); body[data-refreshes] counts them. */
function refreshed(error) {
  var el = document.getElementById('refreshed');
  if (el) {
    el.textContent = error ? 'refresh failed: ' + (error.message || error) : 'updated ' + new Date().toISOString().slice(11, 19) + 'Z';
    el.classList.toggle('bad', !!error);
  }
  if (!error) document.body.setAttribute('data-refreshes', String(++refreshes));
}

/**
 * Every view is live: paint(await load()) now, then again every CFG.pollMs while the view is shown and
 * the tab is visible, one refresh at a time. Views keep what the user is doing (a form being typed in,
 * selected rows, an open confirmation) outside what paint() replaces.
 */
async function live(load, paint) {
  var mine = routeSeq;
  paint(await load());
  var busy = false;
  every(CFG.pollMs, function () {
    if (busy || document.hidden) return;
    busy = true;
    load().then(function (data) { if (mine === routeSeq) { paint(data); refreshed(); } }, refreshed)
      .then(function () { busy = false; });
  });
}

/** Replaces a box's content; table cells get their column's name (the small-screen layout shows it). */
function fill(box) {
  box.replaceChildren();
  for (var i = 1; i < arguments.length; i++) append(box, arguments[i]);
  labelCells(box);
  return box;
}
function labelCells(root) {
  var inside = root.closest ? root.closest('table') : null; // a tbody refreshed on its own
  (inside ? [inside] : Array.prototype.slice.call(root.querySelectorAll('table'))).forEach(function (table) {
    var heads = Array.prototype.map.call(table.querySelectorAll('thead th'), function (th) { return th.textContent.trim(); });
    table.querySelectorAll('tbody tr').forEach(function (tr) {
      Array.prototype.forEach.call(tr.children, function (td, i) { if (heads[i] && !td.hasAttribute('colspan')) td.setAttribute('data-label', heads[i]); });
    });
  });
}
`;
