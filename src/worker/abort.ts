/**
 * A job's abort switch. It behaves like an AbortController, but the AbortSignal (an EventTarget, costly
 * to create at tens of thousands of jobs per second) is only built when a handler asks for it; the worker
 * itself listens through `onAbort`, which costs nothing until the switch is thrown.
 */
export class JobController {
  private controller: AbortController | undefined;
  private abortReason: unknown;
  private isAborted = false;
  private listeners: (() => void)[] | undefined;

  /** The handler's AbortSignal (created on first use; already aborted if the switch was thrown). */
  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.isAborted) this.controller.abort(this.abortReason);
    }
    return this.controller.signal;
  }

  get aborted(): boolean {
    return this.isAborted;
  }

  get reason(): unknown {
    return this.abortReason;
  }

  abort(reason?: unknown): void {
    if (this.isAborted) return;
    this.isAborted = true;
    this.abortReason = reason ?? new DOMException('This operation was aborted', 'AbortError');
    this.controller?.abort(this.abortReason);
    const listeners = this.listeners;
    this.listeners = undefined;
    if (listeners) for (const fn of listeners) fn();
  }

  /** Calls `fn` once when aborted (never if already aborted); returns a function that removes it. */
  onAbort(fn: () => void): () => void {
    if (this.isAborted) return noop;
    (this.listeners ??= []).push(fn);
    return () => {
      const i = this.listeners?.indexOf(fn) ?? -1;
      if (i >= 0) this.listeners!.splice(i, 1);
    };
  }
}

function noop(): void {}
