import { INestApplicationContext } from '@nestjs/common';
import { Decimal } from '../common/money';
import { DomainError } from '../common/errors';
import { EarnSweeper } from '../earning/earn-sweeper.cron';
import { EarnEventInput, EarningService, MAX_BATCH } from '../earning/earning.service';
import { PrismaService } from '../infra/database/prisma.service';
import { PartnersService } from '../partners/partners.service';
import { RedemptionService } from '../redemption/redemption.service';
import { Progress } from '../cli/progress';

/** What a day of the city did, for the summary. */
export interface DayReport {
  run: string;
  residents: string[];
  sent: number;
  intake: Record<'accepted' | 'duplicate' | 'rejected', number>;
  bySource: Record<string, number>;
  outcomes: Record<string, number>;
  confirmed: number;
  rejectedReports: number;
  revoked: { externalId: string; residentId: string } | null;
  redemptions: Record<string, number>;
  refusals: Record<string, number>;
  codes: { itemId: string; partnerId: string; code: string; used: boolean }[];
  tillRedemptions: number;
  tillRefusals: Record<string, number>;
  donations: { fundId: string; points: Decimal }[];
}

export interface DayOptions {
  /** how many earn events the participation services send */
  events: number;
  /** a bar per long step (the CLI's progress bars; silent where there is no terminal) */
  progress: (title: string, total: number, unit?: string) => Progress;
  /** a fixed seed gives the same day twice (tests) */
  seed?: number;
}

/** Deterministic pseudo-random numbers (mulberry32): the same seed plays the same day. */
function randomFrom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const count = (bag: Record<string, number>, key: string, n = 1) => {
  bag[key] = (bag[key] ?? 0) + n;
};

/** Which item a resident picks, with its partner, and what a donation gives. */
const SHOPPING = [
  { itemId: 'coffee-20', partnerId: 'coffee-chain', weight: 4 },
  { itemId: 'book-10', partnerId: 'book-shop', weight: 2 },
  { itemId: 'museum-night', partnerId: 'city-museum', weight: 2 },
  { itemId: 'park-day', partnerId: 'central-park', weight: 2 },
];
const FUNDS = [
  { itemId: 'shelter', fundId: 'animal-shelter' },
  { itemId: 'children', fundId: 'children-fund' },
];

/**
 * A day of the city, through the same services the API calls: the participation services send
 * their events in batches (votes, novelty ratings, problem reports awaiting confirmation, ideas,
 * tasks, with a retried batch and a few events no rule pays for); the reports are confirmed or
 * rejected; one vote is annulled and its points revoked; residents redeem promo codes and
 * tickets and donate; partners redeem codes at their tills.
 */
