import { Module } from '@nestjs/common';
import { LedgerModule } from '../ledger/ledger.module';
import { ResidentsController } from './residents.controller';

@Module({ imports: [LedgerModule], controllers: [ResidentsController] })
export class ResidentsModule {}
