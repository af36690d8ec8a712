export {
  createMetrics,
  type ArbiterMetrics,
  type MetricsOptions,
  type MetricsLogger,
  type WorkerEventSource,
} from './metrics.js';
