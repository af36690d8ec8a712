/**
 * Stops a worker on SIGTERM or SIGINT; a second signal while it stops calls `force` (stop waiting for
 * running handlers). Returns the function that removes the handlers again.
 */
export function onStopSignals(stop: () => void, stopping: () => boolean, force: () => void): () => void {
  const handler = (): void => {
    if (stopping()) force();
    else stop();
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
  return () => {
    process.off('SIGTERM', handler);
    process.off('SIGINT', handler);
  };
}
