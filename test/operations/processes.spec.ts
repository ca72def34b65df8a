import { INestApplicationContext } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { randomUUID } from 'node:crypto';
import { createAppContext } from '../../src/app.setup';
import { ReconciliationService, RUN_STALE_MS } from '../../src/audit/reconciliation.service';
import { PrismaService } from '../../src/infra/database/prisma.service';
import { PROCESS_IDENTITY } from '../../src/infra/schedule/process-identity';
import { ScheduleLeases } from '../../src/infra/schedule/schedule-leases';
import { startTestApp, TestApp, testConfig } from '../support/app';
import { waitFor } from '../support/wait';

/**
 * Process roles on one database and one Redis: an API process serves and enqueues and runs no
 * schedule; a worker process consumes the queues, runs the schedules and claims reconciliation
 * runs; scheduled work is held by one process at a time and taken over when its lease runs out;
 * a reconciliation run whose process died is failed and run again.
 */
describe('process roles, schedule leases and the takeover of interrupted runs', () => {
  let api: TestApp;
  let worker: INestApplicationContext;

  beforeAll(async () => {
    api = await startTestApp({ PROCESS_ROLE: 'api' });
    worker = await createAppContext(
      testConfig({ DATABASE_URL: api.databaseUrl, QUEUE_PREFIX: api.config.queuePrefix, PROCESS_ROLE: 'worker' }),
    );
    await worker.init();
  });

  afterAll(async () => {
    await worker.close();
    await api.close();
  });

  it('an API process runs no schedule; a worker runs them all', () => {
    const apiSchedules = api.app.get(SchedulerRegistry);
    expect(apiSchedules.getIntervals()).toEqual([]);
    expect([...apiSchedules.getCronJobs().keys()]).toEqual([]);
    const workerSchedules = worker.get(SchedulerRegistry);
    expect(workerSchedules.getIntervals()).toEqual(
      expect.arrayContaining(['earn-sweeper', 'hold-expiry', 'ledger-seal', 'reconciliation-runs']),
    );
    expect([...workerSchedules.getCronJobs().keys()]).toContain('reconciliation');
  });

  it('events accepted by the API process are posted by the worker (the API process consumes no queue)', async () => {
    await api.http.post('/v1/admin/sources').set(api.admin).send({ id: 'votes', name: 'Votes' }).expect(201);
    await api.http
      .post('/v1/admin/earning-rules')
      .set(api.admin)
      .send({ id: 'vote', sourceId: 'votes', eventType: 'vote.cast', points: '15' })
      .expect(201);
    const key = (
      await api.http.post('/v1/admin/api-clients').set(api.admin).send({ name: 'v', role: 'source', sourceId: 'votes' }).expect(201)
    ).body.apiKey as string;
    const events = Array.from({ length: 20 }, (_, i) => ({
      externalId: `roles-${i}`,
      type: 'vote.cast',
      residentId: `roles-r${i % 4}`,
      occurredAt: new Date().toISOString(),
    }));
    await api.http.post('/v1/earn-events').set('X-API-Key', key).send({ events }).expect(202);
    await waitFor(async () => (await api.prisma.earnEvent.count({ where: { status: 'posted' } })) === 20, 20_000);
    expect((await api.http.get('/v1/me/balance').set(api.residentAuth('roles-r0')).expect(200)).body.available).toBe('75');
  });

  it('a run started on the API process is claimed and run by the worker', async () => {
    const { id } = (await api.http.post('/v1/audit/reconciliations').set(api.admin).expect(202)).body as { id: string };
    const waiting = await api.prisma.reconciliation.findUniqueOrThrow({ where: { id } });
    // nobody's yet (no heartbeat), unless the worker's poll was quicker than this read; never the API process's
    const theWorker = worker.get<string>(PROCESS_IDENTITY);
    expect(theWorker).not.toBe(api.app.get<string>(PROCESS_IDENTITY));
    if (waiting.holder === null) expect(waiting.heartbeatAt).toBeNull();
    else expect(waiting.holder).toBe(theWorker);
    await worker.get(ReconciliationService).claimRuns();
    const run = await api.prisma.reconciliation.findUniqueOrThrow({ where: { id } });
    expect(run).toMatchObject({ status: 'passed', holder: theWorker });
  });

  it('a run whose process died (its heartbeat stopped) is failed, saying so, and run again once', async () => {
    const prisma = api.prisma;
    const dead = randomUUID();
    const stoppedAt = new Date(Date.now() - RUN_STALE_MS - 5_000);
    await prisma.reconciliation.create({
      data: { id: dead, status: 'running', trigger: 'manual', requestedBy: 'admin', holder: 'gone:1:abcd', heartbeatAt: stoppedAt },
    });
    // a run still beating is left alone
    const alive = randomUUID();
    await prisma.reconciliation.create({
      data: { id: alive, status: 'running', trigger: 'manual', requestedBy: 'admin', holder: 'busy:2:ef01', heartbeatAt: new Date() },
    });
    // two instances take over at once: the run is failed and re-run once, by one of them
    const service = worker.get(ReconciliationService);
    const [first, second] = await Promise.all([service.claimRuns(), api.app.get(ReconciliationService).claimRuns()]);
    const ran = [...first, ...second];
    expect(ran).toHaveLength(1);
    const failed = await prisma.reconciliation.findUniqueOrThrow({ where: { id: dead } });
    expect(failed.status).toBe('failed');
    expect(failed.finishedAt).not.toBeNull();
    expect(failed.checks).toEqual([
      expect.objectContaining({ name: 'interrupted', passed: false, detail: expect.stringContaining('gone:1:abcd') }),
    ]);
    const reRun = await prisma.reconciliation.findUniqueOrThrow({ where: { id: ran[0] } });
    expect(reRun).toMatchObject({ retryOf: dead, status: 'passed', requestedBy: 'admin', trigger: 'manual' });
    expect(await prisma.reconciliation.count({ where: { retryOf: dead } })).toBe(1);
    // auditors read both: the failed run saying why, and the run that replaced it
    const answer = (await api.http.get(`/v1/audit/reconciliations/${ran[0]}`).set(api.admin).expect(200)).body;
    expect(answer).toMatchObject({ status: 'passed', retryOf: dead });
    expect((await api.http.get(`/v1/audit/reconciliations/${dead}`).set(api.admin).expect(200)).body).toMatchObject({
      status: 'failed',
      retryOf: null,
      checks: [{ name: 'interrupted', passed: false }],
    });
    // a second takeover pass finds nothing more to do
    expect(await service.claimRuns()).toEqual([]);
    expect((await prisma.reconciliation.findUniqueOrThrow({ where: { id: alive } })).status).toBe('running');
    await prisma.reconciliation.update({ where: { id: alive }, data: { status: 'failed', finishedAt: new Date() } });
  });

  it('a scheduled job is held by one process at a time, given back at shutdown, and taken over when its lease runs out', async () => {
    const prisma = api.prisma;
    const mine = worker.get(ScheduleLeases);
    // a second process on the same database: its own leases, its own identity
    const other = await createAppContext(testConfig({ DATABASE_URL: api.databaseUrl, QUEUE_PREFIX: api.config.queuePrefix }));
    await other.init();
    try {
      const theirs = other.get(ScheduleLeases);
      const name = `test-job-${randomUUID()}`;
      const results = await Promise.all([mine.hold(name, 60_000), theirs.hold(name, 60_000)]);
      expect(results.filter(Boolean)).toHaveLength(1);
      const [holder, waiting] = results[0] ? [mine, theirs] : [theirs, mine];
      // the holder renews; the other keeps waiting
      expect(await holder.hold(name, 60_000)).toBe(true);
      expect(await waiting.hold(name, 60_000)).toBe(false);
      let ran = 0;
      expect(await waiting.exclusive(name, 60_000, () => Promise.resolve(ran++))).toBe(false);
      expect(ran).toBe(0);
      // the holder's process died: its lease runs out, and the next firing elsewhere takes it
      await prisma.$executeRaw`UPDATE schedule_leases SET expires_at = now() - interval '1 second' WHERE name = ${name}`;
      expect(await waiting.exclusive(name, 60_000, () => Promise.resolve(ran++))).toBe(true);
      expect(ran).toBe(1);
      expect(await holder.hold(name, 60_000)).toBe(false);
      // a stopping process gives its leases back at once
      const second = `test-job-${randomUUID()}`;
      expect(await theirs.hold(second, 60_000)).toBe(true);
      await other.close();
      expect(await prisma.scheduleLease.findUnique({ where: { name: second } })).toBeNull();
      expect(await mine.hold(second, 60_000)).toBe(true);
    } finally {
      await other.close().catch(() => undefined);
    }
  });

  it('the worker holds the periodic jobs it fired', async () => {
    const prisma = worker.get(PrismaService);
    // the hold sweep's schedule fires every 30 s: fired here by hand, through the same entry point
    const { HoldExpiryCron } = await import('../../src/ledger/hold-expiry.cron');
    await worker.get(HoldExpiryCron).sweep();
    const lease = await prisma.scheduleLease.findUniqueOrThrow({ where: { name: 'hold-expiry' } });
    expect(lease.expiresAt.getTime()).toBeGreaterThan(Date.now());
  });
});
