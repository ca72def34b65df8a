import { INestApplication } from '@nestjs/common';
import { ApiClientsService } from '../auth/api-clients.service';
import { ClientRole } from '../auth/domain/principal';
import { signResidentToken } from '../auth/domain/resident-token';
import { DomainError } from '../common/errors';
import { Decimal } from '../common/money';
import { AdjustmentsService } from '../ledger/adjustments.service';
import { LedgerService } from '../ledger/ledger.service';
import { residentAccount } from '../ledger/domain/account';
import { AppConfig } from '../config/config';
import { PartnerKind } from '../programme/domain/partner';
import { ProgrammeService } from '../programme/programme.service';
import { EarningAdminService } from '../earning/earning-admin.service';
import { EarningService } from '../earning/earning.service';
import { EarnSweeper } from '../earning/earn-sweeper.cron';
import { CatalogueService } from '../catalogue/catalogue.service';

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
];

/** The programme's earning rules, as the seeds describe them. */
const DEMO_RULES = [
  { id: 'vote', sourceId: 'active-citizen', eventType: 'vote.cast', title: 'Vote in a city poll', points: 20 },
  { id: 'novelty', sourceId: 'active-citizen', eventType: 'novelty.rated', title: 'Rated a city novelty', points: 3, dailyCap: 30 },
  { id: 'report', sourceId: 'our-city', eventType: 'report.confirmed', title: 'Confirmed problem report', points: 50, requiresConfirmation: true },
  { id: 'idea', sourceId: 'city-ideas', eventType: 'idea.accepted', title: 'Accepted idea', points: 100 },
  { id: 'task', sourceId: 'city-tasks', eventType: 'task.done', title: 'City task', points: 50, minPoints: 50, maxPoints: 15000 },
];

export const DEMO_RESIDENTS: [string, number][] = [
  ['anna', 500],
  ['boris', 250],
  ['vera', 1200],
];

/** Seeds the demo programme (idempotent), issues fresh keys and prints where to start. */
export async function seedDemo(app: INestApplication, config: AppConfig, baseUrl: string): Promise<void> {
  const programme = app.get(ProgrammeService);
  const apiClients = app.get(ApiClientsService);
  const ledger = app.get(LedgerService);
  const adjustments = app.get(AdjustmentsService);

  for (const source of DEMO_SOURCES) await ignoreExisting(() => programme.createSource(ACTOR, source));
  for (const partner of DEMO_PARTNERS) await ignoreExisting(() => programme.createPartner(ACTOR, partner));

  // residents start with some points (once: a restarted demo keeps what they have)
  for (const [id, points] of DEMO_RESIDENTS) {
    const balance = await ledger.balance(residentAccount(id), 'POINTS');
    if (balance.posted.isZero()) await adjustments.adjust(ACTOR, id, new Decimal(points), 'demo welcome points');
  }
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
  // a few events of the day (duplicates on a restart: the ledger accrues each once)
  const earning = app.get(EarningService);
  const at = new Date().toISOString().slice(0, 10);
  await earning.accept('active-citizen', [
    { externalId: `demo-${at}-vote-anna`, type: 'vote.cast', residentId: 'anna', occurredAt: new Date(), attributes: { description: 'Vote in poll 123' } },
    { externalId: `demo-${at}-vote-boris`, type: 'vote.cast', residentId: 'boris', occurredAt: new Date() },
    { externalId: `demo-${at}-novelty-vera`, type: 'novelty.rated', residentId: 'vera', occurredAt: new Date() },
  ]);
  await earning.accept('our-city', [
    { externalId: `demo-${at}-report-anna`, type: 'report.confirmed', residentId: 'anna', occurredAt: new Date(), attributes: { description: 'Broken street lamp, report 42' } },
  ]);
  await earning.accept('city-tasks', [
    { externalId: `demo-${at}-task-vera`, type: 'task.done', residentId: 'vera', occurredAt: new Date(), attributes: { points: '700', description: 'Park clean-up task' } },
  ]);
  await app.get(EarnSweeper).sweep(new Date(Date.now() + 1000));

  // the catalogue: a cafe's promo codes from a pool, museum tickets, a charity donation
  const catalogue = app.get(CatalogueService);
  const none = { stock: null, perResidentLimit: null, codeValidDays: null, activeFrom: null, activeTo: null, minPoints: null, maxPoints: null, cancelWindowHours: 24 };
  await ignoreExisting(() =>
    catalogue.createItem({ ...none, id: 'coffee-20', kind: 'PROMO_CODE', title: '20% off any coffee', partnerId: 'coffee-chain', pricePoints: new Decimal(100), codeSource: 'POOL', codeValidDays: 30, perResidentLimit: 2 }),
  );
  await catalogue.uploadCodes('coffee-20', Array.from({ length: 20 }, (_, i) => `COFFEE-${String(i + 1).padStart(4, '0')}`));
  await ignoreExisting(() =>
    catalogue.createItem({ ...none, id: 'museum-night', kind: 'TICKET', title: 'Night at the City Museum', partnerId: 'city-museum', pricePoints: new Decimal(300), codeSource: 'GENERATED', stock: 100, codeValidDays: 14 }),
  );
  await ignoreExisting(() =>
    catalogue.createItem({ ...none, id: 'shelter', kind: 'DONATION', title: 'Help the animal shelter', partnerId: 'animal-shelter', pricePoints: null, codeSource: null, minPoints: new Decimal(10), maxPoints: new Decimal(5000) }),
  );

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
  const tokens = await Promise.all(
    DEMO_RESIDENTS.map(async ([id]) => {
      const { available } = await ledger.balance(residentAccount(id), 'POINTS');
      return [`${id} (${available.toFixed()} points)`, signResidentToken(id, config.residentJwtSecret!, 24 * 3600)];
    }),
  );

  const lines = [
    '',
    'Civic points ledger: demo programme ready',
    `  database   ${config.database.url ? 'PostgreSQL (DATABASE_URL)' : `embedded PostgreSQL in ${config.database.dataDir}`}`,
    `  queue      ${config.redisUrl ? 'Bull on Redis' : 'in-process'}`,
    '',
    `  API docs   ${baseUrl}/docs`,
    `  OpenAPI    ${baseUrl}/docs/openapi.json`,
    `  health     ${baseUrl}/health/ready`,
    '',
    'API keys (X-API-Key header; shown once, made afresh at each start):',
    ...keys.map(([who, key]) => `  ${who.padEnd(24)} ${key}`),
    '',
    'Resident tokens (Authorization: Bearer ..., valid 24 hours):',
    ...tokens.map(([who, token]) => `  ${who.padEnd(20)} ${token}`),
    '',
    'Try:',
    `  curl -H "X-API-Key: ${keys[0][1]}" ${baseUrl}/v1/audit/trial-balance`,
    `  curl -H "Authorization: Bearer ${tokens[0][1]}" ${baseUrl}/v1/me/balance`,
    `  curl ${baseUrl}/v1/catalogue`,
    `  curl -X POST -H "Authorization: Bearer ${tokens[0][1]}" -H "Idempotency-Key: $(date +%s%N)" -H 'Content-Type: application/json' -d '{"itemId":"coffee-20"}' ${baseUrl}/v1/me/redemptions`,
    '',
    'Serving until Ctrl-C.',
  ];
  process.stdout.write(lines.join('\n') + '\n');
}

async function ignoreExisting(create: () => Promise<unknown>): Promise<void> {
  try {
    await create();
  } catch (error) {
    if (!(error instanceof DomainError && error.code === 'already_exists')) throw error;
  }
}
