import { usageError, type CliError } from '../errors.js';

/**
 * A server that could not listen, as a usage error that says what to do (a port in use is the common
 * case); null for any other error.
 */
export function listenError(err: unknown, host: string, port: number): CliError | null {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'EADDRINUSE') {
    return usageError(
      `port ${port} on ${host} is already in use`,
      'pick another with --port <n> (--port 0 takes any free port)',
    );
  }
  if (code === 'EACCES') {
    return usageError(
      `not allowed to listen on port ${port}`,
      'ports below 1024 need privileges: pick another with --port <n>',
    );
  }
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') {
    return usageError(
      `--host: cannot listen on ${host} (${String(code)})`,
      'give an address of this machine, e.g. 127.0.0.1',
    );
  }
  return null;
}

/**
 * Resolves at the first SIGINT or SIGTERM. Call it before printing that the command is up: a reader of
 * that line (a supervisor, a test) may send the signal at once.
 */
export function untilSignal(): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      resolve();
    };
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
}
