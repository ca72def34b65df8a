import { expectProblem, startTestApp, TestApp } from '../support/app';

describe('docs and health', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });

  afterAll(() => t.close());

  it('answers GET / with where to go: JSON links for programs, a page of links for a browser', async () => {
    const json = await t.http.get('/').expect(200);
    expect(json.body.links).toMatchObject({ app: '/app', docs: '/docs', health: '/health/ready' });
    const html = await t.http.get('/').set('Accept', 'text/html,application/xhtml+xml').expect(200);
    expect(html.headers['content-type']).toMatch(/^text\/html/);
    expect(html.text).toContain('<a href="/app">');
    expect(html.text).toContain('<a href="/docs">');
    await t.http.get(json.body.links.docs).expect((r) => expect([200, 301]).toContain(r.status));
  });

  it('serves Swagger UI at /docs', async () => {
    const res = await t.http.get('/docs/').expect(200);
    expect(res.headers['content-type']).toMatch(/text\/html/);
    expect(res.text).toContain('swagger-ui');
  });

  it('serves the OpenAPI document, every operation with its responses, errors and security', async () => {
    const res = await t.http.get('/docs/openapi.json').expect(200);
    const doc = res.body;
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/v1/admin/sources',
        '/v1/admin/partners',
        '/v1/admin/api-clients',
        '/v1/admin/api-clients/{id}',
        '/v1/me',
        '/health/live',
        '/health/ready',
      ]),
    );
    expect(doc.components.securitySchemes).toMatchObject({
      apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
      residentToken: { type: 'http', scheme: 'bearer' },
    });
    expect(doc.components.schemas.ProblemDto).toBeDefined();
    type Operation = { responses: Record<string, unknown>; security?: unknown[]; 'x-roles'?: string[] };
    for (const [path, item] of Object.entries<Record<string, Operation>>(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        const statuses = Object.keys(op.responses);
        expect(statuses.some((s) => s.startsWith('2'))).toBe(true);
        if (!op['x-roles']?.includes('public')) {
          expect({ path, method, security: op.security?.length ?? 0 }).toEqual({ path, method, security: 1 });
          expect(statuses).toEqual(expect.arrayContaining(['401', '403']));
        }
      }
    }
  });

  it('serves Prometheus metrics: the process’s and the programme’s series', async () => {
    const res = await t.http.get('/metrics').expect(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.text).toContain('process_cpu_user_seconds_total');
    expect(res.text).toContain('# TYPE civic_earn_events_total counter');
    expect(res.text).toContain('# TYPE civic_reconciliation_failed gauge');
  });

  it('is live, and ready when the database and Redis answer', async () => {
    await t.http.get('/health/live').expect(200, { status: 'ok' });
    const res = await t.http.get('/health/ready').expect(200);
    expect(res.body.details).toMatchObject({ database: { status: 'up' }, queue: { status: 'up', mode: 'redis' } });
  });
});

describe('readiness when Redis is down', () => {
  let t: TestApp;

  beforeAll(async () => {
    // nothing listens on port 1: the queue is unreachable
    t = await startTestApp({ REDIS_URL: 'redis://127.0.0.1:1' });
  });

  afterAll(() => t.close());

  it('answers 503 problem+json naming the queue, while liveness stays up', async () => {
    const res = await t.http.get('/health/ready');
    expectProblem(res, 503, 'service_unavailable');
    expect(res.body.checks).toMatchObject({ database: { status: 'up' }, queue: { status: 'down' } });
    await t.http.get('/health/live').expect(200);
  });
});
