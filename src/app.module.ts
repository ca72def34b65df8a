import { DynamicModule, Module } from '@nestjs/common';
import { AuthModule } from './auth/auth.module';
import { AppConfig } from './config/config';
import { ConfigModule } from './config/config.module';
import { DatabaseModule } from './infra/database/database.module';
import { HealthModule } from './infra/health/health.module';
import { QueueModule } from './infra/queue/queue.module';
import { ProgrammeModule } from './programme/programme.module';
import { ResidentsModule } from './residents/residents.module';

@Module({})
export class AppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [ConfigModule.forRoot(config), DatabaseModule, QueueModule, HealthModule, AuthModule, ProgrammeModule, ResidentsModule],
    };
  }
}
