// The application code under test: a sign-up that enqueues a welcome email in the same transaction as its
// own write, the email handler, and a nightly digest schedule. See signup.test.ts for its tests.
import type pg from 'pg';
import type { Arbiter } from '../../src/index.js';
import type { CronSchedule, JobContext, QueueConfig } from '../../src/worker/index.js';

export interface WelcomeEmail {
  userId: number;
  to: string;
  locale: 'en' | 'fr';
}

export interface Digest {
  day: string;
}

export interface Mailer {
  send(to: string, subject: string): Promise<{ messageId: string }>;
}

/** Thrown by a mailer for an address that can never work: no point retrying. */
export class BouncedError extends Error {}

export async function setUp(arbiter: Arbiter): Promise<void> {
  await arbiter.createQueue('welcome_emails');
  await arbiter.createQueue('digests');
  await arbiter.db.query(
    `CREATE TABLE IF NOT EXISTS "${arbiter.schema}".users (id serial PRIMARY KEY, email text NOT NULL)`,
  );
}

/** Creates the user and enqueues the welcome email: both commit, or neither does. */
export async function signUp(arbiter: Arbiter, pool: pg.Pool, email: string, locale: 'en' | 'fr' = 'en') {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const { rows } = await client.query<{ id: number }>(
      `INSERT INTO "${arbiter.schema}".users (email) VALUES ($1) RETURNING id`,
      [email],
    );
    const userId = rows[0]!.id;
    if (!email.includes('@')) throw new Error(`not an email address: ${email}`);
    await arbiter
      .queue<WelcomeEmail>('welcome_emails')
      .enqueue({ userId, to: email, locale }, { tx: client, groupKey: `user-${userId}` });
    await client.query('COMMIT');
    return userId;
  } catch (err) {
    await client.query('ROLLBACK');
    throw err;
  } finally {
    client.release();
  }
}

/** The welcome email queue's options, as the worker uses them. */
export function welcomeEmails(mailer: Mailer): QueueConfig<WelcomeEmail> {
  return {
    keepProcessed: true,
    backoff: { type: 'exponential', baseMs: 60_000 },
    handler: async (job, ctx: JobContext) => {
      const subject = job.payload.locale === 'fr' ? 'Bienvenue !' : 'Welcome!';
      try {
        return await mailer.send(job.payload.to, subject); // kept in the history as the job's result
      } catch (err) {
        if (err instanceof BouncedError) return ctx.fail(`bounced: ${err.message}`);
        throw err; // retried with backoff
      }
    },
  };
}

export const schedules: CronSchedule[] = [
  {
    name: 'nightly-digest',
    queue: 'digests',
    pattern: '0 6 * * *',
    tz: 'Europe/Paris',
    payload: (tick: Date) => ({ day: tick.toISOString().slice(0, 10) }) satisfies Digest,
  },
];
