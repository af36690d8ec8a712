import type { QueueContext } from './context.js';

/** Child results of job trees (`queue.results`). */
export class Results {
  constructor(protected readonly ctx: QueueContext) {}
}
