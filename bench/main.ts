import 'reflect-metadata';
import { CommanderError } from 'commander';
import { processArgs } from '../src/config/config';
import { EARN_BATCH, parseOptions } from './options';
import { catalogue } from './scenarios/catalogue';
import { earnIngest } from './scenarios/earn-ingest';
import { ledgerService } from './scenarios/ledger-service';
import { batchedCeiling, rowAtATimeFloor } from './scenarios/plain-sql';
import { readScenarios, soakLoad } from './scenarios/reads';
import { reconciliation } from './scenarios/reconciliation';
import { webhooks } from './scenarios/webhooks';
import { RunResult, table } from './stats';
import { benchDatabaseUrl, dropDatabase, recreateDatabase } from './support/database';
import { startService } from './support/service';

/**
 * `npm run bench`: the ledger's speed, measured against the plainest SQL doing the same work in
 * the same run, so that the ratio holds on a noisy machine. Its options: `npm run bench -- --help`
 * (docs/performance.md). One file per scenario under bench/scenarios/.
 */
async function main(): Promise<void> {
  const o = parseOptions(processArgs());
  const url = benchDatabaseUrl(o.database, o.databaseName);
  await recreateDatabase(o.database, o.databaseName);

  if (o.only === 'reconcile') {
    const reconcile = await reconciliation(o, url);
    if (!o.keep) await dropDatabase(o.database, o.databaseName);
    console.log(table([[`reconciliation of ${o.reconcile} postings (one run)`, reconcile]]));
    return;
  }
  if (o.only === 'earn') {
    const floor = await rowAtATimeFloor(o, url);
    const service_ = await startService(o, url);
    const ingest = await earnIngest(o, service_);
    await service_.app.close();
    await dropDatabase(o.database, o.databaseName);
    console.log(
      table([
        [`earn ingest: HTTP batches of ${EARN_BATCH} until posted (events)`, ingest],
        ['floor: plain SQL, one transfer per transaction', floor],
      ]),
    );
    console.log(`ratio earn ingest / row-at-a-time floor: ${(ingest.perSecond / floor.perSecond).toFixed(2)}x (target 10x)`);
    return;
  }
  if (o.only === 'ledger') {
    // the ledger service's single writes beside the floor, in one run, in the full run's order
    const floor = await rowAtATimeFloor(o, url);
    const service = await ledgerService(o, url);
    await dropDatabase(o.database, o.databaseName);
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
    const service_ = await startService(o, url);
    const w = await webhooks(o, service_);
    console.log(
      table([
        [`earn ingest, no webhook (events)`, w.without[0]],
        [`earn ingest, one webhook on earn_event.posted (events)`, w.withWebhook],
        [`earn ingest, no webhook again (events)`, w.without[1]],
        ['outbox drain: deliveries to a local receiver, first to last', w.drain],
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
    await service_.app.close();
    await dropDatabase(o.database, o.databaseName);
    return;
  }
  if (o.only === 'catalogue') {
    const service_ = await startService(o, url);
    const { redemptions, validations, httpBaseline, plainValidations } = await catalogue(o, service_);
    await service_.app.close();
    await dropDatabase(o.database, o.databaseName);
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
  const soak = o.soak > 0 ? await soakLoad(service_, o.soak) : undefined;
  const rssEnd = process.memoryUsage().rss;
  await service_.app.close();
  const reconcile = o.reconcile > 0 ? await reconciliation(o, url) : undefined;
  await dropDatabase(o.database, o.databaseName);

  const rows: [string, RunResult][] = [
    [`earn ingest: HTTP batches of ${EARN_BATCH} until posted (events)`, ingest],
    ['ledger service: one earn per call', service],
    ['redemptions: HTTP, 64 residents at once', redemptions],
    ['partner validations: HTTP, 32 tills at once', validations],
    ['HTTP baseline: GET /health/live, 32 clients (no database)', httpBaseline],
    ['plain validations: bare node:http + the same SQL, 32 tills', plainValidations],
    ...reads.rows,
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
  const mb = (b: number) => `${(b / 1048576).toFixed(0)} MB`;
  console.log(`RSS of the process serving (and loading) it: ${mb(rssStart)} at the start of the HTTP scenarios, ${mb(rssEnd)} at the end`);
  if (soak)
    console.log(`soak, ${o.soak} s of mixed load at ${soak.perSecond.toFixed(0)} requests/s: RSS ${soak.samples.map(mb).join(' → ')}`);
}

main().catch((error: unknown) => {
  // a bad option or --help: commander has said what there is to say
  if (error instanceof CommanderError) process.exit(error.exitCode);
  console.error(error);
  process.exit(1);
});
