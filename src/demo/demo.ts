import { INestApplication } from '@nestjs/common';
import type { Writable } from 'node:stream';
import { ReconciliationRun, ReconciliationService } from '../audit/reconciliation.service';
import { SealService } from '../audit/seal.service';
import { ApiClientsService } from '../auth/api-clients.service';
import { ClientRole } from '../common/principal';
import { signResidentToken } from '../auth/domain/resident-token';
import { DomainError } from '../common/errors';
import { Decimal } from '../common/money';
import { AdjustmentsService } from '../ledger/adjustments.service';
import { residentAccount } from '../ledger/domain/account';
import { expiryOf } from '../ledger/domain/expiry';
import { LedgerReadService } from '../ledger/ledger-read.service';
import { LedgerService } from '../ledger/ledger.service';
import { AppConfig } from '../config/config';
import { PartnerKind } from '../programme/domain/partner';
import { ProgrammeService } from '../programme/programme.service';
import { EarningAdminService } from '../earning/earning-admin.service';
import { CatalogueService } from '../catalogue/catalogue.service';
import { CategoriesService } from '../catalogue/categories.service';
import { DemoSignIn, DemoSignIns } from '../pages/demo-sign-ins';
import { Progress, progressBar } from '../cli/progress';
import { PublicStatsService } from '../public/public-stats.service';
import { WebhooksService } from '../webhooks/webhooks.service';
import { DayReport, playDay } from './day';
import { DemoWebhookReceiver } from './webhook-receiver';

const ACTOR = 'demo';

export const DEMO_SOURCES = [
  { id: 'our-city', name: 'Our City: problem reports' },
  { id: 'active-citizen', name: 'Active Citizen: city votes' },
  { id: 'city-ideas', name: 'City of Ideas' },
  { id: 'city-tasks', name: 'City Tasks' },
];

export const DEMO_PARTNERS: { id: string; name: string; kind: PartnerKind }[] = [
  { id: 'coffee-chain', name: 'Coffee Chain', kind: 'cafe' },
  { id: 'book-shop', name: 'Book Shop', kind: 'shop' },
  { id: 'city-museum', name: 'City Museum', kind: 'museum' },
  { id: 'central-park', name: 'Central Park', kind: 'park' },
  { id: 'children-fund', name: "Children's Fund", kind: 'charity' },
  { id: 'animal-shelter', name: 'Animal Shelter', kind: 'charity' },
  { id: 'drama-theatre', name: 'Drama Theatre', kind: 'other' },
  { id: 'city-transport', name: 'City Transport', kind: 'other' },
];

/** The catalogue's categories, in the order residents see them. */
export const DEMO_CATEGORIES = [
  { id: 'cafes', names: { ru: 'Кафе и рестораны', en: 'Cafes and restaurants' }, position: 10 },
  { id: 'shops', names: { ru: 'Магазины', en: 'Shops' }, position: 20 },
  { id: 'museums', names: { ru: 'Музеи', en: 'Museums' }, position: 30 },
  { id: 'parks', names: { ru: 'Парки', en: 'Parks' }, position: 40 },
  { id: 'theatres', names: { ru: 'Театры', en: 'Theatres' }, position: 50 },
  { id: 'transport', names: { ru: 'Транспорт', en: 'Transport' }, position: 60 },
  { id: 'charity', names: { ru: 'Благотворительность', en: 'Charity' }, position: 70 },
];

/** The programme's earning rules, as the seeds describe them. */
const DEMO_RULES = [
  { id: 'vote', sourceId: 'active-citizen', eventType: 'vote.cast', title: 'Vote in a city poll', points: 20 },
  { id: 'novelty', sourceId: 'active-citizen', eventType: 'novelty.rated', title: 'Rated a city novelty', points: 3, dailyCap: 30 },
  {
    id: 'report',
    sourceId: 'our-city',
    eventType: 'report.confirmed',
    title: 'Confirmed problem report',
    points: 50,
    requiresConfirmation: true,
  },
  { id: 'idea', sourceId: 'city-ideas', eventType: 'idea.accepted', title: 'Accepted idea', points: 100 },
  { id: 'task', sourceId: 'city-tasks', eventType: 'task.done', title: 'City task', points: 50, minPoints: 50, maxPoints: 15000 },
];

