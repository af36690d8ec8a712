import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAdminApp } from '../../src/http/index.js';
import { useTestDb } from '../support/db.js';
import { AUTH, JSON_HEADERS, TOKEN } from './helpers.js';

// The mounting recipes of docs/http.md, run for real: the admin API under /admin in Express, Fastify and
// a parent Hono app, with a POST (body forwarded intact) and the CSRF check still seeing the real Host.

const db = useTestDb();
const closers: (() => Promise<void>)[] = [];
afterAll(async () => Promise.all(closers.map((c) => c())));

beforeAll(async () => {
  await db.arbiter.createQueue('http_mount');
});

async function exercise(base: string): Promise<void> {
  const list = await fetch(`${base}/admin/queues`, { headers: AUTH });
  expect(list.status).toBe(200);
  expect(((await list.json()) as { items: { name: string }[] }).items.map((q) => q.name)).toContain(
    'http_mount',
  );
  const enq = await fetch(`${base}/admin/queues/http_mount/jobs`, {
    method: 'POST',
    headers: JSON_HEADERS,
    body: JSON.stringify({ payload: { via: base } }),
  });
  expect(enq.status).toBe(201);
  const evil = await fetch(`${base}/admin/queues/http_mount/jobs`, {
    method: 'POST',
    headers: { ...JSON_HEADERS, origin: 'https://evil.example' },
    body: JSON.stringify({ payload: 1 }),
  });
  expect(evil.status).toBe(403);
  const same = await fetch(`${base}/admin/queues/http_mount/pause`, {
    method: 'POST',
    headers: { ...JSON_HEADERS, origin: base },
  });
  expect(same.status).toBe(200);
  await db.arbiter.resumeQueue('http_mount');
  expect((await fetch(`${base}/admin/queues`)).status).toBe(401);
}

const admin = () => createAdminApp({ arbiter: db.arbiter, auth: { token: TOKEN } });

describe('mounting', () => {
  it('inside Express (mounted before any body parser)', async () => {
    const app = express();
    app.use('/admin', getRequestListener(admin().fetch));
    app.use(express.json());
    const server: Server = await new Promise((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    closers.push(() => new Promise((r) => server.close(() => r())));
    await exercise(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  });

  it('inside Fastify (raw body left unread, request handed over)', async () => {
    const fastify = Fastify();
    const listener = getRequestListener(admin().fetch);
    await fastify.register(async (scope) => {
      // Leave the body stream unread so the admin API gets it intact.
      scope.removeAllContentTypeParsers();
      scope.addContentTypeParser('*', (_req, _payload, done) => done(null));
      scope.all('/admin/*', (req, reply) => {
        reply.hijack();
        req.raw.url = req.raw.url!.slice('/admin'.length) || '/';
        void listener(req.raw, reply.raw);
      });
    });
    const address = await fastify.listen({ port: 0, host: '127.0.0.1' });
    closers.push(() => fastify.close());
    await exercise(address);
  });

  it('inside another Hono app', async () => {
    const parent = new Hono().route('/admin', admin());
    const { serve } = await import('@hono/node-server');
    const base: string = await new Promise((resolve) => {
      const s = serve({ fetch: parent.fetch, hostname: '127.0.0.1', port: 0 }, (info) => {
        closers.push(() => new Promise((r) => s.close(() => r())));
        resolve(`http://127.0.0.1:${info.port}`);
      });
    });
    await exercise(base);
  });
});
