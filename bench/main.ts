import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { CommanderError } from 'commander';
import { processArgs } from '../src/config/config';
import { EARN_BATCH, parseOptions } from './options';
import { awardScenario, GcPauses, startAwardWorker } from './scenarios/awards';
import { catalogue } from './scenarios/catalogue';
import { consoleOverview } from './scenarios/console';
import { earnIngest } from './scenarios/earn-ingest';
import { expiry } from './scenarios/expiry';
import { ledgerService } from './scenarios/ledger-service';
import { processes, ProcessesResult } from './scenarios/processes';
import { batchedCeiling, rowAtATimeFloor } from './scenarios/plain-sql';
import { readScenarios, soakLoad } from './scenarios/reads';
import { reconcileGrowth } from './scenarios/reconcile-growth';
import { reconciliation } from './scenarios/reconciliation';
import { replicaReads } from './scenarios/replica';
import { webhooks } from './scenarios/webhooks';
import { RunResult, table } from './stats';
import { benchDatabaseUrl, dropDatabase, recreateDatabase } from './support/database';
import { CpuMeter, perThousand, printCpu } from './support/cpu';
import { MAX_OUT } from './support/client';
import { startService } from './support/service';
import { PrismaService } from '../src/infra/database/prisma.service';

/**
 * `npm run bench`: the ledger's speed, measured against the plainest SQL doing the same work in
 * the same run, so that the ratio holds on a noisy machine. Its options: `npm run bench -- --help`
 * (docs/performance.md). One file per scenario under bench/scenarios/.
 */
