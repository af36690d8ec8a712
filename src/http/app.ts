import { getConnInfo } from '@hono/node-server/conninfo';
import { OverviewReader } from '../client/overview.js';
import { ValidationError } from '../errors.js';
import { Hono, type Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { Arbiter } from '../client/arbiter.js';
import type { ArbiterMetrics } from '../metrics/metrics.js';
import { createDashboard, type DashboardOptions } from '../ui/index.js';
import { badRequest, HttpError, toErrorResponse, type ErrorLogger } from './errors.js';
import { checkQueryKeys } from './params.js';
import { buildOpenApi, type OpenApiDocument } from './openapi.js';
import type { RouteContext, RouteDef } from './route.js';
import { claimRoutes } from './routes-claim.js';
import { cronRoutes } from './routes-cron.js';
import { deadLetterRoutes } from './routes-dead-letters.js';
import { jobRoutes } from './routes-jobs.js';
import { flowRoutes } from './routes-flows.js';
import { queueRoutes } from './routes-queues.js';
import { limitRoutes } from './routes-limits.js';
import { reportRoutes } from './routes-reports.js';
import { searchRoutes } from './routes-search.js';
import { statsRoutes } from './routes-stats.js';
import { stepRoutes } from './routes-steps.js';
import {
  Authenticator,
  checkContentType,
  checkSameOrigin,
  FailedLoginLimiter,
  isMutating,
  SECURITY_HEADERS,
  type AuthOptions,
} from './security.js';

export interface AdminAppOptions {
  arbiter: Arbiter;
  /** Credentials. When any are set, every route (except a public /metrics) requires them. Default: none. */
  auth?: AuthOptions;
  /** Refuse every mutating request with 403. Default false. */
  readOnly?: boolean;
  /** Serve the worker protocol (claim / ack / extend-lease / retry / fail). Default false. */
  allowClaim?: boolean;
  /** Largest request body in bytes. Default 1 MiB + 64 KiB (room for a maximal payload and its options). */
  maxBodyBytes?: number;
  /** Serves GET /metrics from this registry. Default: no /metrics route. */
  metrics?: ArbiterMetrics;
  /** Serve /metrics without credentials (for scrapers on a private network). Default false. */
  publicMetrics?: boolean;
  /**
   * Serve the web dashboard at GET / and /ui/* (static files only: no data, so no credentials needed; the
   * page then calls this API, which does check them). `true` or the dashboard's options. Default false.
   */
  dashboard?: boolean | DashboardOptions;
  /**
   * Origins (scheme://host[:port]) allowed to send mutating requests besides the API's own. Needed when a
   * proxy rewrites Host without setting X-Forwarded-Host, or a UI on another origin calls the API. Default [].
   */
  trustedOrigins?: readonly string[];
  /** Where internal errors are logged (they never reach the client). Default: console.error. */
  logger?: ErrorLogger;
  /** Failed logins per minute per address before 429. Default 10. */
  maxFailedLogins?: number;
  /**
   * The client address used for the failed-login limit. Default: the socket's remote address when served
   * by @hono/node-server (also when mounted in Express through getRequestListener), else "unknown".
   * Behind a proxy, return the address your proxy reports (and only trust it from the proxy).
   */
  clientAddress?: (c: Context) => string;
  /**
   * How long one reading of GET /overview is served to every caller, in ms: N dashboards open at once
   * cost one round of (bounded) queries per period. Default 5000 (the dashboard's refresh); 0 = no cache.
   */
  overviewCacheMs?: number;
  /** GET /overview's counts stop after this many rows (then a lower bound or an estimate). Default 10,000. */
  overviewCap?: number;
}

const VERSION = '0.1.0';

/** Every route this app can serve, claim routes included (filtered at build time). */
export const ALL_ROUTES: readonly RouteDef[] = [
  ...queueRoutes,
  ...limitRoutes,
  ...jobRoutes,
  ...flowRoutes,
  ...reportRoutes,
  ...stepRoutes,
  ...deadLetterRoutes,
  ...cronRoutes,
  ...statsRoutes,
  ...searchRoutes,
  ...claimRoutes,
];

function defaultAddress(c: Context): string {
  try {
    return getConnInfo(c).remote.address ?? 'unknown';
  } catch {
    return 'unknown'; // not served by @hono/node-server (e.g. app.fetch called directly)
  }
}

/** Reads at most `limit` bytes of the body; stops reading (and answers 413) as soon as it goes over. */
async function readBody(req: Request, limit: number): Promise<string | undefined> {
  const declared = req.headers.get('content-length');
  if (declared !== null && Number(declared) > limit) throw tooLarge(limit);
  if (req.body === null) return undefined;
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge(limit);
    }
    chunks.push(value);
  }
  return size === 0 ? undefined : Buffer.concat(chunks).toString('utf8');
}

const tooLarge = (limit: number) =>
  new HttpError(413, 'BODY_TOO_LARGE', `request body exceeds ${limit} bytes`);

function parseJson(text: string | undefined): unknown {
  if (text === undefined || text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new HttpError(400, 'INVALID_JSON', 'request body is not valid JSON', 'body');
  }
}

const isEmptyObject = (v: unknown): boolean =>
  v !== null && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0;

function metricsHandler(metrics: ArbiterMetrics) {
  return async (c: Context) => {
    c.header('Content-Type', metrics.registry.contentType);
    return c.body(await metrics.registry.metrics());
  };
}

