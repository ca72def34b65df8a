import { Module } from '@nestjs/common';
import { LedgerModule } from '../ledger/ledger.module';
import { PublicController } from './public.controller';
import { PublicStatsService } from './public-stats.service';

@Module({ imports: [LedgerModule], controllers: [PublicController], providers: [PublicStatsService] })
export class PublicModule {}