async function main(): Promise<void> {
  const o = parseOptions(processArgs());
  const url = benchDatabaseUrl(o.database, o.databaseName);
  await recreateDatabase(o.database, o.databaseName);
  // --keep: the database stays for a look afterwards (psql, EXPLAIN), whatever the scenario
  const drop = () => (o.keep ? Promise.resolve() : dropDatabase(o.database, o.databaseName));

  if (o.only === 'reconcile') {
    const reconcile = await reconciliation(o, url);
    await drop();
    console.log(table([[`reconciliation of ${o.reconcile} postings (one run)`, reconcile]]));
    return;
  }
  if (o.only === 'reconcile-growth') {
    const [small, large] = await reconcileGrowth(o);
    const ratio = (a: number, b: number) => (a / b).toFixed(2);
    for (const g of [small, large]) {
      console.log(
        `journal of ${g.postings} postings: nightly run over a day of ${o.growthDay} postings ${g.nightly.toFixed(2)} s ` +
          `(covered ${g.covered.transactions} transactions, ${g.covered.postings} postings, ${g.covered.accounts} accounts); ` +
          `trial balance as of a month ago ${(g.trialBalance * 1000).toFixed(1)} ms; a month's statement ${(g.statement * 1000).toFixed(1)} ms`,
      );
    }
    console.log(`ratio nightly run, large / small journal:        ${ratio(large.nightly, small.nightly)}x (goal 1.5x at most)`);
    console.log(`ratio trial balance a month ago, large / small:  ${ratio(large.trialBalance, small.trialBalance)}x (goal 2x at most)`);
    console.log(`ratio a month's statement, large / small:        ${ratio(large.statement, small.statement)}x (goal 2x at most)`);
    await drop();
    return;
  }

  if (o.only === 'console') {
    const [small, large] = await consoleOverview(o, url);
    await drop();
    console.log(
      table([
        [`finance overview, ledger of ${small.postings} postings`, small.renders],
        [`finance overview, ledger of ${large.postings} postings`, large.renders],
      ]),
    );
    console.log(
      `first render (keeps every closed day's figures): ${small.firstRenderMs.toFixed(0)} ms and ${large.firstRenderMs.toFixed(0)} ms`,
    );
    console.log(
      `ratio overview p50, ${large.postings} / ${small.postings} postings: ${(large.renders.p50 / small.renders.p50).toFixed(2)}x (goal at most 2x)`,
    );
    return;
  }
  if (o.only === 'earn') {
    const floor = await rowAtATimeFloor(o, url);
    const service_ = await startService(o, url);
    const ingest = await earnIngest(o, service_, 'votes', new CpuMeter(service_.app.get(PrismaService)));
    await service_.app.close();
    await drop();
    console.log(
      table([
        [`earn ingest: HTTP batches of ${EARN_BATCH} until posted (events)`, ingest],
        ['floor: plain SQL, one transfer per transaction', floor],
      ]),
    );
    console.log(`ratio earn ingest / row-at-a-time floor: ${(ingest.perSecond / floor.perSecond).toFixed(2)}x (target 10x)`);
    printCpu('earn ingest', ingest.cpu, ingest.operations);
    return;
  }
  if (o.only === 'processes') {
    const result = await processes(o, url);
    await drop();
    printProcesses(result);
    return;
  }
  if (o.only === 'expiry') {
    // an API process: no schedules, so that neither the sealing job (hashing every transaction
    // just credited) nor the expiry cron shares the cores with one of the two timed phases only
    const service_ = await startService(o, url, { PROCESS_ROLE: 'api' });
    const e = await expiry(o, service_);
    await service_.app.close();
    await drop();
    console.log(table(expiryRows(o, e)));
    printExpiryRatios(e);
    return;
  }
  if (o.only === 'replica') {
    // the bench's own primary and replica: the database on the --database server is not used
    await drop();
    const r = await replicaReads(o);
    console.log(
      table([
        ['earn ingest alone (events)', r.alone[0]],
        [`earn ingest while auditors read from the replica (events)`, r.withReads],
        ['audit reads during that ingest (2 readers, each reading again at once)', r.reads],
        ...(r.withPacedReads && r.pacedReads
          ? ([
              [`earn ingest while auditors read at ${o.auditReads}/s (events)`, r.withPacedReads],
              ['audit reads during that ingest (paced)', r.pacedReads],
            ] as [string, RunResult][])
          : []),
        ['earn ingest alone again (events)', r.alone[1]],
      ]),
    );
    const medians = (m: Record<string, number>) =>
      Object.entries(m)
        .map(([kind, ms]) => `${kind} ${ms.toFixed(1)}`)
        .join(', ');
    console.log(
      `audit reads' p50 ms by kind: ${medians(r.readMedians)}` + (r.pacedReadMedians ? `; paced: ${medians(r.pacedReadMedians)}` : ''),
    );
    const alone = (r.alone[0].perSecond + r.alone[1].perSecond) / 2;
    console.log(
      `ratio earn ingest with replica reads / alone (mean of both): ${(r.withReads.perSecond / alone).toFixed(2)}x (goal 0.9x); ` +
        (r.withPacedReads ? `with reads at ${o.auditReads}/s: ${(r.withPacedReads.perSecond / alone).toFixed(2)}x; ` : '') +
        `the replica committed ${r.replicaTransactions} transactions during the first; replica ${r.replicaUsable ? 'usable throughout' : 'NOT usable throughout (reads fell back to the primary)'}`,
    );
    return;
  }
  if (o.only === 'ledger') {
    // the ledger service's single writes beside the floor, in one run, in the full run's order
    const floor = await rowAtATimeFloor(o, url);
    const service = await ledgerService(o, url);
    await drop();
    console.log(
      table([
        ['ledger service: one earn per call', service],
        ['floor: plain SQL, one transfer per transaction', floor],
      ]),
    );
    console.log(`ratio ledger service / row-at-a-time floor: ${(service.perSecond / floor.perSecond).toFixed(2)}x`);
    return;
  }
  if (o.only === 'webhooks') {
    // WEBHOOK_BUSY_SHARE from the environment reaches the service (1: the drain not paced, for comparison)
    const share = process.env.WEBHOOK_BUSY_SHARE;
    const service_ = await startService(o, url, share ? { WEBHOOK_BUSY_SHARE: share } : {});
    const w = await webhooks(o, service_);
    console.log(
      table([
        [`earn ingest, no webhook (events)`, w.without[0]],
        [`earn ingest, one webhook on earn_event.posted (events)`, w.withWebhook],
        [`earn ingest, no webhook again (events)`, w.without[1]],
        ['outbox drain: deliveries to a local receiver, first to last', w.drain],
        ['outbox drain: the deliveries left when the ingest ended', w.catchUp],
      ]),
    );
    const withoutRate = (w.without[0].perSecond + w.without[1].perSecond) / 2;
    console.log(
      `ratio earn ingest with a webhook / without (mean of both): ${(w.withWebhook.perSecond / withoutRate).toFixed(2)}x (goal 0.9x)`,
    );
    console.log(
      `outbox drain ${w.drain.perSecond.toFixed(0)} deliveries/s against ingest ${w.withWebhook.perSecond.toFixed(0)} events/s; ` +
        `last delivery ${w.drainLagSeconds.toFixed(1)} s after the last event posted; peak outbox age ${w.peakAgeSeconds.toFixed(1)} s` +
        (w.undelivered > 0 ? `; NOT DRAINED: ${w.undelivered} deliveries still pending after the wait` : '; drained'),
    );
    // CPU per event holds where rates do not: what each phase cost, whatever else the machine ran
    printCpu('no webhook', w.without[0].cpu, w.without[0].operations);
    printCpu('one webhook, ingest', w.withWebhook.cpu, w.withWebhook.operations);
    printCpu('one webhook, the drain after it', w.drainTailCpu, w.withWebhook.operations);
    printCpu('no webhook again', w.without[1].cpu, w.without[1].operations);
    if (!Number.isNaN(w.receiverCpuSeconds)) {
      console.log(
        `receiver thread: ${perThousand(w.receiverCpuSeconds, w.drain.operations)} cpu ms per 1000 deliveries (in "other threads")`,
      );
    }
    await service_.app.close();
    await drop();
    return;
  }
  if (o.only === 'catalogue') {
    const service_ = await startService(o, url);
    const { redemptions, validations, httpBaseline, plainValidations } = await catalogue(o, service_);
    await service_.app.close();
    await drop();
    console.log(
      table([
        ['redemptions: HTTP, 64 residents at once', redemptions],
        ['partner validations: HTTP, 32 tills at once', validations],
        ['HTTP baseline: GET /health/live, 32 clients (no database)', httpBaseline],
        ['plain validations: bare node:http + the same SQL, 32 tills', plainValidations],
      ]),
    );
    console.log(
      `partner validations per second: ${validations.perSecond.toFixed(0)} (target 5000; ${(validations.perSecond / plainValidations.perSecond).toFixed(2)}x the plain server)`,
    );
    return;
  }
  if (o.only === 'awards') {
    const ceiling = await batchedCeiling(o, url);
    // the award's lanes (AWARD_CONCURRENCY, the service's default unless set for the run): the
    // knob between its pace and the reads' share of the cores
    const lanes = process.env.AWARD_CONCURRENCY;
    const laneEnv: Record<string, string> = lanes ? { AWARD_CONCURRENCY: lanes } : {};
    // --award-worker: the service only serves (and enqueues), a worker process executes the award
    const queuePrefix = `bench-${randomBytes(4).toString('hex')}`;
    const service_ = await startService(o, url, {
      ...laneEnv,
      ...(o.awardWorker ? { PROCESS_ROLE: 'api', QUEUE_PREFIX: queuePrefix } : {}),
    });
    const worker = o.awardWorker ? startAwardWorker(o, url, queuePrefix, laneEnv) : undefined;
    const a = await awardScenario(o, service_, worker).finally(() => worker?.stop());
    await service_.app.close();
    await drop();
    console.log(
      table([
        [`award: ${o.rows} rows validated and stored (text/csv stream)`, a.validation],
        [`award: ${o.rows} rows executed (credits)`, a.execution],
        ['balance read, 4 clients closed loop, idle', a.idleClosedReads],
        ...(o.awardReadRate > 0
          ? ([
              [`balance read, ${o.awardReadRate}/s open loop, idle`, a.idleReads],
              [`balance read, ${o.awardReadRate}/s open loop, during the award`, a.busyReads],
            ] as [string, RunResult][])
          : ([['balance read, 4 clients closed loop, during the award', a.busyReads]] as [string, RunResult][])),
        ['ceiling: plain SQL, 1000 transfers per statement', ceiling],
      ]),
    );
    const mb = (b: number) => `${(b / 1048576).toFixed(0)} MB`;
    console.log(
      `award lanes (AWARD_CONCURRENCY): ${lanes ?? 'default'}; executed by ${worker ? 'a worker process' : 'the serving process'}`,
    );
    console.log(`ratio award credits / batched plain-SQL ceiling: ${(a.execution.perSecond / ceiling.perSecond).toFixed(2)}x (goal 0.8x)`);
    console.log(
      `RSS during the award: ${mb(a.rssStart)} at its start, ${mb(a.rssPeak)} at most (+${mb(a.rssPeak - a.rssStart)}; goal within 300 MB); V8's young generation ${mb(a.youngStart)} at its start, ${mb(a.youngEnd)} at its end`,
    );
    console.log(
      `balance read p99 during the award vs idle (${o.awardReadRate > 0 ? `${o.awardReadRate}/s open loop, from each read's due time` : '4 readers, closed loop'}): ${a.busyReads.p99.toFixed(2)} ms vs ${a.idleReads.p99.toFixed(2)} ms (${(a.busyReads.p99 / a.idleReads.p99).toFixed(2)}x; goal within 2x)`,
    );
    if (a.workerRssStart !== undefined) {
      console.log(
        `worker RSS during the award: ${mb(a.workerRssStart)} at its start, ${mb(a.workerRssPeak!)} at most (+${mb(a.workerRssPeak! - a.workerRssStart)})`,
      );
    }
    if (a.busyMissed > 0) {
      console.log(
        `balance reads missed during the award: ${a.busyMissed} due while ${MAX_OUT} were out, not sent (the service fell behind the pace; the p99 above is of those sent)`,
      );
    }
    console.log(`event-loop delay p99 during the award: ${a.loopDelayP99.toFixed(2)} ms (idle reads: ${a.idleLoopDelayP99.toFixed(2)} ms)`);
    console.log(
      `the service's event-loop CPU per idle read: ${a.idleCpuPerRead.toFixed(3)} ms at the run's pace, ${a.idleClosedCpuPerRead.toFixed(3)} ms closed loop`,
    );
    const pauses = (p: GcPauses) => `${p.count} (${p.totalMs.toFixed(0)} ms, longest ${p.maxMs.toFixed(1)} ms)`;
    console.log(`the service's collections during the award: scavenges ${pauses(a.gc.scavenges)}, full ${pauses(a.gc.fullCollections)}`);
    return;
  }
  console.log(
    `Civic points ledger benchmark: ${o.transfers} transfers, ${o.workers} concurrent workers, PostgreSQL at ${new URL(url).host}\n`,
  );
  const floor = await rowAtATimeFloor(o, url);
  const ceiling = await batchedCeiling(o, url);
  const service = await ledgerService(o, url);
  const service_ = await startService(o, url);
  const rssStart = process.memoryUsage().rss;
  const ingest = await earnIngest(o, service_);
  const { redemptions, validations, httpBaseline, plainValidations } = await catalogue(o, service_);
  const reads = await readScenarios(o, service_);
  const expiring = await expiry(o, service_);
  const soak = o.soak > 0 ? await soakLoad(service_, o.soak) : undefined;
  const rssEnd = process.memoryUsage().rss;
  await service_.app.close();
  const reconcile = o.reconcile > 0 ? await reconciliation(o, url) : undefined;
  await drop();

  const rows: [string, RunResult][] = [
    [`earn ingest: HTTP batches of ${EARN_BATCH} until posted (events)`, ingest],
    ['ledger service: one earn per call', service],
    ['redemptions: HTTP, 64 residents at once', redemptions],
    ['partner validations: HTTP, 32 tills at once', validations],
    ['HTTP baseline: GET /health/live, 32 clients (no database)', httpBaseline],
    ['plain validations: bare node:http + the same SQL, 32 tills', plainValidations],
    ...reads.rows,
    ...expiryRows(o, expiring),
    ['floor: plain SQL, one transfer per transaction', floor],
    ['ceiling: plain SQL, 1000 transfers per statement', ceiling],
    ...(reconcile ? ([[`reconciliation of ${o.reconcile} postings (one run)`, reconcile]] as [string, RunResult][]) : []),
  ];
  console.log(table(rows));
  console.log(`\nratio ledger service / row-at-a-time floor: ${(service.perSecond / floor.perSecond).toFixed(2)}x`);
  console.log(`ratio earn ingest / row-at-a-time floor:    ${(ingest.perSecond / floor.perSecond).toFixed(2)}x (target 10x)`);
  console.log(`ratio redemptions / row-at-a-time floor:    ${(redemptions.perSecond / floor.perSecond).toFixed(2)}x (target 0.5x)`);
  console.log(
    `partner validations per second:             ${validations.perSecond.toFixed(0)} (target 5000; ${(validations.perSecond / httpBaseline.perSecond).toFixed(2)}x the HTTP baseline, ${(validations.perSecond / plainValidations.perSecond).toFixed(2)}x the plain server)`,
  );
  console.log(`ratio earn ingest / batched plain-SQL ceiling: ${(ingest.perSecond / ceiling.perSecond).toFixed(2)}x`);
  console.log(
    `balance read, ${o.history} history entries vs one: p50 ${reads.heavyP50.toFixed(2)} ms vs ${reads.lightP50.toFixed(2)} ms (${(reads.heavyP50 / reads.lightP50).toFixed(2)}x; target: independent of history length)`,
  );
  printExpiryRatios(expiring);
  const mb = (b: number) => `${(b / 1048576).toFixed(0)} MB`;
  console.log(`RSS of the process serving (and loading) it: ${mb(rssStart)} at the start of the HTTP scenarios, ${mb(rssEnd)} at the end`);
  if (soak)
    console.log(`soak, ${o.soak} s of mixed load at ${soak.perSecond.toFixed(0)} requests/s: RSS ${soak.samples.map(mb).join(' → ')}`);
}