/** Sends a route's events as server-sent events until they end or the client goes away. */
function serveEvents(c: Context, events: NonNullable<RouteDef['events']>, ctx: RouteContext): Response {
  c.header('X-Accel-Buffering', 'no'); // nginx: pass each event on at once
  return streamSSE(c, async (stream) => {
    const stop = new AbortController();
    stream.onAbort(() => stop.abort());
    for await (const e of events(ctx, stop.signal)) {
      if (stream.aborted || stream.closed) break;
      if (e === null) await stream.write(': keep-alive\n\n');
      else await stream.writeSSE({ event: e.event, data: JSON.stringify(e.data) });
    }
    stop.abort();
  });
}

/** Hono path syntax from an OpenAPI template: `/jobs/{id}` → `/jobs/:id`. */
const honoPath = (path: string): string => path.replace(/\{(\w+)\}/g, ':$1');

/**
 * The admin API as a Hono app: `app.fetch` serves standalone (any fetch-based runtime) and it mounts
 * inside Express, Fastify or another Hono app (docs/http.md). Thin: parse, call Arbiter, format.
 */
export function createAdminApp(options: AdminAppOptions): Hono {
  const { arbiter } = options;
  if (!arbiter) throw new ValidationError('options.arbiter', arbiter, 'is required');
  const auth = new Authenticator(options.auth);
  const limiter = new FailedLoginLimiter(options.maxFailedLogins ?? 10);
  const maxBodyBytes = options.maxBodyBytes ?? arbiter.maxPayloadBytes + 64 * 1024;
  if (!Number.isInteger(maxBodyBytes) || maxBodyBytes < 1) {
    throw new ValidationError('options.maxBodyBytes', maxBodyBytes, 'must be a positive integer');
  }
  const logger: ErrorLogger = options.logger ?? {
    error: (message, details) => console.error(message, details),
  };
  const clientAddress = options.clientAddress ?? defaultAddress;
  const publicMetrics = options.publicMetrics === true;
  const overview = new OverviewReader(arbiter, {
    cacheMs: options.overviewCacheMs ?? 5000,
    cap: options.overviewCap,
  });
  const routes = ALL_ROUTES.filter((r) => !r.claim || options.allowClaim === true);
  const openapi: OpenApiDocument = buildOpenApi(routes, {
    version: VERSION,
    metrics: options.metrics !== undefined,
    publicMetrics,
  });

  const app = new Hono();

  // First, so its page keeps its own CSP (which allows its script) and it answers before authentication.
  if (options.dashboard) {
    app.route(
      '/',
      createDashboard({
        readOnly: options.readOnly === true,
        ...(options.dashboard === true ? {} : options.dashboard),
      }),
    );
  }

  app.onError((err, c) => {
    const { status, body, headers } = toErrorResponse(err, logger, {
      method: c.req.method,
      path: c.req.path,
    });
    for (const [k, v] of Object.entries(headers)) c.header(k, v);
    return c.json(body, status);
  });
  app.notFound((c) =>
    c.json({ error: { code: 'NOT_FOUND', message: `no route ${c.req.method} ${c.req.path}` } }, 404),
  );

  // Outermost, so error and 404 responses (built where the error is thrown) get the headers too. A
  // header a handler already set is kept: when this app is mounted at the root of a parent app, its
  // middleware also wraps the parent's routes (e.g. a dashboard with its own CSP).
  app.use('*', async (c, next) => {
    await next();
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) {
      if (!c.res.headers.has(k)) c.res.headers.set(k, v);
    }
  });

  // A public /metrics is registered before authentication, so it answers without reaching it (this
  // also holds when the app is mounted under a prefix, where a path comparison would not).
  if (options.metrics && publicMetrics) app.get('/metrics', metricsHandler(options.metrics));

  // Authentication, then (for mutations) read-only, CSRF and content type, in that order: an anonymous
  // caller learns nothing but 401 about the rest.
  app.use('*', async (c, next) => {
    if (auth.enabled) {
      const address = clientAddress(c);
      limiter.assertAllowed(address);
      const header = c.req.header('authorization');
      if (!auth.check(header)) {
        // Only presented credentials count: a first request without any is not a guess.
        if (header !== undefined) limiter.recordFailure(address);
        throw new HttpError(401, 'UNAUTHORIZED', 'missing or invalid credentials', undefined, {
          'WWW-Authenticate': auth.challenge,
        });
      }
    }
    if (isMutating(c.req.method)) {
      if (options.readOnly === true) {
        throw new HttpError(403, 'READ_ONLY', 'this API is read-only');
      }
      checkSameOrigin(c.req.raw.headers, c.req.url, options.trustedOrigins);
      const hasBody =
        c.req.header('content-length') !== undefined
          ? Number(c.req.header('content-length')) > 0
          : c.req.header('transfer-encoding') !== undefined || c.req.raw.body !== null;
      checkContentType(c.req.raw.headers, hasBody);
    }
    await next();
  });

  app.get('/openapi.json', (c) => c.json(openapi));
  if (options.metrics && !publicMetrics) app.get('/metrics', metricsHandler(options.metrics));

  for (const route of routes) {
    app.on(route.method.toUpperCase(), honoPath(route.path), async (c) => {
      const query = new URL(c.req.url).searchParams;
      // Only documented query keys: a typo must not silently widen a listing or a bulk action.
      checkQueryKeys(query, route.query?.map((q) => q.name) ?? []);
      const body = route.method === 'get' ? undefined : parseJson(await readBody(c.req.raw, maxBodyBytes));
      if (route.body === undefined && body !== undefined && !isEmptyObject(body)) {
        throw badRequest('body', 'this route takes no body (send none, or {})');
      }
      const ctx = { arbiter, params: c.req.param() as Record<string, string>, query, body, overview };
      const result = await route.handle(ctx);
      if (route.events) return serveEvents(c, route.events.bind(route), ctx);
      return c.json(result as object, route.status ?? 200);
    });
  }
  return app;
}
