import { randomUUID } from 'node:crypto';
import { DemoSignIns } from '../../src/pages/demo-sign-ins';
import { expectProblem, startTestApp, TestApp } from '../support/app';
import { baseOf, compressedSize, PageClient, signInResident, signInWithKey, tillStatus } from './support';

/** The residents' pages and the partners' till over HTTP, as a browser without script uses them. */
describe('pages for people', () => {
  let t: TestApp;
  let base: string;
  const keys: Record<string, string> = {};

  beforeAll(async () => {
    t = await startTestApp({ LOGIN_RATE_PER_MINUTE: '10000' });
    base = await baseOf(t);
    for (const [id, kind] of [
      ['museum', 'museum'],
      ['cafe', 'cafe'],
      ['fund', 'charity'],
    ]) {
      await t.http
        .post('/v1/admin/partners')
        .set(t.admin)
        .send({ id, name: `The ${id}`, kind })
        .expect(201);
      keys[id] = (
        await t.http
          .post('/v1/admin/api-clients')
          .set(t.admin)
          .send({ name: `${id} till`, role: 'partner', partnerId: id })
          .expect(201)
      ).body.apiKey;
    }
    keys.auditor = (
      await t.http.post('/v1/admin/api-clients').set(t.admin).send({ name: 'Auditor', role: 'auditor' }).expect(201)
    ).body.apiKey;
    await t.http.post('/v1/admin/sources').set(t.admin).send({ id: 'votes', name: 'Votes' }).expect(201);
    keys.source = (
      await t.http.post('/v1/admin/api-clients').set(t.admin).send({ name: 'src', role: 'source', sourceId: 'votes' }).expect(201)
    ).body.apiKey;
    await t.http
      .post('/v1/admin/categories')
      .set(t.admin)
      .send({ id: 'museums', names: { ru: 'Музеи', en: 'Museums' }, position: 1 })
      .expect(201);
    await t.http
      .post('/v1/admin/categories')
      .set(t.admin)
      .send({ id: 'charity', names: { ru: 'Благотворительность', en: 'Charity' }, position: 2 })
      .expect(201);
    await t.http
      .post('/v1/admin/catalogue-items')
      .set(t.admin)
      .send({
        id: 'night',
        kind: 'TICKET',
        title: 'Night at the museum',
        partnerId: 'museum',
        pricePoints: '300',
        codeSource: 'GENERATED',
        stock: 10,
        codeValidDays: 14,
        perResidentLimit: 3,
        categoryId: 'museums',
      })
      .expect(201);
    await t.http
      .post('/v1/admin/catalogue-items')
      .set(t.admin)
      .send({ id: 'cake', kind: 'PROMO_CODE', title: 'Cake', partnerId: 'cafe', pricePoints: '10', codeSource: 'GENERATED' })
      .expect(201);
    await t.http
      .post('/v1/admin/catalogue-items')
      .set(t.admin)
      .send({
        id: 'shelter',
        kind: 'DONATION',
        title: 'Help the shelter',
        partnerId: 'fund',
        minPoints: '10',
        maxPoints: '500',
        categoryId: 'charity',
      })
      .expect(201);
  });

  afterAll(() => t.close());

  const grant = (residentId: string, amount: string) => t.grant(residentId, amount);
  const balance = async (residentId: string) =>
    (await t.http.get('/v1/me/balance').set(t.residentAuth(residentId)).expect(200)).body.available;
  const resident = async (id: string, points: string) => {
    await grant(id, points);
    return signInResident(base, t.residentAuth(id).Authorization.slice('Bearer '.length));
  };

  it('a resident sees the balance in Russian by default, in English by ?lang=en, remembered', async () => {
    const anna = await resident('anna', '1234');
    const ru = await anna.get('/app');
    expect(ru.status).toBe(200);
    expect(ru.text).toContain('<html lang="ru">');
    expect(ru.text).toContain('1\u00a0234 балла');
    expect(ru.text).toContain('Музеи');
    const en = await anna.get('/app?lang=en');
    expect(en.text).toContain('1,234 points');
    expect((await anna.get('/app/history')).text).toContain('<html lang="en">');
    expect((await anna.get('/app?lang=ru')).text).toContain('1\u00a0234 балла');
  });

  it('a resident finds a ticket by category, confirms, gets the code as text and QR; a resent form redeems once', async () => {
    const boris = await resident('boris', '1000');
    const museums = await boris.get('/app/catalogue?category=museums');
    expect(museums.text).toContain('Night at the museum');
    expect(museums.text).not.toContain('Cake');
    expect(museums.text).toContain('Вам доступно ещё: 3');
    const confirm = await boris.get('/app/redeem/night');
    expect(confirm.text).toContain('Обменять 300 баллов на «Night at the museum»? После обмена у вас останется 700 баллов.');
    const formKey = /name="formKey" value="([^"]+)"/.exec(confirm.text)![1];
    const done = await boris.post('/app/redeem/night', { formKey });
    expect(done.status).toBe(303);
    const again = await boris.post('/app/redeem/night', { formKey });
    expect(again.headers.location).toBe(done.headers.location);
    expect(await balance('boris')).toBe('700');
    const page = await boris.get(done.headers.location);
    const code = /<code class="code big" data-code>([^<]+)<\/code>/.exec(page.text)![1];
    expect(page.text).toMatch(/<img class="qr" src="data:image\/svg\+xml;base64,[A-Za-z0-9+/=]+"/);
    expect(page.text).toContain('data-status="issued"');
    const api = (await t.http.get('/v1/me/redemptions').set(t.residentAuth('boris')).expect(200)).body.items;
    expect(api).toHaveLength(1);
    expect(api[0].codes[0].code).toBe(code);
    expect((await boris.get('/app/codes')).text).toContain(code);
  });

  it('a refusal is said in words and nothing is charged', async () => {
    const vera = await resident('vera', '100');
    const confirm = await vera.get('/app/redeem/night');
    expect(confirm.text).toContain('Не хватает баллов: нужно 300 баллов, у вас 100 баллов.');
    const forced = await vera.post('/app/redeem/night', { formKey: randomUUID() });
    expect(forced.status).toBe(409);
    expect(forced.text).toContain('Не хватает баллов. Баллы не списаны.');
    expect(await balance('vera')).toBe('100');
    const none = await vera.get('/app/redeem/no-such-item');
    expect(none.status).toBe(404);
  });

  it('a resident donates an amount to a fund, once per form; an amount out of range is refused', async () => {
    const gleb = await resident('gleb', '200');
    await gleb.get('/app/redeem/shelter');
    const formKey = randomUUID();
    const bad = await gleb.post('/app/redeem/shelter', { formKey: randomUUID(), amount: '1000' });
    expect(bad.status).toBe(409);
    expect(bad.text).toContain('Баллы не списаны');
    const done = await gleb.post('/app/redeem/shelter', { formKey, amount: '50' });
    expect(done.status).toBe(303);
    await gleb.post('/app/redeem/shelter', { formKey, amount: '50' });
    expect(await balance('gleb')).toBe('150');
    expect((await gleb.get(done.headers.location)).text).toContain('Спасибо! Вы передали 50 баллов в «Help the shelter».');
  });

  it('a resident cancels an unused code within the window and gets the points back', async () => {
    const dana = await resident('dana', '300');
    await dana.get('/app/redeem/night');
    const done = await dana.post('/app/redeem/night', { formKey: randomUUID() });
    const page = await dana.get(done.headers.location);
    expect(page.text).toContain('Отменить и вернуть баллы');
    const id = done.headers.location.split('/').pop();
    const cancelled = await dana.post(`/app/codes/${id}/cancel`);
    expect(cancelled.status).toBe(303);
    expect((await dana.get(cancelled.headers.location)).text).toContain('Обмен отменён, баллы возвращены.');
    expect(await balance('dana')).toBe('300');
  });

  it('the till: a code is valid, one press redeems, the second till sees already redeemed; others see unknown', async () => {
    const eva = await resident('eva', '300');
    await eva.get('/app/redeem/night');
    const done = await eva.post('/app/redeem/night', { formKey: randomUUID() });
    const code = /data-code>([^<]+)</.exec((await eva.get(done.headers.location)).text)![1];

    const till = await signInWithKey(base, keys.museum);
    const other = await signInWithKey(base, keys.museum);
    const checked = await till.get(`/app/till?code=${encodeURIComponent(code)}`);
    expect(tillStatus(checked.text)).toBe('issued');
    expect(checked.text).toContain('Код действителен');
    expect(checked.text).toMatch(/<button type="submit" name="redeem" value="1" class="redeem">Погасить<\/button>/);
    await other.get(`/app/till?code=${encodeURIComponent(code)}`);
    const [a, b] = await Promise.all([till.post('/app/till/redeem', { code }), other.post('/app/till/redeem', { code })]);
    expect([a.status, b.status].sort()).toEqual([200, 409]);
    const loser = a.status === 409 ? a : b;
    expect(tillStatus(loser.text)).toBe('redeemed');
    expect(loser.text).toContain('Уже погашен');
    const winner = a.status === 200 ? a : b;
    expect(winner.text).toContain('Погашен только что');
    expect(winner.text).toContain('Погашено сегодня');
    expect(winner.text).toMatch(new RegExp(`<code>${code}</code></td><td>Night at the museum</td>`));

    const cafe = await signInWithKey(base, keys.cafe);
    expect(tillStatus((await cafe.get(`/app/till?code=${encodeURIComponent(code)}`)).text)).toBe('unknown');
    expect(tillStatus((await till.get('/app/till?code=NO-SUCH-CODE')).text)).toBe('unknown');
    expect((await eva.get(done.headers.location)).text).toContain('data-status="redeemed"');
  });

  it('the till page in English names the button Redeem; its first load is under 150 kB compressed', async () => {
    const till = await signInWithKey(base, keys.museum);
    const page = await till.get('/app/till?lang=en');
    expect(page.text).toContain('autofocus');
    expect(page.text).toMatch(/<input id="code" name="code"/);
    const cookie = `civic_session=${till.sessionCookie()}`;
    const total =
      (await compressedSize(base, '/app/till', cookie)) +
      (await compressedSize(base, '/app/assets/pico.min.css')) +
      (await compressedSize(base, '/app/assets/app.css'));
    expect(total).toBeLessThan(150 * 1024);
  });

  it('a form post without its CSRF token, or with another session’s, is refused and changes nothing', async () => {
    const fedor = await resident('fedor', '300');
    await fedor.get('/app/redeem/night');
    expect((await fedor.post('/app/redeem/night', { formKey: randomUUID() }, null)).status).toBe(403);
    const stranger = await resident('stranger', '10');
    await stranger.get('/app');
    expect((await fedor.post('/app/redeem/night', { formKey: randomUUID() }, stranger.csrf)).status).toBe(403);
    expect(await balance('fedor')).toBe('300');
    const anonymous = new PageClient(base);
    expect((await anonymous.post('/app/login', { apiKey: keys.museum }, null)).status).toBe(403);
  });

  it('a session cookie never authorises the JSON API', async () => {
    const zoya = await resident('zoya', '10');
    const partner = await signInWithKey(base, keys.museum);
    const admin = await signInWithKey(base, t.config.adminApiKey!);
    expectProblem(await t.http.get('/v1/me/balance').set('Cookie', `civic_session=${zoya.sessionCookie()}`), 401, 'unauthorized');
    expectProblem(
      await t.http.get('/v1/partner/codes/ANY-CODE').set('Cookie', `civic_session=${partner.sessionCookie()}`),
      401,
      'unauthorized',
    );
    expectProblem(await t.http.get('/v1/admin/sources').set('Cookie', `civic_session=${admin.sessionCookie()}`), 401, 'unauthorized');
  });

  it('pages have a strict Content-Security-Policy and are never cached', async () => {
    const res = await new PageClient(base).get('/app/login');
    const csp = res.headers['content-security-policy'];
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(res.headers['cache-control']).toBe('no-store');
    expect(([] as string[]).concat(res.headers['set-cookie'] ?? []).join(';')).toMatch(/HttpOnly.*SameSite=Strict/);
  });

  it('a source key has no pages; a wrong key is refused in words', async () => {
    const c = new PageClient(base);
    await c.get('/app/login');
    const source = await c.post('/app/login', { apiKey: keys.source });
    expect(source.status).toBe(403);
    expect(source.text).toContain('У ключа источника баллов нет страниц');
    const wrong = await c.post('/app/login', { apiKey: 'cpl_wrong' });
    expect(wrong.status).toBe(401);
    expect(wrong.text).toContain('Ключ не подошёл');
    const token = await new PageClient(base).get('/app/login/resident');
    expect(token.status).toBe(200);
  });

  it('signing out ends the session; revoking a key ends the sessions it opened', async () => {
    const c = await signInWithKey(base, keys.auditor);
    expect((await c.get('/app/finance')).status).toBe(200);
    const cookie = c.sessionCookie();
    expect((await c.post('/app/logout')).status).toBe(303);
    expect((await c.get('/app/finance')).status).toBe(302);
    const replayed = await t.http.get('/app/finance').set('Cookie', `civic_session=${cookie}`).redirects(0);
    expect(replayed.status).toBe(302);

    const made = (
      await t.http.post('/v1/admin/api-clients').set(t.admin).send({ name: 'temp', role: 'partner', partnerId: 'cafe' }).expect(201)
    ).body;
    const till = await signInWithKey(base, made.apiKey);
    expect((await till.get('/app/till')).status).toBe(200);
    await t.http.delete(`/v1/admin/api-clients/${made.id}`).set(t.admin).expect(200);
    const after = await till.get('/app/till');
    expect(after.status).toBe(302);
    expect(after.headers.location).toBe('/app/login');
  });

  it('one-click demo sign-ins exist only when the demo registers them', async () => {
    const c = new PageClient(base);
    const login = await c.get('/app/login');
    expect(login.text).not.toContain('/app/login/demo/');
    expect((await c.post('/app/login/demo/anna')).status).toBe(404);
    t.app.get(DemoSignIns).register([{ id: 'anna', label: 'Anna', role: 'resident', user: { kind: 'resident', residentId: 'anna' } }]);
    try {
      const shown = await c.get('/app/login');
      expect(shown.text).toContain('action="/app/login/demo/anna"');
      const signed = await c.post('/app/login/demo/anna');
      expect(signed.status).toBe(303);
      expect((await c.get('/app')).text).toContain('Житель anna');
    } finally {
      t.app.get(DemoSignIns).register([]);
    }
  });
});