export const DEMO_RESIDENTS: [string, number][] = [
  ['anna', 500],
  ['boris', 250],
  ['vera', 1200],
];

/** The autumn season: votes on city projects earn half as much again. */
const DEMO_CAMPAIGN = {
  id: 'autumn-votes',
  name: 'Autumn of city projects: votes x1.5',
  sourceId: 'active-citizen',
  eventType: 'vote.cast',
  multiplier: '1.5',
};

export interface DemoOptions {
  /** earn events in the day of the city (default 5000) */
  events: number;
  /** where the summary goes (stdout) */
  out?: Writable;
  /** progress bars (on stderr when it is a terminal) */
  progress?: (title: string, total: number, unit?: string) => Progress;
  /** a fixed seed plays the same day */
  seed?: number;
  /** where the service's log lines go, named in the summary */
  logFile?: string;
}

/** `--events N` on the demo's command line. */
export function demoOptionsOf(args: string[]): DemoOptions {
  const at = args.indexOf('--events');
  const events = at >= 0 ? Number(args[at + 1]) : 5000;
  if (!Number.isInteger(events) || events < 10 || events > 1_000_000) throw new Error('--events must be a whole number from 10 to 1000000');
  return { events };
}

/**
 * The demo: seeds the programme (idempotent: a restart keeps what the embedded database holds),
 * plays a day of the city, runs a reconciliation, issues fresh keys and prints a summary with
 * where to start. Returns the reconciliation run.
 */
