import { DynamicModule, Module } from '@nestjs/common';
import { ThrottlerModule } from '@nestjs/throttler';
import { FixedWindowThrottlerStorage } from './fixed-window-storage';
import { PartnerThrottlerGuard } from './partner-throttler.guard';
import { PartnersController } from './partners.controller';
import { PartnersRepository } from './partners.repository';
import { PartnersService } from './partners.service';

@Module({})
export class PartnersModule {
  static register({ perMinute }: { perMinute: number }): DynamicModule {
    return {
      module: PartnersModule,
      // registered once with its rate limit; its use cases serve the till's page too
      global: true,
      imports: [
        ThrottlerModule.forRoot({
          throttlers: [{ name: 'partner-codes', ttl: 60_000, limit: perMinute }],
          storage: new FixedWindowThrottlerStorage(),
        }),
      ],
      controllers: [PartnersController],
      providers: [PartnersRepository, PartnersService, PartnerThrottlerGuard],
      exports: [PartnersService],
    };
  }
}
