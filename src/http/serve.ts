import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { createAdminApp, type AdminAppOptions } from './app.js';

export interface ServeAdminOptions extends AdminAppOptions {
  /** Interface to bind. Default 127.0.0.1 (loopback only). */
  host?: string;
  /** Port. Default 8080; 0 picks a free port. */
  port?: number;
  /** Allow a non-loopback host without credentials (anyone who can reach it can drop queues). Default false. */
  insecure?: boolean;
}

export interface AdminServer {
  /** Base URL, e.g. http://127.0.0.1:8080 */
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Thrown when the admin API would listen beyond loopback with no credentials. */
export class InsecureBindError extends Error {
  readonly code = 'INSECURE_BIND';
  constructor(host: string) {
    super(
      `refusing to serve the admin API on ${host} without credentials: set auth.token (or auth.username and ` +
        `auth.password), bind to 127.0.0.1, or pass insecure: true if the network is trusted`,
    );
    this.name = 'InsecureBindError';
  }
}

export function isLoopback(host: string): boolean {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[|\]$/g, '');
  return (
    h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || h === '::ffff:127.0.0.1'
  );
}

/** Starts a Node HTTP server for the admin API. Resolves once it is listening. */
export async function serveAdmin(options: ServeAdminOptions): Promise<AdminServer> {
  const { host = '127.0.0.1', port = 8080, insecure = false, ...appOptions } = options;
  const hasCredentials =
    appOptions.auth?.token !== undefined ||
    (appOptions.auth?.username !== undefined && appOptions.auth?.password !== undefined);
  if (!isLoopback(host) && !hasCredentials && !insecure) throw new InsecureBindError(host);
  const app = createAdminApp(appOptions);
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, hostname: host, port }, (info: AddressInfo) => {
      const shown = info.family === 'IPv6' ? `[${info.address}]` : info.address;
      resolve({
        url: `http://${shown}:${info.port}`,
        port: info.port,
        close: () =>
          new Promise<void>((done, fail) => {
            server.close((err) => (err ? fail(err) : done()));
            // Keep-alive sockets would hold close() open until they time out.
            if ('closeAllConnections' in server) server.closeAllConnections();
          }),
      });
    });
    server.once('error', reject);
  });
}
