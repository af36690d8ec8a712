import type { QueueContext } from '../client/context.js';

/** The dead-letter table of a queue (`queue.dlq`): move jobs in, inspect, retry, delete. */
export class DeadLetters<T = unknown> {
  constructor(protected readonly ctx: QueueContext) {}
  /** @internal keeps T in use until methods land */
  protected readonly _payload?: T;
}