export async function seedDemo(
  app: INestApplication,
  config: AppConfig,
  baseUrl: string,
  options: DemoOptions,
): Promise<ReconciliationRun> {
  const out = options.out ?? process.stdout;
  const progress = options.progress ?? progressBar;
  const ledger = app.get(LedgerReadService);

  const residents = await seedProgramme(app, Math.max(20, Math.round(options.events / 20)), progress);
  const receiver = config.webhooks.allowPrivate ? await startReceiver(app) : null;
  const day = await playDay(app, residents, { events: options.events, progress, seed: options.seed });
  // after the day (whose spends take the soonest-expiring points first): boris has points that
  // expire at the end of this month (once: a restarted demo keeps them)
  const points = app.get(LedgerService);
  const monthEnd = expiryOf(new Date(), 0, 'month_end')!;
  if (!(await points.expiring(residentAccount('boris'))).some((e) => e.expiresAt.getTime() === monthEnd.getTime())) {
    await app.get(AdjustmentsService).adjust(ACTOR, 'boris', new Decimal(80), 'demo: bonus points that expire this month', monthEnd);
  }

  // what the day made is sealed now, not a minute or two later: a proof asked for right after the
  // summary works (every write of the demo has committed by here)
  await app.get(SealService).seal(new Date());
  const reconciliation = app.get(ReconciliationService);
  let run = await reconciliation.start(ACTOR);
  while (run.status === 'running') {
    await new Promise((r) => setTimeout(r, 200));
    run = await reconciliation.get(run.id);
  }

  const apiClients = app.get(ApiClientsService);
  await revokeEarlierKeys(apiClients);
  const issue = async (name: string, role: ClientRole, binding: { sourceId?: string; partnerId?: string } = {}) =>
    (await apiClients.create(ACTOR, { name: `demo ${name}`, role, ...binding })).apiKey;
  const keys: [string, string][] = [
    ['admin', await issue('admin', 'admin')],
    ['auditor', await issue('auditor', 'auditor')],
    ...(await Promise.all(
      DEMO_SOURCES.map(async (s): Promise<[string, string]> => [`source ${s.id}`, await issue(s.id, 'source', { sourceId: s.id })]),
    )),
    ...(await Promise.all(
      DEMO_PARTNERS.map(async (p): Promise<[string, string]> => [`partner ${p.id}`, await issue(p.id, 'partner', { partnerId: p.id })]),
    )),
  ];
  const named = await ledger.residentBalances(DEMO_RESIDENTS.map(([id]) => id));
  const tokens = DEMO_RESIDENTS.map(([id]) => [
    `${id} (${named.get(id)!.available.toFixed()} points)`,
    signResidentToken(id, config.residentJwtSecret!, 24 * 3600),
  ]);
  const unusedCode = day.codes.find((c) => !c.used);
  await registerDemoSignIns(app, keys);

  const lines = [
    '',
    ...(await summaryOf(app, day, run)),
    `  webhooks        ${receiver ? await deliveriesOf(app, receiver.receiver, receiver.url) : 'no demo receiver (it runs on 127.0.0.1: WEBHOOK_ALLOW_PRIVATE=true)'}`,
    '',
    'Civic points ledger: demo programme ready',
    `  database      ${config.database.url ? 'PostgreSQL (DATABASE_URL)' : `embedded PostgreSQL in ${config.database.dataDir}`}`,
    `  queue         ${config.redisUrl ? 'Bull on Redis' : 'in-process (no Redis)'}`,
    ...(options.logFile
      ? [`  log           ${options.logFile} (JSON lines, level ${config.logLevel}; LOG_LEVEL=info for every request)`]
      : []),
    '',
    `  API docs      ${baseUrl}/docs`,
    `  OpenAPI       ${baseUrl}/docs/openapi.json`,
    `  health        ${baseUrl}/health/ready`,
    `  metrics       ${baseUrl}/metrics`,
    `  queues        ${config.redisUrl ? `${baseUrl}/admin/queues (user admin, password: the admin key)` : 'Bull Board needs Redis (REDIS_URL)'}`,
    `  statistics    ${baseUrl}/v1/public/stats`,
    '',
    'Pages (Russian; add ?lang=en for English):',
    `  sign in       ${baseUrl}/app/login  (one click as a demo resident, partner, auditor or admin; or paste a key or token below)`,
    `  residents     ${baseUrl}/app  (balance, catalogue by category, redeem, my codes, donate)`,
    `  partners      ${baseUrl}/app/till  (the till: type or scan a code, press Enter, then «Погасить»)`,
    `  finance       ${baseUrl}/app/finance  (auditors and admins)`,
    '',
    "API keys (X-API-Key header; shown once, made afresh at each start, which revokes the last start's):",
    ...keys.map(([who, key]) => `  ${who.padEnd(24)} ${key}`),
    '',
    'Resident tokens (Authorization: Bearer ..., valid 24 hours):',
    ...tokens.map(([who, token]) => `  ${who.padEnd(20)} ${token}`),
    '',
    'The variables the examples of docs/api.md use (paste into a shell):',
    `  export ${shellVariables(keys, tokens[0][1])}`,
    '',
    'Try:',
    `  curl ${baseUrl}/v1/catalogue`,
    `  curl -H "Authorization: Bearer ${tokens[0][1]}" ${baseUrl}/v1/me/balance`,
    `  curl -X POST -H "Authorization: Bearer ${tokens[0][1]}" -H "Idempotency-Key: $(date +%s%N)" -H 'Content-Type: application/json' -d '{"itemId":"coffee-20"}' ${baseUrl}/v1/me/redemptions`,
    `  curl -H "X-API-Key: ${keys[1][1]}" ${baseUrl}/v1/audit/trial-balance`,
    `  curl -H "X-API-Key: ${keys[1][1]}" ${baseUrl}/v1/audit/reconciliations/${run.id}`,
    ...(unusedCode
      ? [
          `  curl -H "X-API-Key: ${keys.find(([who]) => who === `partner ${unusedCode.partnerId}`)![1]}" ${baseUrl}/v1/partner/codes/${unusedCode.code}`,
        ]
      : []),
    '',
    'Serving until Ctrl-C.',
  ];
  out.write(lines.join('\n') + '\n');
  return run;
}

/**
 * One-click sign-ins on /app/login, for the demo only: its three named residents and the holders
 * of the keys it just made (admin, auditor, each partner).
 */
async function registerDemoSignIns(app: INestApplication, keys: [string, string][]): Promise<void> {
  const apiClients = app.get(ApiClientsService);
  const entries: DemoSignIn[] = DEMO_RESIDENTS.map(([id]) => ({
    id,
    label: id,
    role: 'resident' as const,
    user: { kind: 'resident' as const, residentId: id },
  }));
  for (const [who, key] of keys) {
    const p = await apiClients.authenticate(key);
    if (p.role === 'source') continue;
    const label = p.partnerId ? (DEMO_PARTNERS.find((d) => d.id === p.partnerId)?.name ?? p.partnerId) : who;
    entries.push({
      id: who.replace(/\s+/g, '-'),
      label,
      role: p.role,
      user: { kind: 'client', role: p.role, name: label, clientId: p.clientId, partnerId: p.partnerId },
    });
  }
  app.get(DemoSignIns).register(entries);
}

