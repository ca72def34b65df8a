import { startTestApp, TestApp } from '../support/app';
import { waitFor } from '../support/wait';

/** The service's JSON log lines, captured as it writes them. */
function captureLines() {
  const lines: Record<string, unknown>[] = [];
  const raw: string[] = [];
  return {
    lines,
    raw,
    destination: {
      write(chunk: string) {
        raw.push(chunk);
        lines.push(JSON.parse(chunk) as Record<string, unknown>);
      },
    },
  };
}

describe('structured logs', () => {
  let t: TestApp;
  const log = captureLines();

  beforeAll(async () => {
    t = await startTestApp({ LOG_LEVEL: 'info' }, { destination: log.destination });
  });

  afterAll(() => t.close());

  it('tags a request’s lines with the caller’s X-Request-Id and echoes it', async () => {
    const res = await t.http.get('/v1/catalogue').set('X-Request-Id', 'till-42.req-7').expect(200);
    expect(res.headers['x-request-id']).toBe('till-42.req-7');
    const line = await waitFor(async () => log.lines.find((l) => l.requestId === 'till-42.req-7'), 5000, 'the request line');
    expect(line).toMatchObject({ level: 30, msg: 'request completed', res: { statusCode: 200 } });
  });

  it('gives a request without an id (or with an unusable one) a new one', async () => {
    const res = await t.http.get('/v1/catalogue').expect(200);
    const id = res.headers['x-request-id'];
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    await waitFor(async () => log.lines.some((l) => l.requestId === id), 5000, 'the request line');

    const odd = await t.http.get('/v1/catalogue').set('X-Request-Id', 'has spaces and "quotes"').expect(200);
    expect(odd.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('carries the request id into what the services log while handling it', async () => {
    const res = await t.http.post('/v1/audit/reconciliations').set(t.admin).set('X-Request-Id', 'recon-run-1').expect(202);
    const line = await waitFor(
      async () => log.lines.find((l) => typeof l.msg === 'string' && l.msg.includes(`reconciliation ${res.body.id}`)),
      20_000,
      'the reconciliation’s own line',
    );
    expect(line).toMatchObject({ requestId: 'recon-run-1', context: 'Reconciliation' });
  });

  it('never writes API keys or bearer tokens', async () => {
    const token = t.residentAuth('anna').Authorization;
    await t.http.get('/v1/audit/trial-balance').set(t.admin).set('X-Request-Id', 'with-key').expect(200);
    await t.http.get('/v1/me/balance').set('Authorization', token).set('X-Request-Id', 'with-token').expect(200);
    await t.http.get('/v1/audit/trial-balance').set('X-API-Key', 'wrong-key-0123456789abcdef').set('X-Request-Id', 'bad-key').expect(401);
    const withKey = await waitFor(async () => log.lines.find((l) => l.requestId === 'with-key' && l.req), 5000, 'the keyed line');
    await waitFor(async () => log.lines.some((l) => l.requestId === 'bad-key'), 5000, 'the refused line');
    expect((withKey.req as { headers: Record<string, string> }).headers['x-api-key']).toBe('[redacted]');
    const all = log.raw.join('');
    expect(all).not.toContain(t.admin['X-API-Key']);
    expect(all).not.toContain(token.slice('Bearer '.length));
    expect(all).not.toContain('wrong-key-0123456789abcdef');
  });

  it('masks the code a partner validates or redeems: the line names the route, not the code', async () => {
    await t.http.post('/v1/admin/partners').set(t.admin).send({ id: 'logcafe', name: 'Cafe', kind: 'cafe' }).expect(201);
    const till = await t.http
      .post('/v1/admin/api-clients')
      .set(t.admin)
      .send({ name: 'till', role: 'partner', partnerId: 'logcafe' })
      .expect(201);
    await t.http.get('/v1/partner/codes/SECRET-CODE-7731').set('X-API-Key', till.body.apiKey).set('X-Request-Id', 'till-code').expect(404);
    await t.http
      .post('/v1/partner/codes/SECRET-CODE-7732/redeem')
      .set('X-API-Key', till.body.apiKey)
      .set('X-Request-Id', 'till-redeem')
      .expect(404);
    const line = await waitFor(async () => log.lines.find((l) => l.requestId === 'till-code' && l.req), 5000, 'the look-up line');
    await t.http.get('/V1/Partner/Codes/SECRET-CODE-7733').set('X-API-Key', till.body.apiKey).set('X-Request-Id', 'till-case').expect(404);
    await waitFor(async () => log.lines.some((l) => l.requestId === 'till-redeem' && l.req), 5000, 'the redeem line');
    await waitFor(async () => log.lines.some((l) => l.requestId === 'till-case' && l.req), 5000, 'the line of a path in other case');
    expect((line.req as { url: string }).url).toBe('/v1/partner/codes/[code]');
    expect(log.raw.join('')).not.toMatch(/SECRET-CODE-773/);
  });
});
