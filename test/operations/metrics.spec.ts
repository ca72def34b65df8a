import { startTestApp, TestApp } from '../support/app';
import { waitFor } from '../support/wait';

/** The value of one series in Prometheus text, or undefined when it is not there. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

async function setUpVotes(t: TestApp): Promise<{ 'X-API-Key': string }> {
  await t.http.post('/v1/admin/sources').set(t.admin).send({ id: 'votes', name: 'Votes' }).expect(201);
  await t.http
    .post('/v1/admin/earning-rules')
    .set(t.admin)
    .send({ id: 'vote', sourceId: 'votes', eventType: 'vote.cast', points: '20' })
    .expect(201);
  const key = (await t.http.post('/v1/admin/api-clients').set(t.admin).send({ name: 'v', role: 'source', sourceId: 'votes' }).expect(201))
    .body.apiKey;
  return { 'X-API-Key': key };
}

const vote = (externalId: string) => ({ externalId, type: 'vote.cast', residentId: 'anna', occurredAt: new Date().toISOString() });

describe('operations metrics', () => {
  let t: TestApp;
  let source: { 'X-API-Key': string };

  beforeAll(async () => {
    t = await startTestApp();
    source = await setUpVotes(t);
  });

  afterAll(() => t.close());

  it('shows the earn queue by state and no processing lag once events are posted', async () => {
    await t.http
      .post('/v1/earn-events')
      .set(source)
      .send({ events: [vote('m-1'), vote('m-2')] })
      .expect(202);
    await waitFor(async () => (await t.http.get('/v1/earn-events/m-2').set(source)).body.status === 'posted', 10_000, 'posting');
    const text = (await t.http.get('/metrics').expect(200)).text;
    expect(sample(text, 'civic_earn_queue_jobs{state="waiting"}')).toBe(0);
    expect(sample(text, 'civic_earn_queue_jobs{state="failed"}')).toBe(0);
    expect(sample(text, 'civic_earn_events_unprocessed')).toBe(0);
    expect(sample(text, 'civic_earn_oldest_unprocessed_age_seconds')).toBe(0);
  });

  it('counts partner code validations and redemptions by outcome', async () => {
    await t.http.post('/v1/admin/partners').set(t.admin).send({ id: 'cafe', name: 'Cafe', kind: 'cafe' }).expect(201);
    const partner = {
      'X-API-Key': (
        await t.http.post('/v1/admin/api-clients').set(t.admin).send({ name: 'till', role: 'partner', partnerId: 'cafe' }).expect(201)
      ).body.apiKey,
    };
    await t.http
      .post('/v1/admin/catalogue-items')
      .set(t.admin)
      .send({ id: 'coffee', kind: 'PROMO_CODE', title: 'Coffee', partnerId: 'cafe', pricePoints: '10', codeSource: 'GENERATED' })
      .expect(201);
    await t.http
      .post('/v1/admin/adjustments')
      .set(t.admin)
      .set('Idempotency-Key', 'metrics-grant')
      .send({ residentId: 'anna', amount: '10', reason: 'opening' })
      .expect(201);
    const bought = await t.http
      .post('/v1/me/redemptions')
      .set(t.residentAuth('anna'))
      .set('Idempotency-Key', 'metrics-buy')
      .send({ itemId: 'coffee' })
      .expect(201);
    const code = bought.body.codes[0].code;

    await t.http.get(`/v1/partner/codes/${code}`).set(partner).expect(200);
    await t.http.get('/v1/partner/codes/NOSUCHCODE234').set(partner).expect(404);
    await t.http.get('/v1/partner/codes/NOSUCHCODE567').set(partner).expect(404);
    await t.http.post(`/v1/partner/codes/${code}/redeem`).set(partner).expect(200);
    await t.http.post(`/v1/partner/codes/${code}/redeem`).set(partner).expect(409);

    const text = (await t.http.get('/metrics').expect(200)).text;
    expect(sample(text, 'civic_partner_code_requests_total{action="validate",outcome="ok"}')).toBe(1);
    expect(sample(text, 'civic_partner_code_requests_total{action="validate",outcome="not_found"}')).toBe(2);
    expect(sample(text, 'civic_partner_code_requests_total{action="redeem",outcome="ok"}')).toBe(1);
    expect(sample(text, 'civic_partner_code_requests_total{action="redeem",outcome="code_already_redeemed"}')).toBe(1);
  });

  it('times reconciliations and shows whether the last one passed', async () => {
    const run = await t.http.post('/v1/audit/reconciliations').set(t.admin).expect(202);
    await waitFor(
      async () => (await t.http.get(`/v1/audit/reconciliations/${run.body.id}`).set(t.admin)).body.status !== 'running',
      20_000,
      'the run',
    );
    // the run's row is committed before its process records the metrics (a moment later, on its
    // event loop): the status can be read first
    let after = '';
    await waitFor(
      async () => {
        after = (await t.http.get('/metrics').expect(200)).text;
        return (sample(after, 'civic_reconciliation_duration_seconds_count') ?? 0) >= 1;
      },
      5_000,
      'the run timed in the metrics',
    );
    expect(sample(after, 'civic_reconciliation_duration_seconds_count')).toBe(1);
    expect(sample(after, 'civic_reconciliation_failed')).toBe(0);
  });
});

describe('processing lag when the queue is gone', () => {
  let t: TestApp;
  let source: { 'X-API-Key': string };

  beforeAll(async () => {
    // nothing listens on port 1: accepted events wait for the (hourly, in tests) sweeper
    t = await startTestApp({ REDIS_URL: 'redis://127.0.0.1:1' });
    source = await setUpVotes(t);
  });

  afterAll(() => t.close());

  it('shows the accepted events still waiting and how old the oldest is', async () => {
    await t.http
      .post('/v1/earn-events')
      .set(source)
      .send({ events: [vote('lag-1'), vote('lag-2'), vote('lag-3')] })
      .expect(202);
    await new Promise((r) => setTimeout(r, 1100));
    const text = (await t.http.get('/metrics').expect(200)).text;
    expect(sample(text, 'civic_earn_events_unprocessed')).toBe(3);
    expect(sample(text, 'civic_earn_oldest_unprocessed_age_seconds')).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'civic_earn_queue_jobs{state="waiting"}')).toBeUndefined();
  });
});