export async function playDay(app: INestApplicationContext, residents: string[], options: DayOptions): Promise<DayReport> {
  const random = randomFrom(options.seed ?? Date.now());
  const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)];
  const run = `day-${Date.now().toString(36)}`;
  const earning = app.get(EarningService);
  const report: DayReport = {
    run,
    residents,
    sent: 0,
    intake: { accepted: 0, duplicate: 0, rejected: 0 },
    bySource: {},
    outcomes: {},
    confirmed: 0,
    rejectedReports: 0,
    revoked: null,
    redemptions: {},
    refusals: {},
    codes: [],
    tillRedemptions: 0,
    tillRefusals: {},
    donations: [],
  };

  // the events of the day, in the morning-to-now order the services send them
  const bySource = new Map<string, EarnEventInput[]>();
  const dayStart = Date.now() - 10 * 3600_000;
  for (let i = 0; i < options.events; i++) {
    const residentId = pick(residents);
    const occurredAt = new Date(dayStart + (i / options.events) * 10 * 3600_000);
    const externalId = `${run}-${i}`;
    const r = random();
    const [sourceId, event]: [string, Omit<EarnEventInput, 'externalId' | 'residentId' | 'occurredAt'>] =
      r < 0.5
        ? ['active-citizen', { type: 'vote.cast', attributes: { description: `Vote in poll ${100 + Math.floor(random() * 40)}` } }]
        : r < 0.64
          ? ['active-citizen', { type: 'novelty.rated' }]
          : r < 0.65
            ? ['active-citizen', { type: 'vote.withdrawn' }] // no rule pays for it: rejected at intake
            : r < 0.85
              ? [
                  'our-city',
                  {
                    type: 'report.confirmed',
                    status: 'pending',
                    attributes: {
                      description: `Report ${5000 + i}: ${pick(['broken street lamp', 'unswept yard', 'pothole', 'graffiti'])}`,
                    },
                  },
                ]
              : r < 0.95
                ? ['city-ideas', { type: 'idea.accepted' }]
                : [
                    'city-tasks',
                    {
                      type: 'task.done',
                      attributes: { points: String(50 * (1 + Math.floor(random() * 10))), description: 'Park clean-up' },
                    },
                  ];
    const list = bySource.get(sourceId) ?? [];
    list.push({ externalId, residentId, occurredAt, ...event });
    bySource.set(sourceId, list);
  }

  const sending = options.progress('earn events sent', options.events, 'events');
  const send = async (sourceId: string, batch: EarnEventInput[], first: boolean) => {
    for (const result of await earning.accept(sourceId, batch)) {
      count(report.intake, result.status);
      if (first) count(report.bySource, sourceId);
    }
    report.sent += batch.length;
  };
  for (const [sourceId, events] of bySource) {
    for (let start = 0; start < events.length; start += MAX_BATCH) {
      const batch = events.slice(start, start + MAX_BATCH);
      await send(sourceId, batch, true);
      sending.tick(batch.length);
    }
  }
  // the reports portal timed out on its first batch and sends the start of it again: duplicates
  const retried = (bySource.get('our-city') ?? []).slice(0, 25);
  if (retried.length) await send('our-city', retried, false);
  sending.stop();

  await processEverything(app, run, report.intake.accepted, options);

  // the city's services answer the reports: most are confirmed, some rejected, a few still open
  const reports = (bySource.get('our-city') ?? []).map((e) => e.externalId);
  const answering = options.progress('reports answered', reports.length, 'reports');
  for (const externalId of reports) {
    const r = random();
    try {
      if (r < 0.8) {
        await earning.confirm('our-city', externalId);
        report.confirmed++;
      } else if (r < 0.9) {
        await earning.reject('our-city', externalId);
        report.rejectedReports++;
      }
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
    }
    answering.tick();
  }
  answering.stop();

  // a vote found to be cast twice is annulled: its accrual is reversed
  const votes = (bySource.get('active-citizen') ?? []).filter((e) => e.type === 'vote.cast');
  for (const vote of votes) {
    const found = await earning.get('active-citizen', vote.externalId);
    if (found.status !== 'posted') continue;
    await earning.revoke('active-citizen', vote.externalId);
    report.revoked = { externalId: vote.externalId, residentId: vote.residentId };
    break;
  }

  // residents spend: promo codes and tickets, and donations
  const redemption = app.get(RedemptionService);
  const shoppers = Math.max(10, Math.round(options.events / 20));
  const weighted = SHOPPING.flatMap((s) => Array.from({ length: s.weight }, () => s));
  const spending = options.progress('redemptions', shoppers, 'residents');
  for (let i = 0; i < shoppers; i++) {
    const residentId = pick(residents);
    try {
      if (i % 8 === 7) {
        const fund = pick(FUNDS);
        const amount = new Decimal(10 * (1 + Math.floor(random() * 10)));
        await redemption.donate(residentId, fund.itemId, amount);
        const seen = report.donations.find((d) => d.fundId === fund.fundId);
        if (seen) seen.points = seen.points.plus(amount);
        else report.donations.push({ fundId: fund.fundId, points: amount });
        count(report.redemptions, fund.itemId);
      } else {
        const choice = pick(weighted);
        const done = await redemption.redeem(residentId, choice.itemId);
        for (const c of done.codes) report.codes.push({ itemId: choice.itemId, partnerId: choice.partnerId, code: c.code, used: false });
        count(report.redemptions, choice.itemId);
      }
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      count(report.refusals, error.code);
    }
    spending.tick();
  }
  spending.stop();

  // the partners' tills: most codes are used the same day; one is presented twice
  const partners = app.get(PartnersService);
  const used = report.codes.filter(() => random() < 0.6);
  const tills = options.progress('codes redeemed at tills', used.length + (used.length ? 1 : 0), 'codes');
  for (const c of used) {
    await partners.redeem(c.partnerId, c.code);
    c.used = true;
    report.tillRedemptions++;
    tills.tick();
  }
  if (used.length) {
    try {
      await partners.redeem(used[0].partnerId, used[0].code);
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      count(report.tillRefusals, error.code);
    }
    tills.tick();
  }
  tills.stop();

  report.outcomes = await outcomesOf(app, run);
  return report;
}

/**
 * Waits until every accepted event is processed: in-process batches, or Bull jobs with Redis,
 * with the sweeper picking up anything left. Counting its own run's events straight from the
 * table is the demo's privilege: the service itself never needs to wait like this.
 */
async function processEverything(app: INestApplicationContext, run: string, accepted: number, options: DayOptions): Promise<void> {
  const prisma = app.get(PrismaService);
  const sweeper = app.get(EarnSweeper);
  const bar = options.progress('earn events processed', accepted, 'events');
  let done = 0;
  for (;;) {
    const waiting = await prisma.earnEvent.count({ where: { externalId: { startsWith: `${run}-` }, status: 'received' } });
    bar.tick(accepted - waiting - done);
    done = accepted - waiting;
    if (waiting === 0) break;
    await new Promise((r) => setTimeout(r, 200));
    await sweeper.sweep(new Date(Date.now() + 1000));
  }
  bar.stop();
}

async function outcomesOf(app: INestApplicationContext, run: string): Promise<Record<string, number>> {
  const groups = await app.get(PrismaService).earnEvent.groupBy({
    by: ['status'],
    where: { externalId: { startsWith: `${run}-` } },
    _count: true,
  });
  return Object.fromEntries(groups.map((g) => [g.status, g._count]));
}
