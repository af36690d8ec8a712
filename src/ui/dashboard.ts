import { Hono } from 'hono';
import { ValidationError } from '../errors.js';
import { JOB_STATUSES } from '../types.js';
import { CLIENT_CORE } from './assets/client-core.js';
import { CLIENT_BULK } from './assets/client-bulk.js';
import { CLIENT_CHART } from './assets/client-chart.js';
import { CLIENT_CRON } from './assets/client-cron.js';
import { CLIENT_CONTROLS } from './assets/client-controls.js';
import { CLIENT_DLQ } from './assets/client-dlq.js';
import { CLIENT_FLOWS } from './assets/client-flows.js';
import { CLIENT_GROUPS } from './assets/client-groups.js';
import { CLIENT_JOBS } from './assets/client-jobs.js';
import { CLIENT_KEYS } from './assets/client-keys.js';
import { CLIENT_LIMITS } from './assets/client-limits.js';
import { CLIENT_OVERVIEW } from './assets/client-overview.js';
import { CLIENT_RETENTION } from './assets/client-retention.js';
import { CLIENT_REPORTS } from './assets/client-reports.js';
import { CLIENT_SEARCH } from './assets/client-search.js';
import { CLIENT_STATS } from './assets/client-stats.js';
import { CLIENT_WORKERS } from './assets/client-workers.js';
import { APP_CSS } from './assets/styles.js';

export interface DashboardOptions {
  /**
   * The path the dashboard is mounted under, without a trailing slash (e.g. "/admin"), so the page can
   * link its script and stylesheet absolutely. Default "" (mounted at the root).
   */
  basePath?: string;
  /** Where the admin JSON API answers, as seen by the browser. Default: the same as basePath. */
  apiBase?: string;
  /** Hide job payloads in lists and behind a "Show payload" button on job pages (River UI parity). Default false. */
  hideArgsByDefault?: boolean;
  /** Hide every action (for an admin API created with readOnly: true, which refuses them). Default false. */
  readOnly?: boolean;
  /**
   * Milliseconds between refreshes of the page shown (every page is live; none refreshes while the tab is
   * hidden). On the overview each refresh is one GET /overview?limit=50 for the page of queues shown,
   * which the admin API caches for `overviewCacheMs` (default 5000) across every open dashboard. Default 5000.
   */
  pollMs?: number;
}

/**
 * The dashboard's Content-Security-Policy: scripts, styles and API calls from this origin only, and no
 * inline script or style (all markup is built with DOM calls from /ui/app.js).
 */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

const HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': DASHBOARD_CSP,
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

const BOOT = String.raw`
// Theme: the system's preference (auto) unless the toggle chose dark or light, kept in localStorage.
var THEMES = ['auto', 'dark', 'light'];
function applyTheme(t) {
  if (t === 'auto') document.documentElement.removeAttribute('data-theme');
  else document.documentElement.setAttribute('data-theme', t);
  var b = document.querySelector('#theme-toggle');
  b.textContent = 'theme: ' + t;
  b.setAttribute('data-theme-choice', t);
}
var theme = null;
try { theme = localStorage.getItem('arbiter.theme'); } catch (e) { theme = null; }
applyTheme(THEMES.indexOf(theme) >= 0 ? theme : 'auto');
document.querySelector('#theme-toggle').addEventListener('click', function (ev) {
  var next = THEMES[(THEMES.indexOf(ev.target.getAttribute('data-theme-choice')) + 1) % THEMES.length];
  try { if (next === 'auto') localStorage.removeItem('arbiter.theme'); else localStorage.setItem('arbiter.theme', next); } catch (e) { /* private mode */ }
  applyTheme(next);
  window.dispatchEvent(new Event('resize')); // charts redraw in the new colours
});
document.querySelector('#show-payloads').checked = state.showPayloads;
document.querySelector('#show-payloads').addEventListener('change', function (ev) {
  state.showPayloads = ev.target.checked; route();
});
document.querySelectorAll('header.top nav a').forEach(function (a) {
  a.addEventListener('click', function (ev) {
    var view = a.getAttribute('data-view');
    if (state.queue && (view === 'jobs' || view === 'groups')) { ev.preventDefault(); go(view + '/' + encodeURIComponent(state.queue)); }
  });
});
window.addEventListener('hashchange', route);
route();
`;

