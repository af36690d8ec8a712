import { Script } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/errors.js';
import { APP_JS, createDashboard, dashboardHtml } from '../../src/ui/index.js';
import { useTestDb } from '../support/db.js';
import { dashboardAndApi } from './server.js';

// Runs without a browser: the page, its assets and headers, and that the API still works beside it.
describe('dashboard assets', () => {
  const db = useTestDb();

  it('serves the page with a CSP that forbids inline scripts, and the API keeps its own', async () => {
    const app = dashboardAndApi({ arbiter: db.arbiter }, { hideArgsByDefault: true });
    const page = await app.request('/');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).toContain("frame-ancestors 'none'");
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    const html = await page.text();
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)/); // every script is external
    expect(html).not.toMatch(/\son[a-z]+=/i); // no inline handlers
    expect(html).toContain('&quot;hideArgsByDefault&quot;:true');

    for (const [path, type] of [
      ['/ui/app.js', 'text/javascript'],
      ['/ui/app.css', 'text/css'],
    ] as const) {
      const res = await app.request(path);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain(type);
      expect(res.headers.get('content-security-policy')).not.toContain('unsafe-inline');
    }
    const queues = await app.request('/queues');
    expect(queues.status).toBe(200);
    expect(queues.headers.get('content-security-policy')).toContain("default-src 'none'");
  });

  it('ships a script that parses and never writes HTML from strings', () => {
    expect(() => new Script(APP_JS)).not.toThrow();
    expect(APP_JS).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(/);
  });

  it('links its assets under basePath and rejects a malformed one', async () => {
    expect(dashboardHtml({ basePath: '/admin/' })).toContain('src="/admin/ui/app.js"');
    expect(() => createDashboard({ basePath: '"><script>' })).toThrow(ValidationError);
  });
});
