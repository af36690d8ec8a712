import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { createAdminApp, type AdminAppOptions } from '../../src/http/index.js';
import { createDashboard, type DashboardOptions } from '../../src/ui/index.js';
import { launch, watchedPage, type PageWatch } from './browser.js';

export interface UiServer {
  url: string;
  close(): Promise<void>;
}

/**
 * The dashboard and the admin API on one origin, as `serve`/`demo` will mount them: a parent Hono app
 * that routes the dashboard first (so the API's strict CSP is not applied to the page), then the API.
 */
export function dashboardAndApi(admin: AdminAppOptions, dashboard: DashboardOptions = {}): Hono {
  const root = new Hono();
  root.route('/', createDashboard(dashboard));
  root.route('/', createAdminApp(admin));
  return root;
}

export async function startUiServer(
  admin: AdminAppOptions,
  dashboard: DashboardOptions = {},
): Promise<UiServer> {
  const app = dashboardAndApi(admin, dashboard);
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, (info: AddressInfo) => {
      resolve({
        url: `http://127.0.0.1:${info.port}`,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            if ('closeAllConnections' in server) server.closeAllConnections();
          }),
      });
    });
    server.once('error', reject);
  });
}

/** What {@link useDashboardInBrowser} gives a suite once its beforeAll ran. */
export interface DashboardSuite {
  readonly server: UiServer;
  readonly browser: Browser;
  readonly page: Page;
  readonly watch: PageWatch;
}

/**
 * The usual browser suite: the dashboard and API served for the test database's Arbiter, Chromium, and
 * one watched page (dialogs and console errors recorded), all closed after the suite.
 */
export function useDashboardInBrowser(
  admin: () => AdminAppOptions,
  dashboard: DashboardOptions = {},
): DashboardSuite {
  const watch: PageWatch = { dialogs: [], consoleErrors: [] };
  let server: UiServer | undefined;
  let browser: Browser | undefined;
  let page: Page | undefined;
  beforeAll(async () => {
    server = await startUiServer(admin(), dashboard);
    browser = await launch();
    page = await watchedPage(browser, watch);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });
  return {
    watch,
    get server() {
      return server!;
    },
    get browser() {
      return browser!;
    },
    get page() {
      return page!;
    },
  };
}