/** The whole client as one script; strict mode and an IIFE keep its names out of the page's globals. */
export const APP_JS = [
  '(function () {',
  "'use strict';",
  CLIENT_CORE,
  CLIENT_CHART,
  CLIENT_OVERVIEW,
  CLIENT_JOBS,
  CLIENT_BULK,
  CLIENT_REPORTS,
  CLIENT_GROUPS,
  CLIENT_DLQ,
  CLIENT_FLOWS,
  CLIENT_CRON,
  CLIENT_STATS,
  CLIENT_WORKERS,
  CLIENT_SEARCH,
  CLIENT_RETENTION,
  CLIENT_CONTROLS,
  CLIENT_LIMITS,
  CLIENT_KEYS,
  BOOT,
  '})();',
].join('\n');

const escapeAttr = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function normalizeBase(path: string | undefined, name: string): string {
  const p = (path ?? '').replace(/\/+$/, '');
  if (p !== '' && !/^\/[A-Za-z0-9._~/-]*$/.test(p)) {
    throw new ValidationError(`options.${name}`, path, 'must be a path like "/admin"');
  }
  return p;
}

/** The static page. Configuration travels in a meta tag (JSON in an attribute), not an inline script. */
export function dashboardHtml(options: DashboardOptions = {}): string {
  const base = normalizeBase(options.basePath, 'basePath');
  const apiBase = options.apiBase === undefined ? base : normalizeBase(options.apiBase, 'apiBase');
  const config = JSON.stringify({
    apiBase,
    hideArgsByDefault: options.hideArgsByDefault === true,
    readOnly: options.readOnly === true,
    pollMs: options.pollMs ?? 5000,
    // The live job states, in the words the API uses (docs/glossary.md), for the status filter.
    statuses: JOB_STATUSES.filter((st) => st !== 'dead'),
  });
  const nav = [
    ['overview', 'Queues'],
    ['jobs', 'Jobs'],
    ['groups', 'Groups'],
    ['dlq', 'Dead letters'],
    ['flows', 'Flows'],
    ['cron', 'Cron'],
    ['charts', 'Charts'],
    ['search', 'Search'],
    ['workers', 'Workers'],
    ['controls', 'Controls'],
  ]
    .map(([view, label]) => `<a href="#/${view}" data-view="${view}">${label}</a>`)
    .join('');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="arbiter-config" content="${escapeAttr(config)}">
<title>Arbiter dashboard</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${base}/ui/app.css">
<script src="${base}/ui/app.js" defer></script>
</head>
<body>
<header class="top"><span class="brand">Arbiter</span><nav>${nav}</nav><span class="spacer"></span>
<span class="muted" id="refreshed" aria-live="polite"></span>
<label><input type="checkbox" id="show-payloads"> show payloads</label>
<button type="button" id="theme-toggle" class="theme" title="Colour theme: follow the system (auto), dark or light" data-testid="theme-toggle">theme: auto</button></header>
<main><p class="muted">Loading…</p></main>
</body>
</html>
`;
}

/**
 * The dashboard as a small Hono app: GET / (the page), /ui/app.js and /ui/app.css. It serves only static
 * text (no data, so no credentials are needed to load it); every figure comes from the admin API, which
 * keeps its own authentication. Mount it BEFORE the admin app so the admin app's strict API CSP
 * (default-src 'none') is not applied to the page.
 */
export function createDashboard(options: DashboardOptions = {}): Hono {
  const html = dashboardHtml(options);
  const app = new Hono();
  const send = (body: string, type: string, cache: string) => () =>
    new Response(body, { headers: { ...HEADERS, 'Content-Type': type, 'Cache-Control': cache } });
  app.get('/', send(html, 'text/html; charset=utf-8', 'no-store'));
  app.get('/ui/app.js', send(APP_JS, 'text/javascript; charset=utf-8', 'no-cache'));
  app.get('/ui/app.css', send(APP_CSS, 'text/css; charset=utf-8', 'no-cache'));
  return app;
}
