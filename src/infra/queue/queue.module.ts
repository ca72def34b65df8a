import { Global, Inject, Module, OnApplicationShutdown } from '@nestjs/common';
import Redis from 'ioredis';
import { APP_CONFIG, AppConfig } from '../../config/config';
import { Broadcast } from './broadcast';
import { REDIS } from './redis.token';

export { REDIS } from './redis.token';

@Global()
@Module({
  providers: [
    {
      provide: REDIS,
      inject: [APP_CONFIG],
      // auto-pipelining: the commands of all requests served in one turn of the event loop (a rate
      // limit's count each) leave in one socket write, not one write and one wake-up of Redis each
      useFactory: (config: AppConfig): Redis | null =>
        config.redisUrl
          ? new Redis(config.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 2000, enableAutoPipelining: true })
          : null,
    },
    Broadcast,
  ],
  exports: [REDIS, Broadcast],
})
export class QueueModule implements OnApplicationShutdown {
  constructor(@Inject(REDIS) private readonly redis: Redis | null) {}

  onApplicationShutdown(): void {
    this.redis?.disconnect();
  }
}
