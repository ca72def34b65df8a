import { DynamicModule, Module } from '@nestjs/common';
import { ThrottlerModule } from '@nestjs/throttler';
import Redis from 'ioredis';
import { REDIS } from '../infra/queue/queue.module';
import { FixedWindowThrottlerStorage } from './fixed-window-storage';
import { PartnerThrottlerGuard } from './partner-throttler.guard';
import { PartnersController } from './partners.controller';
import { PartnersRepository } from './partners.repository';
import { PartnersService } from './partners.service';
import { SharedThrottlerStorage } from './shared-throttler-storage';
import { RedisThrottlerStorage } from './redis-throttler-storage';

@Module({})
export class PartnersModule {
  static register({ perMinute }: { perMinute: number }): DynamicModule {
    return {
      module: PartnersModule,
      // registered once with its rate limit; its use cases serve the till's page too
      global: true,
      imports: [
        // with Redis the counters are shared by every process (one budget per key in total)
        ThrottlerModule.forRootAsync({
          inject: [REDIS],
          useFactory: (redis: Redis | null) => ({
            throttlers: [{ name: 'partner-codes', ttl: 60_000, limit: perMinute }],
            storage: redis
              ? new SharedThrottlerStorage(
                  new RedisThrottlerStorage(redis),
                  new FixedWindowThrottlerStorage(),
                  // counted here at once only while Redis is known to be down (a connection being
                  // made queues its commands: a burst at start-up must not be split between the two)
                  () => !['reconnecting', 'close', 'end'].includes(redis.status),
                )
              : new FixedWindowThrottlerStorage(),
          }),
        }),
      ],
      controllers: [PartnersController],
      providers: [PartnersRepository, PartnersService, PartnerThrottlerGuard],
      exports: [PartnersService],
    };
  }
}
