import { Module } from '@nestjs/common';
import { ResidentsController } from './residents.controller';

@Module({ controllers: [ResidentsController] })
export class ResidentsModule {}