/** Sources, partners, rules, the season's campaign, the catalogue with its code pools, residents. */
async function seedProgramme(app: INestApplication, generatedResidents: number, progress: typeof progressBar): Promise<string[]> {
  const programme = app.get(ProgrammeService);
  const ledger = app.get(LedgerReadService);
  const adjustments = app.get(AdjustmentsService);
  for (const source of DEMO_SOURCES) await ignoreExisting(() => programme.createSource(ACTOR, source));
  for (const partner of DEMO_PARTNERS) await ignoreExisting(() => programme.createPartner(ACTOR, partner));

  const earningAdmin = app.get(EarningAdminService);
  for (const r of DEMO_RULES) {
    await ignoreExisting(() =>
      earningAdmin.createRule({
        id: r.id,
        sourceId: r.sourceId,
        eventType: r.eventType,
        title: r.title,
        points: new Decimal(r.points),
        minPoints: r.minPoints ? new Decimal(r.minPoints) : null,
        maxPoints: r.maxPoints ? new Decimal(r.maxPoints) : null,
        requiresConfirmation: r.requiresConfirmation ?? false,
        dailyCap: r.dailyCap ? new Decimal(r.dailyCap) : null,
        monthlyCap: null,
        validFrom: null,
        validTo: null,
      }),
    );
  }
  const day = 24 * 3600_000;
  await ignoreExisting(() =>
    earningAdmin.createCampaign({
      ...DEMO_CAMPAIGN,
      multiplier: new Decimal(DEMO_CAMPAIGN.multiplier),
      validFrom: new Date(Date.now() - 7 * day),
      validTo: new Date(Date.now() + 60 * day),
    }),
  );

  // the catalogue: promo codes from partners' pools, tickets with generated codes, two funds
  const catalogue = app.get(CatalogueService);
  const categories = app.get(CategoriesService);
  for (const category of DEMO_CATEGORIES) await ignoreExisting(() => categories.create(category));
  const none = {
    stock: null,
    perResidentLimit: null,
    codeValidDays: null,
    activeFrom: null,
    activeTo: null,
    minPoints: null,
    maxPoints: null,
    cancelWindowHours: 24,
  };
  const items = [
    {
      ...none,
      id: 'coffee-20',
      kind: 'PROMO_CODE' as const,
      title: '20% off any coffee',
      partnerId: 'coffee-chain',
      pricePoints: new Decimal(100),
      codeSource: 'POOL' as const,
      codeValidDays: 30,
      perResidentLimit: 2,
      categoryId: 'cafes',
    },
    {
      ...none,
      id: 'book-10',
      kind: 'PROMO_CODE' as const,
      title: '10% off any book',
      partnerId: 'book-shop',
      pricePoints: new Decimal(150),
      codeSource: 'POOL' as const,
      codeValidDays: 60,
      categoryId: 'shops',
    },
    {
      ...none,
      id: 'museum-night',
      kind: 'TICKET' as const,
      title: 'Night at the City Museum',
      partnerId: 'city-museum',
      pricePoints: new Decimal(300),
      codeSource: 'GENERATED' as const,
      stock: 100,
      codeValidDays: 14,
      categoryId: 'museums',
    },
    {
      ...none,
      id: 'park-day',
      kind: 'TICKET' as const,
      title: 'A day at Central Park’s attractions',
      partnerId: 'central-park',
      pricePoints: new Decimal(200),
      codeSource: 'GENERATED' as const,
      codeValidDays: 30,
      perResidentLimit: 4,
      categoryId: 'parks',
    },
    {
      ...none,
      id: 'theatre-matinee',
      kind: 'TICKET' as const,
      title: 'A matinee at the Drama Theatre',
      partnerId: 'drama-theatre',
      pricePoints: new Decimal(400),
      codeSource: 'GENERATED' as const,
      stock: 50,
      codeValidDays: 21,
      perResidentLimit: 2,
      categoryId: 'theatres',
    },
    {
      ...none,
      id: 'transit-rides',
      kind: 'PROMO_CODE' as const,
      title: 'Five rides on city transport',
      partnerId: 'city-transport',
      pricePoints: new Decimal(120),
      codeSource: 'GENERATED' as const,
      codeValidDays: 30,
      categoryId: 'transport',
    },
    {
      ...none,
      id: 'shelter',
      kind: 'DONATION' as const,
      title: 'Help the animal shelter',
      partnerId: 'animal-shelter',
      pricePoints: null,
      codeSource: null,
      minPoints: new Decimal(10),
      maxPoints: new Decimal(5000),
      categoryId: 'charity',
    },
    {
      ...none,
      id: 'children',
      kind: 'DONATION' as const,
      title: 'Books for children’s hospitals',
      partnerId: 'children-fund',
      pricePoints: null,
      codeSource: null,
      minPoints: new Decimal(10),
      maxPoints: new Decimal(5000),
      categoryId: 'charity',
    },
  ];
  for (const item of items) await ignoreExisting(() => catalogue.createItem(item));
  // a database seeded before categories existed: every item in its category all the same
  for (const item of items)
    if ((await catalogue.getItem(item.id)).categoryId !== item.categoryId)
      await catalogue.updateItem(item.id, { categoryId: item.categoryId });
  const pool = Math.max(50, generatedResidents);
  await catalogue.uploadCodes(
    'coffee-20',
    Array.from({ length: pool }, (_, i) => `COFFEE-${String(i + 1).padStart(5, '0')}`),
  );
  await catalogue.uploadCodes(
    'book-10',
    Array.from({ length: pool }, (_, i) => `BOOK-${String(i + 1).padStart(5, '0')}`),
  );

  // residents start with some points (once: a restarted demo keeps what they have)
  const residents = [
    ...DEMO_RESIDENTS.map(([id]) => id),
    ...Array.from({ length: generatedResidents }, (_, i) => `resident-${String(i + 1).padStart(4, '0')}`),
  ];
  const welcome = new Map(DEMO_RESIDENTS);
  // points expire a year after they are credited, at that month's end; residents hear of it two weeks before
  const points = app.get(LedgerService);
  await points.setExpiryPolicy({ afterDays: 365, roundUpTo: 'month_end', noticeDays: 14 });
  const balances = await ledger.balancesOf(residents.map(residentAccount), 'POINTS');
  const bar = progress('welcome points', residents.length, 'residents');
  for (const id of residents) {
    if (!balances.get(residentAccount(id))?.posted.gt(0))
      await adjustments.adjust(ACTOR, id, new Decimal(welcome.get(id) ?? 100), 'demo welcome points');
    bar.tick();
  }
  bar.stop();
  return residents;
}

