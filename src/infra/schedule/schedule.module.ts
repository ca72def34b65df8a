import { Global, Module } from '@nestjs/common';
import { PROCESS_IDENTITY, processIdentity } from './process-identity';
import { ScheduleLeases } from './schedule-leases';

/** Who this instance is, and the leases that let one instance at a time run each scheduled job. */
@Global()
@Module({
  providers: [{ provide: PROCESS_IDENTITY, useFactory: processIdentity }, ScheduleLeases],
  exports: [PROCESS_IDENTITY, ScheduleLeases],
})
export class ProcessScheduleModule {}
