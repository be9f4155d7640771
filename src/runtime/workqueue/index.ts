export { ExponentialFailureRateLimiter, type RateLimiter } from './ratelimiter.ts';
export { WorkQueue, realClock, type AddOptions, type Clock, type WorkQueueOptions } from './queue.ts';
export {
  WorkQueueMetricsProvider,
  noopQueueMetrics,
  type QueueMetrics,
  type QueueMetricsProvider,
} from './metrics.ts';
