import { createHash, timingSafeEqual } from 'node:crypto';
import { ValidationError } from '../errors.js';
import { HttpError } from './errors.js';

export interface AuthOptions {
  /** Accepted as `Authorization: Bearer <token>`. */
  token?: string;
  /** With `password`: accepted as `Authorization: Basic base64(username:password)`. */
  username?: string;
  password?: string;
}

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/**
 * Credential check. Secrets are stored and compared as SHA-256 digests: timingSafeEqual needs equal
 * lengths, and hashing first means neither the length nor the content of the secret leaks through timing.
 */
/** A secret is never echoed in an error: only its type, or its length. */
function hidden(secret: unknown): unknown {
  return typeof secret === 'string' ? `${secret.length} characters, not shown` : secret;
}

export class Authenticator {
  private readonly token: Buffer | undefined;
  private readonly basic: Buffer | undefined;

  constructor(auth: AuthOptions | undefined) {
    const a = auth ?? {};
    if (a.token !== undefined && (typeof a.token !== 'string' || a.token.length < 8)) {
      throw new ValidationError('auth.token', hidden(a.token), 'must be a string of at least 8 characters');
    }
    if ((a.username === undefined) !== (a.password === undefined)) {
      throw new ValidationError(
        a.username === undefined ? 'auth.username' : 'auth.password',
        undefined,
        'auth.username and auth.password go together',
      );
    }
    if (a.username !== undefined && (a.username.length === 0 || a.username.includes(':'))) {
      throw new ValidationError('auth.username', a.username, 'must be non-empty and contain no colon');
    }
    if (a.password !== undefined && a.password.length === 0) {
      throw new ValidationError('auth.password', hidden(a.password), 'must be non-empty');
    }
    this.token = a.token === undefined ? undefined : digest(a.token);
    this.basic = a.username === undefined ? undefined : digest(`${a.username}:${a.password}`);
  }

  /** True when credentials are configured, i.e. authentication is on. */
  get enabled(): boolean {
    return this.token !== undefined || this.basic !== undefined;
  }

  /** Does this Authorization header carry valid credentials? */
  check(header: string | undefined): boolean {
    if (!header) return false;
    const space = header.indexOf(' ');
    if (space < 0) return false;
    const scheme = header.slice(0, space).toLowerCase();
    const value = header.slice(space + 1).trim();
    if (scheme === 'bearer' && this.token) return timingSafeEqual(digest(value), this.token);
    if (scheme === 'basic' && this.basic) {
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      return timingSafeEqual(digest(decoded), this.basic);
    }
    return false;
  }

  /** The WWW-Authenticate challenge for 401 responses. */
  get challenge(): string {
    return this.basic ? 'Basic realm="arbiter", charset="UTF-8"' : 'Bearer realm="arbiter"';
  }
}

/**
 * Counts failed logins per client address in a fixed one-minute window. Once an address has failed
 * `maxFailures` times, every request from it gets 429 until the window ends, correct credentials
 * included, so guessing cannot continue at full speed.
 */
export class FailedLoginLimiter {
  private readonly windows = new Map<string, { start: number; failures: number }>();

  constructor(
    private readonly maxFailures = 10,
    private readonly windowMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Throws 429 when the address is locked out. */
  assertAllowed(address: string): void {
    const w = this.current(address);
    if (w && w.failures >= this.maxFailures) {
      const retryAfter = Math.max(1, Math.ceil((w.start + this.windowMs - this.now()) / 1000));
      throw new HttpError(
        429,
        'RATE_LIMITED',
        `too many failed logins from this address; retry in ${retryAfter} s`,
        undefined,
        { 'Retry-After': String(retryAfter) },
      );
    }
  }

  recordFailure(address: string): void {
    const w = this.current(address);
    if (w) w.failures += 1;
    else {
      // Bounded memory: an attacker rotating addresses cannot grow the map without limit.
      if (this.windows.size >= 10_000) this.prune();
      this.windows.set(address, { start: this.now(), failures: 1 });
    }
  }

  private current(address: string): { start: number; failures: number } | undefined {
    const w = this.windows.get(address);
    if (w && this.now() - w.start >= this.windowMs) {
      this.windows.delete(address);
      return undefined;
    }
    return w;
  }

  private prune(): void {
    const now = this.now();
    for (const [k, w] of this.windows) if (now - w.start >= this.windowMs) this.windows.delete(k);
    if (this.windows.size >= 10_000) this.windows.clear();
  }
}

/** Methods that change state: everything but reads. */
export function isMutating(method: string): boolean {
  return !['GET', 'HEAD', 'OPTIONS'].includes(method.toUpperCase());
}

/**
 * CSRF defence for mutating requests. Browsers send Sec-Fetch-Site and Origin on cross-site requests;
 * either one pointing elsewhere is refused. The JSON content-type rule (checkContentType) closes the
 * rest: a cross-site form can only send text/plain, urlencoded or multipart without a CORS preflight,
 * and this API answers no preflight.
 */
export function checkSameOrigin(headers: Headers, requestUrl: string, trusted: readonly string[] = []): void {
  const origin = headers.get('origin');
  // An explicitly trusted origin (e.g. a dashboard on another host) may call cross-site.
  if (origin !== null && trusted.includes(origin)) return;
  const site = headers.get('sec-fetch-site');
  if (site === 'cross-site' || site === 'same-site') {
    throw new HttpError(403, 'CROSS_SITE', `cross-site request refused (Sec-Fetch-Site: ${site})`);
  }
  if (origin === null) return;
  const host = headers.get('x-forwarded-host') ?? headers.get('host') ?? new URL(requestUrl).host;
  let originHost: string;
  try {
    originHost = new URL(origin).host;
  } catch {
    throw new HttpError(403, 'CROSS_SITE', 'cross-site request refused (malformed Origin)');
  }
  if (origin === 'null' || originHost.toLowerCase() !== host.toLowerCase()) {
    throw new HttpError(403, 'CROSS_SITE', 'cross-site request refused (Origin does not match Host)');
  }
}

/** Mutating requests must declare JSON, with or without a body. `hasBody`: the request carries bytes. */
export function checkContentType(headers: Headers, hasBody: boolean): void {
  const type = headers.get('content-type');
  if (type === null || type.trim() === '') {
    if (hasBody) {
      throw new HttpError(400, 'MISSING_CONTENT_TYPE', 'a request body needs Content-Type: application/json');
    }
    throw new HttpError(
      415,
      'UNSUPPORTED_MEDIA_TYPE',
      'mutating requests need Content-Type: application/json',
    );
  }
  const mediaType = type.split(';')[0]!.trim().toLowerCase();
  if (mediaType !== 'application/json') {
    throw new HttpError(
      415,
      'UNSUPPORTED_MEDIA_TYPE',
      `Content-Type must be application/json (got ${mediaType})`,
    );
  }
}

/** Sent on every response, errors included. The API serves JSON only, so the policy can be strict. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy':
    "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Cache-Control': 'no-store',
};
