import { randomUUID } from 'node:crypto';
import { checkCharacter, CODE_ALPHABET } from '../../src/catalogue/domain/codes';
import { expectProblem, startTestApp, TestApp } from '../support/app';

/** What a newcomer reads when something is refused: enough to fix it without reading the code. */
describe('errors that say enough', () => {
  let t: TestApp;
  let partnerKey: string;
  let auditorKey: string;
  const key = () => ({ 'Idempotency-Key': randomUUID() });

  beforeAll(async () => {
    t = await startTestApp();
    await t.http.post('/v1/admin/partners').set(t.admin).send({ id: 'city-museum', name: 'City Museum', kind: 'museum' }).expect(201);
    await t.http
      .post('/v1/admin/catalogue-items')
      .set(t.admin)
      .send({
        id: 'museum-night',
        kind: 'TICKET',
        title: 'Museum night',
        partnerId: 'city-museum',
        pricePoints: '100',
        codeSource: 'GENERATED',
        stock: 10,
      })
      .expect(201);
    partnerKey = (
      await t.http.post('/v1/admin/api-clients').set(t.admin).send({ name: 'till', role: 'partner', partnerId: 'city-museum' }).expect(201)
    ).body.apiKey;
    auditorKey = (await t.http.post('/v1/admin/api-clients').set(t.admin).send({ name: 'audit', role: 'auditor' }).expect(201)).body.apiKey;
    await t.http
      .post('/v1/admin/adjustments')
      .set(t.admin)
      .set(key())
      .send({ residentId: 'anna', amount: '150', reason: 'welcome' })
      .expect(201);
  });

  afterAll(() => t.close());

  it('a body that is not JSON is 415 unsupported_media_type, and nothing is created', async () => {
    const plain = await t.http.post('/v1/admin/sources').set(t.admin).set('Content-Type', 'text/plain').send('{"id":"x","name":"X"}');
    expectProblem(plain, 415, 'unsupported_media_type');
    expect(plain.body.detail).toContain('Content-Type: application/json');
    // curl -d without -H 'Content-Type: application/json' sends a form
    expectProblem(await t.http.post('/v1/admin/sources').set(t.admin).type('form').send('id=x&name=X'), 415, 'unsupported_media_type');
    expectProblem(
      await t.http.post('/v1/admin/sources').set(t.admin).set('Content-Type', 'application/xml').send('<source id="x"/>'),
      415,
      'unsupported_media_type',
    );
    expect((await t.http.get('/v1/admin/sources').set(t.admin).expect(200)).body.items).toEqual([]);
    // a POST without a body still works (confirm, revoke, reconcile ...)
    await t.http.post('/v1/audit/reconciliations').set('X-API-Key', auditorKey).expect(202);
  });

  it('insufficient_points says how many points are needed and how many are available', async () => {
    await t.http.post('/v1/me/redemptions').set(t.residentAuth('anna')).set(key()).send({ itemId: 'museum-night' }).expect(201);
    const refused = await t.http.post('/v1/me/redemptions').set(t.residentAuth('anna')).set(key()).send({ itemId: 'museum-night' });
    expectProblem(refused, 409, 'insufficient_points');
    expect(refused.body).toMatchObject({ account: 'resident:anna', needed: '100', available: '50' });
    expect(refused.body.detail).toBe('Account resident:anna has 50 available; this needs 100');
    const adjustment = await t.http
      .post('/v1/admin/adjustments')
      .set(t.admin)
      .set(key())
      .send({ residentId: 'anna', amount: '-70', reason: 'correction' });
    expectProblem(adjustment, 409, 'insufficient_points');
    expect(adjustment.body).toMatchObject({ needed: '70', available: '50' });
  });

  it('403 names the role the endpoint needs and the one the caller has', async () => {
    const res = await t.http.get('/v1/admin/sources').set('X-API-Key', auditorKey);
    expectProblem(res, 403, 'forbidden');
    expect(res.body.detail).toBe('This endpoint needs an admin key (X-API-Key); these credentials are an auditor key');
    expect(res.body.requiredRoles).toEqual(['admin']);
    const resident = await t.http.get('/v1/audit/trial-balance').set(t.residentAuth('anna'));
    expectProblem(resident, 403, 'forbidden');
    expect(resident.body.detail).toBe(
      'This endpoint needs an auditor key (X-API-Key) or an admin key (X-API-Key); these credentials are a resident token',
    );
  });

  it('an API key sent as a bearer token is told where API keys go; the Bearer scheme is case-insensitive', async () => {
    const res = await t.http.get('/v1/audit/trial-balance').set('Authorization', `Bearer ${auditorKey}`);
    expectProblem(res, 401, 'unauthorized');
    expect(res.body.detail).toContain('API keys go in the X-API-Key header');
    const token = t.residentAuth('anna').Authorization.slice('Bearer '.length);
    for (const scheme of ['bearer', 'BEARER', 'Bearer']) {
      const balance = await t.http.get('/v1/me/balance').set('Authorization', `${scheme} ${token}`).expect(200);
      expect(balance.body.available).toBe('50');
    }
  });

  it('an amount of 35 digits is too large, and says so', async () => {
    const res = await t.http
      .post('/v1/admin/adjustments')
      .set(t.admin)
      .set(key())
      .send({ residentId: 'anna', amount: '9'.repeat(35), reason: 'correction' });
    expectProblem(res, 400, 'validation_failed');
    expect(res.body.detail).toBe(
      'amount: amount is too large: 35 digits, where amounts have at most 15 (points) or 18 (ledger amounts) before the point',
    );
    const donation = await t.http
      .post('/v1/ledger/transactions')
      .set(t.admin)
      .set(key())
      .send({
        type: 'transfer',
        postings: [
          { account: 'programme:issued', asset: 'POINTS', debit: '1'.repeat(35) },
          { account: 'resident:anna', asset: 'POINTS', credit: '1'.repeat(35) },
        ],
      });
    expectProblem(donation, 400, 'validation_failed');
    expect(donation.body.detail).toContain('debit is too large: 35 digits');
  });

  it('a statement of an account that never existed is 404; without from, a statement starts at the first entry', async () => {
    expectProblem(await t.http.get('/v1/audit/accounts/partner:nobody:redeemed/statement').set('X-API-Key', auditorKey), 404, 'not_found');
    expectProblem(
      await t.http.get('/v1/audit/accounts/resident:nobody/statement').set('X-API-Key', auditorKey).set('Accept', 'text/csv'),
      404,
      'not_found',
    );
    const statement = (await t.http.get('/v1/audit/accounts/resident:anna/statement').set('X-API-Key', auditorKey).expect(200)).body;
    expect(statement.openingBalance).toBe('0');
    expect(statement.entries[0]).toMatchObject({ credit: '150', balance: '150' });
    expect(new Date(statement.from).getTime()).toBe(new Date(statement.entries[0].createdAt).getTime() - 1);
    expect(statement.closingBalance).toBe('50');
  });

  it('at the till, codes match in any case, and a typo the check character catches says so', async () => {
    const [{ code }] = (await t.http.get('/v1/me/redemptions').set(t.residentAuth('anna')).expect(200)).body.items[0].codes;
    const till = { 'X-API-Key': partnerKey };
    expect((await t.http.get(`/v1/partner/codes/${code.toLowerCase()}`).set(till).expect(200)).body).toMatchObject({
      code,
      status: 'issued',
    });
    // one character changed: the check character no longer matches
    const wrong = code.slice(0, 3) + CODE_ALPHABET[(CODE_ALPHABET.indexOf(code[3]) + 1) % CODE_ALPHABET.length] + code.slice(4);
    expect(checkCharacter(wrong.slice(0, -1))).not.toBe(wrong.slice(-1));
    const typo = await t.http.get(`/v1/partner/codes/${wrong}`).set(till);
    expectProblem(typo, 404, 'not_found');
    expect(typo.body.detail).toMatch(/^not a valid code \(check the characters\)/);
    // a well-formed code nobody issued is plainly not found
    const body = 'ABCDEFGHJKMN';
    expect((await t.http.get(`/v1/partner/codes/${body}${checkCharacter(body)}`).set(till)).body.detail).toBe('code was not found');
    const redeemed = await t.http.post(`/v1/partner/codes/${code.toLowerCase()}/redeem`).set(till).expect(200);
    expect(redeemed.body).toMatchObject({ code, status: 'redeemed' });
    expectProblem(await t.http.post(`/v1/partner/codes/${code}/redeem`).set(till), 409, 'code_already_redeemed');
  });

  it('Swagger shows each error status with an example of its own', async () => {
    const doc = (await t.http.get('/docs/openapi.json').expect(200)).body;
    const redeem = doc.paths['/v1/me/redemptions'].post.responses;
    for (const [status, code] of [
      ['401', 'unauthorized'],
      ['404', 'not_found'],
      ['409', 'insufficient_points'],
    ]) {
      const example = redeem[status].content['application/problem+json'].examples[code].value;
      expect(example).toMatchObject({ status: Number(status), code });
    }
    expect(Object.keys(redeem['409'].content['application/problem+json'].examples)).toEqual(
      expect.arrayContaining(['insufficient_points', 'out_of_stock', 'limit_exceeded']),
    );
  });
});
