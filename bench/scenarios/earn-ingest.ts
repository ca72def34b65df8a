import { randomUUID } from 'node:crypto';
import { PrismaService } from '../../src/infra/database/prisma.service';
import { BenchOptions, EARN_BATCH, RESIDENTS } from '../options';
import { percentile, RunResult } from '../stats';
import { ClientRequest, loadFromClient, waitUntil } from '../support/client';
import { CpuFigures, CpuMeter } from '../support/cpu';
import { BenchApp } from '../support/service';

/**
 * Earn ingest end to end: a participation service posts batches of 1000 events over HTTP (a few
 * at a time), Bull on Redis carries them to the processing, and the clock stops when every
 * event is posted. p50/p99 are of the HTTP answers (acceptance). The warm-up batch (1000 events)
 * goes before the clock starts.
 */
export async function earnIngest(
  o: BenchOptions,
  { app, base, adminKey, call }: BenchApp,
  sourceId = 'votes',
  meter?: CpuMeter,
): Promise<RunResult & { cpu?: CpuFigures }> {
  // a source of its own per run (the webhooks scenario ingests more than once on one service)
  await call('/v1/admin/sources', { id: sourceId, name: `Source ${sourceId}` }, adminKey);
  await call(
    '/v1/admin/earning-rules',
    { id: sourceId === 'votes' ? 'vote' : `${sourceId}-vote`, sourceId, eventType: 'vote.cast', points: '20' },
    adminKey,
  );
  const sourceKey = (await call('/v1/admin/api-clients', { name: `bench ${sourceId}`, role: 'source', sourceId }, adminKey))
    .apiKey as string;
  const prisma = app.get(PrismaService);
  const batches = Math.ceil(o.events / EARN_BATCH);
  const occurredAt = new Date().toISOString();
  // the client's payloads are ready before the clock starts, as a participation service's would be
  const request = (b: number): ClientRequest => ({
    method: 'POST',
    path: '/v1/earn-events',
    headers: { 'Content-Type': 'application/json', 'X-API-Key': sourceKey },
    expect: 202,
    body: JSON.stringify({
      events: Array.from({ length: EARN_BATCH }, (_, i) => ({
        externalId: randomUUID(),
        type: 'vote.cast',
        residentId: `b${(b * EARN_BATCH + i) % RESIDENTS}`,
        occurredAt,
      })),
    }),
  });
  // warm-up: accounts exist, as in a running programme
  await loadFromClient(base, [request(0)], 1);
  await waitUntil(async () => (await prisma.earnEvent.count({ where: { status: 'received' } })) === 0);
  const requests = Array.from({ length: batches }, (_, b) => request(b + 1));

  const cpuFrom = await meter?.read();
  const started = process.hrtime.bigint();
  const latencies = await loadFromClient(base, requests, 4);
  await waitUntil(async () => (await prisma.earnEvent.count({ where: { status: 'received' } })) === 0);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const cpu = cpuFrom && (await meter!.since(cpuFrom));
  const events = batches * EARN_BATCH;
  return {
    operations: events,
    seconds,
    perSecond: events / seconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    ...(cpu ? { cpu } : {}),
  };
}
