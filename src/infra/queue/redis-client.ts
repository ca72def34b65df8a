import Redis, { RedisOptions } from 'ioredis';

/**
 * How long any command of the shared client may go unanswered before it fails ("Command timed
 * out"): only a Redis that hangs gets there (one that is down is known at once from the
 * connection's state). Generous, since a busy process's own event loop adds to every wait.
 */
export const REDIS_COMMAND_TIMEOUT_MS = 2_000;

/**
 * The options of the process's shared Redis client (rate-limit counts, broadcasts, read-your-
 * writes marks, health): the client's own command timeout instead of a timer per call (an
 * `AbortSignal.timeout` per rate-limit count fired two seconds later for every request, answered
 * or not), and auto-pipelining, so that the commands of all requests served in one turn of the
 * event loop leave in one socket write rather than one write, and one wake-up of Redis, each.
 */
export function sharedRedisOptions(commandTimeout = REDIS_COMMAND_TIMEOUT_MS): RedisOptions {
  return { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 2000, commandTimeout, enableAutoPipelining: true };
}

export function sharedRedis(url: string, commandTimeout?: number): Redis {
  return new Redis(url, sharedRedisOptions(commandTimeout));
}
