import type { Executor } from '../db/executor.js';
import { StatementExecutor, notATransaction } from './statement-executor.js';

/** The part of a Prisma interactive-transaction client (`prisma.$transaction(async (tx) => …)`) used here. */
export interface PrismaTransaction {
  $queryRawUnsafe<T = unknown>(query: string, ...values: unknown[]): PromiseLike<T>;
  $executeRawUnsafe(query: string, ...values: unknown[]): PromiseLike<number>;
}

/**
 * Enqueue inside a Prisma interactive transaction:
 * `await prisma.$transaction((tx) => q.enqueue(p, { tx: fromPrisma(tx) }))`.
 *
 * Statements that return rows go through `tx.$queryRawUnsafe`, the others through `tx.$executeRawUnsafe`
 * (for their row count). Prisma returns 64-bit integers as `bigint`; they come back to Arbiter as
 * strings. Prisma cannot read a column of type `void` (`SELECT pg_advisory_xact_lock(...)`): the
 * statement has run when Prisma says so, and is taken as having returned no rows. Database errors are
 * passed on with their SQLSTATE as `code`, as `pg` gives them.
 */
export function fromPrisma(tx: PrismaTransaction): Executor {
  if (!tx || typeof tx.$queryRawUnsafe !== 'function' || typeof tx.$executeRawUnsafe !== 'function') {
    throw notATransaction('Prisma', tx, 'pass the client given to the callback of prisma.$transaction()');
  }
  // The transaction's client has no $connect/$disconnect (Prisma 7 keeps a $transaction on it).
  if (typeof (tx as { $disconnect?: unknown }).$disconnect === 'function') {
    throw notATransaction(
      'Prisma',
      tx,
      'this is the PrismaClient itself; pass the client given to the callback of prisma.$transaction()',
    );
  }
  return new StatementExecutor(async (text, values) => {
    try {
      if (returnsRows(text)) {
        const rows = await tx.$queryRawUnsafe<Record<string, unknown>[]>(text, ...values);
        return { rows, rowCount: rows.length };
      }
      const count = await tx.$executeRawUnsafe(text, ...values);
      return { rows: [], rowCount: count };
    } catch (err) {
      if (/deserialize column of type 'void'/.test(String((err as Error | null)?.message))) {
        return { rows: [], rowCount: 0 };
      }
      throw withSqlState(err);
    }
  });
}

/** SELECT, VALUES, WITH … and anything with RETURNING; a bare INSERT/UPDATE/DELETE/DDL does not. */
function returnsRows(text: string): boolean {
  return /\bRETURNING\b/i.test(text) || /^\s*(SELECT|VALUES|WITH|TABLE|SHOW)\b/i.test(text);
}

/** Prisma reports a raw query's database error as P2010 with the SQLSTATE inside; `code` gets the latter. */
function withSqlState(err: unknown): unknown {
  if (!err || typeof err !== 'object') return err;
  const e = err as { code?: unknown; meta?: Record<string, unknown>; message?: unknown };
  if (typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code) && !e.code.startsWith('P')) return err;
  const meta = e.meta ?? {};
  const adapterError = meta.driverAdapterError as { cause?: { originalCode?: unknown } } | undefined;
  const candidates = [
    adapterError?.cause?.originalCode,
    meta.code,
    /Code: `([0-9A-Z]{5})`/.exec(String(e.message))?.[1],
  ];
  const code = candidates.find((c): c is string => typeof c === 'string' && /^[0-9A-Z]{5}$/.test(c));
  if (code === undefined) return err;
  const translated = new Error(String(e.message), { cause: err }) as Error & { code: string };
  translated.code = code;
  return translated;
}
