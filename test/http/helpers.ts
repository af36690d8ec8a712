import type { Hono } from 'hono';
import type pg from 'pg';

export const TOKEN = 'test-token-0123456789';
export const AUTH = { authorization: `Bearer ${TOKEN}` };
export const JSON_HEADERS = { ...AUTH, 'content-type': 'application/json' };

export interface Reply {
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  text: string;
  headers: Headers;
}

/** Sends one request through app.fetch (no socket) and parses the JSON answer when there is one. */
export async function call(
  app: Hono,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = JSON_HEADERS,
): Promise<Reply> {
  const init: RequestInit = { method, headers };
  if (body !== undefined)
    init.body = typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body);
  const res = await app.request(`http://localhost${path}`, init);
  const text = await res.text();
  let parsed: unknown = undefined;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: res.status, body: parsed, text, headers: res.headers };
}

/**
 * A fingerprint of every table in the schema: row count and an md5 of the rows' text, so a test can
 * assert that a refused request changed nothing at all.
 */
export async function schemaChecksum(pool: pg.Pool, schema: string): Promise<string> {
  const { rows } = await pool.query<{ table_name: string }>(
    `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE' ORDER BY 1`,
    [schema],
  );
  const parts: string[] = [];
  for (const { table_name } of rows) {
    const q = `"${schema}"."${table_name.replace(/"/g, '""')}"`;
    const r = await pool.query<{ n: string; h: string | null }>(
      `SELECT count(*) AS n, md5(string_agg(t::text, '|' ORDER BY t::text)) AS h FROM ${q} t`,
    );
    parts.push(`${table_name}:${r.rows[0]!.n}:${r.rows[0]!.h ?? ''}`);
  }
  return parts.join(';');
}

/** Error bodies must never carry SQL, stack frames or PostgreSQL detail. */
export function leaks(text: string): string[] {
  const found: string[] = [];
  if (/\bSELECT\b/i.test(text)) found.push('SELECT');
  if (/\bINSERT\b/i.test(text)) found.push('INSERT');
  if (/\n\s+at |\bat [\w.<>]+ \(|\.ts:\d+|\.js:\d+/.test(text)) found.push('stack frame');
  if (/"(detail|hint|routine|schema|table|constraint)"\s*:/.test(text)) found.push('pg detail');
  return found;
}
