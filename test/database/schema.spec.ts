import { randomUUID } from 'node:crypto';
import { startTestApp, TestApp } from '../support/app';

/**
 * The hand-written migrations and schema.prisma must describe the same tables: every model is
 * written and read through Prisma against a freshly migrated database.
 */
describe('database schema', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });

  afterAll(() => t.close());

  it('every Prisma model reads and writes its migrated table', async () => {
    const { prisma } = t;
    await prisma.source.create({ data: { id: 'schema-src', name: 'Source' } });
    await prisma.partner.create({ data: { id: 'schema-partner', name: 'Partner', kind: 'cafe' } });
    const client = await prisma.apiClient.create({
      data: { id: randomUUID(), name: 'k', role: 'source', sourceId: 'schema-src', keyHash: 'a'.repeat(64), keyPrefix: 'cpl_aaaa' },
      include: { source: true },
    });
    expect(client.source?.id).toBe('schema-src');
    const action = await prisma.adminAction.create({ data: { actor: 'test', action: 'x', subject: 'y', details: { a: 1 } } });
    expect(typeof action.id).toBe('bigint');
    expect(await prisma.partner.findUnique({ where: { id: 'schema-partner' }, include: { apiClients: true } })).toMatchObject({
      kind: 'cafe',
      apiClients: [],
    });
    const category = await prisma.catalogueCategory.create({ data: { id: 'schema-cat', nameRu: 'Парки', nameEn: 'Parks', position: 3 } });
    await prisma.catalogueItem.create({
      data: {
        id: 'schema-item',
        kind: 'TICKET',
        title: 'T',
        partnerId: 'schema-partner',
        pricePoints: 5,
        codeSource: 'GENERATED',
        categoryId: category.id,
      },
    });
    expect(await prisma.catalogueCategory.findUnique({ where: { id: 'schema-cat' }, include: { items: true } })).toMatchObject({
      nameEn: 'Parks',
      items: [{ id: 'schema-item' }],
    });
    // the finance console's daily figures
    await prisma.ledgerDailyClosed.create({ data: { day: new Date('2026-12-01') } });
    await prisma.ledgerDailyTotal.create({
      data: {
        day: new Date('2026-12-01'),
        asset: 'POINTS',
        kind: 'resident',
        account: '',
        txType: 'earn',
        debits: 0,
        credits: 20,
        postings: 1n,
      },
    });
    expect(await prisma.ledgerDailyTotal.findMany({ where: { day: new Date('2026-12-01') } })).toMatchObject([
      { kind: 'resident', postings: 1n },
    ]);
    expect((await prisma.ledgerDailyClosed.findUnique({ where: { day: new Date('2026-12-01') } }))?.filledAt).toBeInstanceOf(Date);
    // the webhooks' staged outbox (expanded after commit: read back in the writing transaction)
    const staged = await prisma.$transaction(async (tx) => {
      const row = await tx.webhookOutbox.create({
        data: { types: ['award.completed'], residents: ['anna'], partners: ['p'], sources: ['s'], data: [{ a: 1 }] },
      });
      return tx.webhookOutbox.findUnique({ where: { seq: row.seq } });
    });
    expect(staged).toMatchObject({ types: ['award.completed'], data: [{ a: 1 }] });
    expect(staged!.createdAt).toBeInstanceOf(Date);
    // a staged row's arrays are one element per event: anything else is refused in the change's transaction
    await expect(
      prisma.webhookOutbox.create({
        data: { types: ['award.completed', 'award.completed'], residents: ['anna'], partners: [], sources: [], data: [{}] },
      }),
    ).rejects.toThrow();
    await prisma.appSession.create({
      data: { tokenHash: 'b'.repeat(64), kind: 'client', apiClientId: client.id, expiresAt: new Date(Date.now() + 60_000) },
    });
    await prisma.appSession.create({
      data: { tokenHash: 'c'.repeat(64), kind: 'resident', residentId: 'anna', expiresAt: new Date(Date.now() + 60_000) },
    });
    expect(await prisma.appSession.findUnique({ where: { tokenHash: 'b'.repeat(64) }, include: { apiClient: true } })).toMatchObject({
      apiClient: { id: client.id },
    });
    // a session is a resident's or a client's, never both or neither
    await expect(
      prisma.appSession.create({ data: { tokenHash: 'd'.repeat(64), kind: 'resident', expiresAt: new Date() } }),
    ).rejects.toThrow();
    await expect(
      prisma.appSession.create({ data: { tokenHash: 'e'.repeat(64), kind: 'client', residentId: 'anna', expiresAt: new Date() } }),
    ).rejects.toThrow();
  });

  it('the administrative log is append-only: UPDATE, DELETE and TRUNCATE are refused', async () => {
    const { prisma } = t;
    await prisma.adminAction.create({ data: { actor: 'test', action: 'kept', subject: 'z' } });
    await expect(prisma.$executeRawUnsafe(`UPDATE admin_actions SET actor = 'forged'`)).rejects.toThrow(/append-only/);
    await expect(prisma.$executeRawUnsafe(`DELETE FROM admin_actions`)).rejects.toThrow(/append-only/);
    await expect(prisma.$executeRawUnsafe(`TRUNCATE admin_actions`)).rejects.toThrow(/append-only/);
    expect(await prisma.adminAction.count({ where: { action: 'kept', actor: 'test' } })).toBe(1);
  });

  it('a key is bound to a source or a partner exactly as its role says', async () => {
    const { prisma } = t;
    const key = (role: string, binding: { sourceId?: string; partnerId?: string }) =>
      prisma.apiClient.create({
        data: { id: randomUUID(), name: 'k', role, keyHash: randomUUID().replace(/-/g, '').padEnd(64, '0'), keyPrefix: 'p', ...binding },
      });
    await expect(key('source', {})).rejects.toThrow();
    await expect(key('partner', { sourceId: 'schema-src' })).rejects.toThrow();
    await expect(key('admin', { partnerId: 'schema-partner' })).rejects.toThrow();
    await expect(key('superuser', {})).rejects.toThrow();
    await expect(key('auditor', {})).resolves.toMatchObject({ role: 'auditor' });
  });

  it('refuses malformed ids and partner kinds', async () => {
    const { prisma } = t;
    await expect(prisma.source.create({ data: { id: 'Bad Id', name: 'x' } })).rejects.toThrow();
    await expect(prisma.partner.create({ data: { id: 'p2', name: 'x', kind: 'bank' } })).rejects.toThrow();
    await expect(prisma.source.create({ data: { id: 'empty-name', name: '' } })).rejects.toThrow();
  });
});