/** Who earned what, what was spent where, and whether the books hold. */
async function summaryOf(app: INestApplication, day: DayReport, run: ReconciliationRun): Promise<string[]> {
  const ledger = app.get(LedgerReadService);
  const stats = await app.get(PublicStatsService).stats();
  const balances = [...(await ledger.residentBalances(day.residents)).values()].sort((a, b) => b.available.comparedTo(a.available));
  const list = (bag: Record<string, number>) =>
    Object.entries(bag)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ') || 'none';
  const failed = run.checks.filter((c) => !c.passed);
  return [
    `A day of the city (${day.run})`,
    `  earn events     ${day.sent} sent: ${list(day.intake)}`,
    `  by source       ${list(day.bySource)}`,
    `  processed       ${list(day.outcomes)}; reports confirmed ${day.confirmed}, rejected ${day.rejectedReports}`,
    `  revoked vote    ${day.revoked ? `${day.revoked.externalId} of ${day.revoked.residentId} (annulled; its accrual reversed)` : 'none'}`,
    `  top residents   ${balances
      .slice(0, 5)
      .map((b) => `${b.residentId} ${b.available.toFixed()}`)
      .join(', ')}`,
    `  redemptions     ${list(day.redemptions)}; refused: ${list(day.refusals)}`,
    `  at the tills    ${day.tillRedemptions} code(s) redeemed by partners; refused: ${list(day.tillRefusals)}`,
    `  donations       ${day.donations.map((d) => `${d.fundId} ${d.points.toFixed()}`).join(', ') || 'none'}`,
    `  programme       issued ${stats.issued.toFixed()}, redeemed ${stats.redeemed.toFixed()}, donated ${stats.donated.reduce((s, d) => s.plus(d.points), new Decimal(0)).toFixed()}, outstanding ${stats.outstanding.toFixed()} points; ${stats.residentsWithBalance} residents hold points`,
    `  reconciliation  ${run.id}: ${run.status}, ${run.checks.length - failed.length} of ${run.checks.length} checks passed${failed.length ? ` (FAILED: ${failed.map((c) => c.name).join(', ')})` : ''}`,
  ];
}