/** The built service with one API process and with two, and the plain validation server, in one run. */
function printProcesses({ redemptions, validations, plainValidations }: ProcessesResult): void {
  console.log(
    table([
      ['redemptions: built service, 1 API process, 64 residents', redemptions.get(1)!],
      ['redemptions: built service, API_PROCESSES=2', redemptions.get(2)!],
      ['partner validations: 1 API process, 32 tills', validations.get(1)!],
      ['partner validations: API_PROCESSES=2, 32 tills', validations.get(2)!],
      ['plain validations: bare node:http + the same SQL, 32 tills', plainValidations],
    ]),
  );
  const v1 = validations.get(1)!.perSecond;
  const v2 = validations.get(2)!.perSecond;
  console.log(`validations, 2 API processes / 1: ${(v2 / v1).toFixed(2)}x (target 1.5x)`);
  console.log(
    `validations, 2 API processes / the plain server: ${(v2 / plainValidations.perSecond).toFixed(2)}x (target 0.5x); 1 process: ${(v1 / plainValidations.perSecond).toFixed(2)}x`,
  );
  console.log(`redemptions, 2 API processes / 1: ${(redemptions.get(2)!.perSecond / redemptions.get(1)!.perSecond).toFixed(2)}x`);
}

function expiryRows(o: { lots: number }, e: Awaited<ReturnType<typeof expiry>>): [string, RunResult][] {
  return [
    ['redemptions, points without expiry: HTTP, 64 residents', e.plain],
    ['redemptions, points in 12 expiring lots: HTTP, 64 residents', e.expiring],
    [`crediting ${o.lots} lots (batches of 1000 accruals)`, e.credit],
    [`expiring those ${o.lots} lots (the expiry run)`, e.expire],
  ];
}

function printExpiryRatios(e: Awaited<ReturnType<typeof expiry>>): void {
  console.log(`ratio redemptions with expiring lots / without: ${(e.expiring.perSecond / e.plain.perSecond).toFixed(2)}x (target >= 0.9x)`);
  console.log(`expiring the lots took ${(e.expire.seconds / e.credit.seconds).toFixed(2)}x the time crediting them did (target <= 1x)`);
}

main().catch((error: unknown) => {
  // a bad option or --help: commander has said what there is to say
  if (error instanceof CommanderError) process.exit(error.exitCode);
  console.error(error);
  process.exit(1);
});
