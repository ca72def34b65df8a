import { startTestApp, TestApp } from '../support/app';
import { waitFor } from '../support/wait';

/** The value of one series in Prometheus text, or undefined when it is not there. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

async function setUpVotes(t: TestApp): Promise<{ 'X-API-Key': string }> {
  await t.http.post('/v1/admin/sources').set(t.admin).send({ id: 'votes', name: 'Votes' }).expect(201);
  await t.http.post('/v1/admin/earning-rules').set(t.admin).send({ id: 'vote', sourceId: 'votes', eventType: 'vote.cast', points: '20' }).expect(201);
  const key = (await t.http.post('/v1/admin/api-clients').set(t.admin).send({ name: 'v', role: 'source', sourceId: 'votes' }).expect(201)).body.apiKey;
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
    await t.http.post('/v1/earn-events').set(source).send({ events: [vote('m-1'), vote('m-2')] }).expect(202);
    await waitFor(async () => (await t.http.get('/v1/earn-events/m-2').set(source)).body.status === 'posted', 10_000, 'posting');
    const text = (await t.http.get('/metrics').expect(200)).text;
    expect(sample(text, 'civic_earn_queue_jobs{state="waiting"}')).toBe(0);
    expect(sample(text, 'civic_earn_queue_jobs{state="failed"}')).toBe(0);
    expect(sample(text, 'civic_earn_events_unprocessed')).toBe(0);
    expect(sample(text, 'civic_earn_oldest_unprocessed_age_seconds')).toBe(0);
  });

  it('counts partner validations and times reconciliations', async () => {
    const text = (await t.http.get('/metrics').expect(200)).text;
    expect(text).toContain('# TYPE civic_partner_code_requests_total counter');
    const run = await t.http.post('/v1/audit/reconciliations').set(t.admin).expect(202);
    await waitFor(async () => (await t.http.get(`/v1/audit/reconciliations/${run.body.id}`).set(t.admin)).body.status !== 'running', 20_000, 'the run');
    const after = (await t.http.get('/metrics').expect(200)).text;
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
    await t.http.post('/v1/earn-events').set(source).send({ events: [vote('lag-1'), vote('lag-2'), vote('lag-3')] }).expect(202);
    await new Promise((r) => setTimeout(r, 1100));
    const text = (await t.http.get('/metrics').expect(200)).text;
    expect(sample(text, 'civic_earn_events_unprocessed')).toBe(3);
    expect(sample(text, 'civic_earn_oldest_unprocessed_age_seconds')).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'civic_earn_queue_jobs{state="waiting"}')).toBeUndefined();
  });
});
