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
  // residents start with some points (once: a restarted demo keeps what they have)
  for (const [id, points] of DEMO_RESIDENTS) {
    const balance = await ledger.balance(residentAccount(id), 'POINTS');
    if (balance.posted.isZero()) await adjustments.adjust(ACTOR, id, new Decimal(points), 'demo welcome points');
  }
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
