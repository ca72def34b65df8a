import { startTestApp, TestApp } from '../support/app';

describe('an admin registers the programme participants', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });

  afterAll(() => t.close());

  it('registers sources and partners, and lists them page by page', async () => {
    for (let i = 0; i < 7; i++) {
      await t.http
        .post('/v1/admin/sources')
        .set(t.admin)
        .send({ id: `source-${i}`, name: `Source ${i}` })
        .expect(201);
    }
    const created = await t.http
      .post('/v1/admin/partners')
      .set(t.admin)
      .send({ id: 'museum', name: 'City Museum', kind: 'museum' })
      .expect(201);
    expect(created.body).toEqual({ id: 'museum', name: 'City Museum', kind: 'museum', createdAt: expect.any(String) });

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res: { body: { items: { id: string }[]; nextCursor: string | null } } = await t.http
        .get(`/v1/admin/sources?limit=3${cursor ? `&cursor=${cursor}` : ''}`)
        .set(t.admin)
        .expect(200);
      expect(res.body.items.length).toBeLessThanOrEqual(3);
      seen.push(...res.body.items.map((s) => s.id));
      cursor = res.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual(Array.from({ length: 7 }, (_, i) => `source-${i}`));

    const partners = await t.http.get('/v1/admin/partners').set(t.admin).expect(200);
    expect(partners.body).toEqual({ items: [expect.objectContaining({ id: 'museum', kind: 'museum' })], nextCursor: null });
  });

  it('records who registered what in the append-only log', async () => {
    await t.http.post('/v1/admin/partners').set(t.admin).send({ id: 'fund', name: 'Fund', kind: 'charity' }).expect(201);
    const entry = await t.prisma.adminAction.findFirstOrThrow({ where: { subject: 'partner:fund' } });
    expect(entry).toMatchObject({ actor: 'bootstrap-admin', action: 'partner.created', details: { name: 'Fund', kind: 'charity' } });
  });
});
