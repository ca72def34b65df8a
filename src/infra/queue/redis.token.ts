/** The Redis connection behind Bull queues and broadcasts; null when jobs run in-process (no REDIS_URL). */
export const REDIS = Symbol('REDIS');
