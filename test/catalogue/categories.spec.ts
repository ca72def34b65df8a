import { expectProblem, startTestApp, TestApp } from '../support/app';

/** Residents choose rewards by category; admins keep the categories. */
describe('catalogue categories', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
    await t.http.post('/v1/admin/partners').set(t.admin).send({ id: 'hermitage', name: 'Hermitage', kind: 'museum' }).expect(201);
  });

  afterAll(() => t.close());

  const category = (body: object) => t.http.post('/v1/admin/categories').set(t.admin).send(body);
  const item = (body: object) =>
    t.http
      .post('/v1/admin/catalogue-items')
      .set(t.admin)
      .send({ kind: 'TICKET', partnerId: 'hermitage', pricePoints: '300', codeSource: 'GENERATED', ...body });

  it('an admin adds categories; the public list shows them in page order with their active items counted', async () => {
    const museums = await category({ id: 'museums', names: { ru: 'Музеи', en: 'Museums' }, position: 30 }).expect(201);
    expect(museums.body).toEqual({ id: 'museums', names: { ru: 'Музеи', en: 'Museums' }, position: 30 });
    await category({ id: 'cafes', names: { ru: 'Кафе и рестораны', en: 'Cafes and restaurants' }, position: 10 }).expect(201);
    await category({ id: 'parks', names: { ru: 'Парки', en: 'Parks' } }).expect(201);
    await item({ id: 'night-tour', title: 'Night tour', categoryId: 'museums' }).expect(201);
    await item({ id: 'old-tour', title: 'Last year’s tour', categoryId: 'museums', activeTo: '2020-01-01T00:00:00Z' }).expect(201);
    await item({ id: 'no-category', title: 'Unsorted' }).expect(201);

    const list = (await t.http.get('/v1/catalogue/categories').expect(200)).body;
    expect(list.items).toEqual([
      { id: 'parks', names: { ru: 'Парки', en: 'Parks' }, position: 0, itemCount: 0 },
      { id: 'cafes', names: { ru: 'Кафе и рестораны', en: 'Cafes and restaurants' }, position: 10, itemCount: 0 },
      { id: 'museums', names: { ru: 'Музеи', en: 'Museums' }, position: 30, itemCount: 1 },
    ]);
    // the admin's list counts every item that uses a category, active or not
    const admin = (await t.http.get('/v1/admin/categories').set(t.admin).expect(200)).body;
    expect(admin.items.find((c: { id: string }) => c.id === 'museums').itemCount).toBe(2);
  });

  it('the catalogue filters by category and shows each item’s category', async () => {
    const museums = (await t.http.get('/v1/catalogue?category=museums').expect(200)).body;
    expect(museums.items.map((i: { id: string }) => i.id)).toEqual(['night-tour']);
    expect(museums.items[0]).toMatchObject({ categoryId: 'museums', available: null });
    const all = (await t.http.get('/v1/catalogue').expect(200)).body;
    expect(all.items.find((i: { id: string }) => i.id === 'no-category').categoryId).toBeNull();
    expect((await t.http.get('/v1/catalogue?category=parks').expect(200)).body.items).toEqual([]);
    expectProblem(await t.http.get('/v1/catalogue?category=Not%20A%20Slug'), 400, 'validation_failed');
  });

  it('an item moves to another category, or out of any, by PATCH; an unknown category is refused and changes nothing', async () => {
    const moved = await t.http.patch('/v1/admin/catalogue-items/no-category').set(t.admin).send({ categoryId: 'parks' }).expect(200);
    expect(moved.body.categoryId).toBe('parks');
    expectProblem(
      await t.http.patch('/v1/admin/catalogue-items/no-category').set(t.admin).send({ categoryId: 'nowhere' }),
      404,
      'not_found',
    );
    expect((await t.http.get('/v1/admin/catalogue-items/no-category').set(t.admin).expect(200)).body.categoryId).toBe('parks');
    const out = await t.http.patch('/v1/admin/catalogue-items/no-category').set(t.admin).send({ categoryId: null }).expect(200);
    expect(out.body.categoryId).toBeNull();
    expectProblem(await item({ id: 'lost', title: 'Lost', categoryId: 'nowhere' }), 404, 'not_found');
    expectProblem(await t.http.get('/v1/admin/catalogue-items/lost').set(t.admin), 404, 'not_found');
  });

  it('a category is renamed and moved; a category in use cannot be deleted, an unused one can', async () => {
    const renamed = await t.http
      .patch('/v1/admin/categories/parks')
      .set(t.admin)
      .send({ names: { en: 'Parks and gardens' }, position: 40 })
      .expect(200);
    expect(renamed.body).toEqual({ id: 'parks', names: { ru: 'Парки', en: 'Parks and gardens' }, position: 40 });
    expect((await t.http.get('/v1/admin/categories/parks').set(t.admin).expect(200)).body.names.en).toBe('Parks and gardens');
    expectProblem(await t.http.delete('/v1/admin/categories/museums').set(t.admin), 409, 'invalid_state');
    expect((await t.http.get('/v1/admin/categories/museums').set(t.admin).expect(200)).body.id).toBe('museums');
    await t.http.delete('/v1/admin/categories/parks').set(t.admin).expect(204);
    expectProblem(await t.http.get('/v1/admin/categories/parks').set(t.admin), 404, 'not_found');
    expectProblem(await t.http.delete('/v1/admin/categories/parks').set(t.admin), 404, 'not_found');
  });

  it('refuses bad input and duplicates, and only admins write', async () => {
    expectProblem(await category({ id: 'museums', names: { ru: 'Ещё', en: 'Again' } }), 409, 'already_exists');
    expectProblem(await category({ id: 'x', names: { ru: 'Только русский' } }), 400, 'validation_failed');
    expectProblem(await category({ id: 'y' }), 400, 'validation_failed');
    expectProblem(await category({ id: 'Bad Id', names: { ru: 'а', en: 'a' } }), 400, 'validation_failed');
    expectProblem(await category({ id: 'z', names: { ru: '', en: 'a' } }), 400, 'validation_failed');
    expectProblem(await t.http.post('/v1/admin/categories').send({ id: 'anon', names: { ru: 'а', en: 'a' } }), 401, 'unauthorized');
    expectProblem(await t.http.get('/v1/admin/categories').set(t.residentAuth('anna')), 403, 'forbidden');
  });
});
