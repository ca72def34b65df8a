import { Global, Inject, Module, OnApplicationShutdown } from '@nestjs/common';
import Redis from 'ioredis';
import { APP_CONFIG, AppConfig } from '../../config/config';
import { ForegroundWork } from '../process/foreground-work';
import { Broadcast } from './broadcast';
import { sharedRedis } from './redis-client';
import { REDIS } from './redis.token';

export { REDIS } from './redis.token';

@Global()
@Module({
  providers: [
    {
      provide: REDIS,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig): Redis | null => (config.redisUrl ? sharedRedis(config.redisUrl) : null),
    },
    Broadcast,
    ForegroundWork,
  ],
  exports: [REDIS, Broadcast, ForegroundWork],
})
export class QueueModule implements OnApplicationShutdown {
  constructor(@Inject(REDIS) private readonly redis: Redis | null) {}

  onApplicationShutdown(): void {
    this.redis?.disconnect();
  }
}
