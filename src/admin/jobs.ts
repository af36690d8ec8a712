import type { QueueContext } from '../client/context.js';

/** Inspection and operator actions on a queue's live jobs (`queue.jobs`). */
export class JobsAdmin<T = unknown> {
  constructor(protected readonly ctx: QueueContext) {}
  /** @internal keeps T in use until methods land */
  protected readonly _payload?: T;
}
