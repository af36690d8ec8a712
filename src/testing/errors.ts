/**
 * A test helper's expectation did not hold (`expectEnqueued`), or `drain` did not settle. Carries
 * `expected` and `actual`, which test runners that understand them (Vitest, Jest) show as a diff. Not an
 * ArbiterError: it reports a failed test, never a failed call.
 */
export class TestAssertionError extends Error {
  readonly code = 'TEST_ASSERTION' as const;
  readonly expected: unknown;
  readonly actual: unknown;
  /** The helper that failed: `expectEnqueued` or `drain`. */
  readonly operator: string;
  constructor(operator: string, message: string, details: { expected?: unknown; actual?: unknown } = {}) {
    super(message);
    this.name = 'TestAssertionError';
    this.operator = operator;
    this.expected = details.expected;
    this.actual = details.actual;
  }
}
