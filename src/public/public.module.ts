import { Module } from '@nestjs/common';
import { PublicController } from './public.controller';
import { PublicStatsService } from './public-stats.service';

@Module({ controllers: [PublicController], providers: [PublicStatsService] })
export class PublicModule {}
