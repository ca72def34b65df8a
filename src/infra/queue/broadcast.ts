import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import Redis from 'ioredis';
import { APP_CONFIG, AppConfig } from '../../config/config';
import { REDIS } from './redis.token';

type Listener = (message: string) => void;

/**
 * Messages to every process of the service (Redis pub/sub on channels named after QUEUE_PREFIX):
 * what one process learns that the others must act on at once, such as a revoked API key. At
 * most once and only to processes connected now: a listener must also be correct without the
 * message, just later (a cache's own expiry). Without Redis there is one process: nothing to send.
 */
@Injectable()
export class Broadcast implements OnApplicationShutdown {
  private readonly logger = new Logger('Broadcast');
  private readonly listeners = new Map<string, Listener[]>();
  private subscriber: Redis | null = null;

  constructor(
    @Inject(REDIS) private readonly redis: Redis | null,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** Sends `message` to the other processes listening on `channel`; a failure is logged, not thrown. */
  async publish(channel: string, message: string): Promise<void> {
    if (!this.redis) return;
    try {
      await this.redis.publish(this.name(channel), message);
    } catch (error) {
      this.logger.warn(`${channel}: not sent (${(error as Error).message}); the other processes learn it later`);
    }
  }

  /** Calls `listener` with every message another process sends on `channel` from now on. */
  subscribe(channel: string, listener: Listener): void {
    if (!this.redis) return;
    const name = this.name(channel);
    const known = this.listeners.get(name);
    if (known) return void known.push(listener);
    this.listeners.set(name, [listener]);
    if (!this.subscriber) {
      // a connection of its own: a subscribed connection can do nothing else; it reconnects and resubscribes by itself
      this.subscriber = this.redis.duplicate({ lazyConnect: false, maxRetriesPerRequest: null, enableAutoPipelining: false });
      this.subscriber.on('error', (error: Error) => this.logger.warn(`subscription: ${error.message}`));
      this.subscriber.on('message', (from: string, message: string) => {
        for (const l of this.listeners.get(from) ?? []) l(message);
      });
    }
    this.subscriber.subscribe(name).catch((error: Error) => this.logger.warn(`${channel}: not subscribed (${error.message})`));
  }

  onApplicationShutdown(): void {
    this.subscriber?.disconnect();
  }

  private name(channel: string): string {
    return `${this.config.queuePrefix}:${channel}`;
  }
}
