import { INestApplicationContext, Logger } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';

/**
 * An `api` process runs no scheduled work: once every module has registered its intervals, cron
 * jobs and timeouts (at init), they are all removed here, so that a schedule added later needs no
 * role check of its own. The worker processes run them.
 */
export function stopSchedules(app: INestApplicationContext): void {
  const registry = app.get(SchedulerRegistry);
  const names = [
    ...registry.getIntervals().map((name) => (registry.deleteInterval(name), name)),
    ...[...registry.getCronJobs().keys()].map((name) => (registry.deleteCronJob(name), name)),
    ...registry.getTimeouts().map((name) => (registry.deleteTimeout(name), name)),
  ];
  new Logger('Process').log(`API process: scheduled work left to the workers (${names.join(', ') || 'none registered'})`);
}