/** The names of the keys the demo issues at each start. */
const DEMO_KEY_NAMES = new Set(
  ['admin', 'auditor', ...DEMO_SOURCES.map((s) => s.id), ...DEMO_PARTNERS.map((p) => p.id)].map((n) => `demo ${n}`),
);

/**
 * A restarted demo makes fresh keys (they are shown once, and a key is stored only as a hash), so
 * it revokes the ones an earlier start made: keys never pile up live in ./data. Resident tokens
 * of an earlier start stop working with it too, unless RESIDENT_JWT_SECRET is set.
 */
async function revokeEarlierKeys(apiClients: ApiClientsService): Promise<void> {
  const live: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await apiClients.list(500, cursor);
    live.push(...page.items.filter((c) => c.revokedAt === null && DEMO_KEY_NAMES.has(c.name)).map((c) => c.id));
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  for (const id of live) await apiClients.revoke(ACTOR, id);
}

/** ADMIN, AUDITOR, SOURCE (votes), REPORTS (problem reports), PARTNER (coffee-chain), TOKEN (anna). */
function shellVariables(keys: [string, string][], token: string): string {
  const key = (who: string) => keys.find(([w]) => w === who)![1];
  return [
    ['ADMIN', key('admin')],
    ['AUDITOR', key('auditor')],
    ['SOURCE', key('source active-citizen')],
    ['REPORTS', key('source our-city')],
    ['PARTNER', key('partner coffee-chain')],
    ['TOKEN', token],
  ]
    .map(([name, value]) => `${name}=${value}`)
    .join(' ');
}

const DEMO_RECEIVER = 'demo receiver (the city notification service)';

/**
 * A receiver on 127.0.0.1 and an unscoped webhook to it for every event the day produces. The
 * previous start's demo webhook (its receiver gone with that process) is deleted first.
 */
async function startReceiver(app: INestApplication): Promise<{ receiver: DemoWebhookReceiver; url: string }> {
  const webhooks = app.get(WebhooksService);
  let cursor: string | undefined;
  do {
    const page = await webhooks.list(100, cursor);
    for (const old of page.items.filter((w) => w.description === DEMO_RECEIVER)) await webhooks.delete(ACTOR, old.id);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  const receiver = new DemoWebhookReceiver();
  const url = await receiver.start();
  const { secret } = await webhooks.create(ACTOR, {
    url,
    description: DEMO_RECEIVER,
    events: [
      'earn_event.posted',
      'earn_event.rejected',
      'earn_event.revoked',
      'redemption.created',
      'redemption.cancelled',
      'code.redeemed',
      'donation.created',
      'reconciliation.failed',
    ],
  });
  receiver.secret = secret;
  return { receiver, url };
}

/** What reached the demo receiver, once the outbox has drained (or 30 s have passed). */
async function deliveriesOf(app: INestApplication, receiver: DemoWebhookReceiver, url: string): Promise<string> {
  const webhooks = app.get(WebhooksService);
  const deadline = Date.now() + 30_000;
  while ((await webhooks.backlog()).pending > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  const byType = [...receiver.received.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([type, n]) => `${type} ${n}`)
    .join(', ');
  return `${receiver.total} delivered to ${url}, signatures verified (${byType || 'none'})${receiver.rejected ? `; ${receiver.rejected} REFUSED` : ''}`;
}

async function ignoreExisting(create: () => Promise<unknown>): Promise<void> {
  try {
    await create();
  } catch (error) {
    if (!(error instanceof DomainError && error.code === 'already_exists')) throw error;
  }
}
