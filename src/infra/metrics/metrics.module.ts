import { Global, Module } from '@nestjs/common';
import { MetricsController } from './metrics.controller';
import { MetricsService } from './metrics.service';
import { QueueLagCollector } from './queue-lag.collector';

@Global()
@Module({ controllers: [MetricsController], providers: [MetricsService, QueueLagCollector], exports: [MetricsService] })
export class MetricsModule {}
