export {
  attachTracing,
  jobTraceContext,
  tracedEnqueue,
  withTraceContext,
  TRACE_META_KEY,
  type TracingOptions,
} from './tracing.js';
