import { randomUUID } from 'node:crypto';
import { expectProblem, startTestApp, TestApp } from '../support/app';
import { ledgerViolations } from '../support/ledger-invariants';
import { waitFor } from '../support/wait';

/** A participation service posts earn events; residents see their points. */
describe('earning', () => {
  let t: TestApp;
  let votes: { 'X-API-Key': string };
  let reports: { 'X-API-Key': string };

  beforeAll(async () => {
    t = await startTestApp();
    const admin = t.http;
    await admin.post('/v1/admin/sources').set(t.admin).send({ id: 'votes', name: 'Active Citizen' }).expect(201);
    await admin.post('/v1/admin/sources').set(t.admin).send({ id: 'reports', name: 'Our City' }).expect(201);
    const key = async (sourceId: string) => ({
      'X-API-Key': (await admin.post('/v1/admin/api-clients').set(t.admin).send({ name: sourceId, role: 'source', sourceId }).expect(201))
        .body.apiKey,
    });
    votes = await key('votes');
    reports = await key('reports');
    const rule = (body: object) => admin.post('/v1/admin/earning-rules').set(t.admin).send(body).expect(201);
    await rule({ id: 'vote', sourceId: 'votes', eventType: 'vote.cast', points: '20', title: 'Vote in a city poll' });
    await rule({ id: 'novelty', sourceId: 'votes', eventType: 'novelty.rated', points: '3', dailyCap: '7', monthlyCap: '10' });
    await rule({ id: 'report', sourceId: 'reports', eventType: 'report.confirmed', points: '50', requiresConfirmation: true });
    await rule({ id: 'old', sourceId: 'votes', eventType: 'poll.old', points: '5', validTo: '2020-01-01T00:00:00Z' });
    await rule({ id: 'task', sourceId: 'reports', eventType: 'task.done', points: '50', minPoints: '50', maxPoints: '15000' });
    await admin
      .post('/v1/admin/campaigns')
      .set(t.admin)
      .send({
        id: 'bonus',
        name: 'Bonus week',
        sourceId: 'reports',
        eventType: 'bonus.vote',
        multiplier: '1.5',
        validFrom: '2026-01-01T00:00:00Z',
        validTo: '2030-01-01T00:00:00Z',
      })
      .expect(201);
    await rule({ id: 'bonus-vote', sourceId: 'reports', eventType: 'bonus.vote', points: '15' });
  });

  afterAll(async () => {
    expect(await ledgerViolations(t.prisma)).toEqual([]);
    await t.close();
  });

  const resident = () => `e${randomUUID().slice(0, 8)}`;
  const now = () => new Date().toISOString();
  const event = (residentId: string, over: object = {}) => ({
    externalId: randomUUID(),
    type: 'vote.cast',
    residentId,
    occurredAt: now(),
    ...over,
  });
  const post = (key: Record<string, string>, events: object[]) => t.http.post('/v1/earn-events').set(key).send({ events });
  const status = async (key: Record<string, string>, externalId: string) =>
    (await t.http.get(`/v1/earn-events/${externalId}`).set(key).expect(200)).body;
  const settled = (key: Record<string, string>, externalId: string, wanted = ['posted', 'pending', 'rejected']) =>
    waitFor(
      async () => {
        const e = await status(key, externalId);
        return wanted.includes(e.status) ? e : undefined;
      },
      20_000,
      `event ${externalId}`,
    );
  const balance = async (residentId: string) => (await t.http.get('/v1/me/balance').set(t.residentAuth(residentId)).expect(200)).body;

  it('admins list the rules of a source', async () => {
    const res = await t.http.get('/v1/admin/earning-rules?sourceId=reports').set(t.admin).expect(200);
    expect(res.body.items.map((r: { id: string }) => r.id)).toEqual(['bonus-vote', 'report', 'task']);
    expectProblem(await t.http.get('/v1/admin/earning-rules?sourceId=Not%20A%20Source').set(t.admin), 400, 'validation_failed');
  });

  it('a vote earns its 20 points, exactly once', async () => {
    const anna = resident();
    const e = event(anna, { attributes: { description: 'Vote in poll 123' } });
    const res = await post(votes, [e]).expect(202);
    expect(res.body).toEqual({ results: [{ externalId: e.externalId, status: 'accepted' }] });
    const done = await settled(votes, e.externalId);
    expect(done).toMatchObject({ externalId: e.externalId, type: 'vote.cast', residentId: anna, status: 'posted', points: '20' });
    expect(done.transactionId).toEqual(expect.any(String));
    expect(await balance(anna)).toEqual({ residentId: anna, available: '20', pending: '0', debt: '0', expiring: [] });
    const history = (await t.http.get('/v1/me/history').set(t.residentAuth(anna)).expect(200)).body;
    expect(history).toEqual({
      items: [
        {
          transactionId: done.transactionId,
          type: 'earn',
          amount: '20',
          balanceAfter: '20',
          description: 'Earned for: Vote in poll 123',
          createdAt: expect.any(String),
        },
      ],
      nextCursor: null,
    });
  });

  it('one event sent 50 times at once, and twice in one batch, is accrued once', async () => {
    const boris = resident();
    const e = event(boris);
    const answers = await Promise.all(Array.from({ length: 50 }, () => post(votes, [e])));
    expect(answers.every((a) => a.status === 202)).toBe(true);
    const statuses = answers.map((a) => a.body.results[0].status);
    expect(statuses.filter((s) => s === 'accepted')).toHaveLength(1);
    expect(statuses.filter((s) => s === 'duplicate')).toHaveLength(49);

    const twice = event(boris);
    const res = await post(votes, [twice, twice, event(boris, { externalId: e.externalId })]).expect(202);
    expect(res.body.results.map((r: { status: string }) => r.status)).toEqual(['accepted', 'duplicate', 'duplicate']);
    await settled(votes, twice.externalId);
    await settled(votes, e.externalId);
    expect((await balance(boris)).available).toBe('40');
    expect(await t.prisma.earnEvent.count({ where: { residentId: boris } })).toBe(2);
  });

  it('rejects, with a reason, events no rule prices', async () => {
    const vera = resident();
    const res = await post(votes, [
      event(vera, { type: 'idea.accepted' }),
      event(vera, { type: 'poll.old' }),
      event(vera, { type: 'report.confirmed' }), // another source's rule
    ]).expect(202);
    expect(res.body.results.map((r: { status: string; reason?: string }) => [r.status, r.reason])).toEqual([
      ['rejected', 'no_rule'],
      ['rejected', 'rule_not_valid'],
      ['rejected', 'no_rule'],
    ]);
    const stored = await status(votes, res.body.results[1].externalId);
    expect(stored).toMatchObject({ status: 'rejected', reason: 'rule_not_valid', points: null });
    expect((await balance(vera)).available).toBe('0');
  });

  it('a ranged rule takes the task’s points within its range', async () => {
    const gleb = resident();
    const ok = event(gleb, { type: 'task.done', attributes: { points: '700' } });
    const res = await post(reports, [ok, event(gleb, { type: 'task.done', attributes: { points: '20000' } })]).expect(202);
    expect(res.body.results.map((r: { status: string; reason?: string }) => r.reason)).toEqual([undefined, 'points_out_of_range']);
    expect((await settled(reports, ok.externalId)).points).toBe('700');
  });

  it('a campaign multiplies and rounds down: 15 × 1.5 = 22', async () => {
    const e = event(resident(), { type: 'bonus.vote' });
    await post(reports, [e]).expect(202);
    expect((await settled(reports, e.externalId)).points).toBe('22');
  });

  it('caps count the Moscow calendar: a part of the rest, then cap_reached, and a new day starts afresh', async () => {
    const dina = resident();
    // 20:30Z and 20:50Z are 23:30 and 23:50 in Moscow on the 10th; 21:10Z is 00:10 on the 11th
    const evening = ['2026-11-10T20:30:00Z', '2026-11-10T20:40:00Z', '2026-11-10T20:50:00Z'];
    const sent = evening.map((occurredAt) => event(dina, { type: 'novelty.rated', occurredAt }));
    const morning = event(dina, { type: 'novelty.rated', occurredAt: '2026-11-10T21:10:00Z' });
    await post(votes, sent).expect(202);
    const outcome = await Promise.all(sent.map((e) => settled(votes, e.externalId)));
    // daily cap 7: 3, 3, then the 1 left
    expect(outcome.map((e) => e.points)).toEqual(['3', '3', '1']);
    const fourth = event(dina, { type: 'novelty.rated', occurredAt: '2026-11-10T20:55:00Z' });
    await post(votes, [fourth, morning]).expect(202);
    expect(await settled(votes, fourth.externalId)).toMatchObject({ status: 'rejected', reason: 'cap_reached' });
    // the next Moscow day: the daily cap is fresh, the monthly cap (10) leaves 3
    expect(await settled(votes, morning.externalId)).toMatchObject({ status: 'posted', points: '3' });
    const later = event(dina, { type: 'novelty.rated', occurredAt: '2026-11-11T10:00:00Z' });
    await post(votes, [later]).expect(202);
    expect(await settled(votes, later.externalId)).toMatchObject({ status: 'rejected', reason: 'cap_reached' });
    expect((await balance(dina)).available).toBe('10');
  });

  describe('pending events', () => {
    it('a report awaiting confirmation shows as pending, is not spendable, and confirm posts it', async () => {
      const egor = resident();
      const e = event(egor, { type: 'report.confirmed' });
      await post(reports, [e]).expect(202);
      expect(await settled(reports, e.externalId)).toMatchObject({ status: 'pending', points: '50' });
      expect(await balance(egor)).toMatchObject({ available: '0', pending: '50' });
      const confirmed = await t.http.post(`/v1/earn-events/${e.externalId}/confirm`).set(reports).expect(200);
      expect(confirmed.body).toMatchObject({ status: 'posted', points: '50' });
      expect(await balance(egor)).toMatchObject({ available: '50', pending: '0' });
      expectProblem(await t.http.post(`/v1/earn-events/${e.externalId}/confirm`).set(reports), 409, 'invalid_state');
      expectProblem(await t.http.post(`/v1/earn-events/${e.externalId}/reject`).set(reports), 409, 'invalid_state');
    });

    it('status pending on a rule without confirmation waits too; reject voids it', async () => {
      const fedor = resident();
      const e = event(fedor, { status: 'pending' });
      await post(votes, [e]).expect(202);
      await settled(votes, e.externalId);
      expect(await balance(fedor)).toMatchObject({ available: '0', pending: '20' });
      const rejected = await t.http.post(`/v1/earn-events/${e.externalId}/reject`).set(votes).expect(200);
      expect(rejected.body).toMatchObject({ status: 'rejected' });
      expect(await balance(fedor)).toMatchObject({ available: '0', pending: '0' });
      expectProblem(await t.http.post(`/v1/earn-events/${e.externalId}/confirm`).set(votes), 409, 'invalid_state');
      expectProblem(await t.http.post(`/v1/earn-events/${e.externalId}/revoke`).set(votes), 409, 'invalid_state');
    });
  });

  describe('revoking', () => {
    const spend = (residentId: string, amount: string) =>
      t.http
        .post('/v1/ledger/transactions')
        .set(t.admin)
        .set('Idempotency-Key', randomUUID())
        .send({
          type: 'redeem',
          postings: [
            { account: `resident:${residentId}`, asset: 'POINTS', debit: amount },
            { account: 'partner:cafe:redeemed', asset: 'POINTS', credit: amount },
          ],
        })
        .expect(201);

    it('takes back the points the resident still has', async () => {
      const galya = resident();
      const e = event(galya);
      await post(votes, [e]).expect(202);
      await settled(votes, e.externalId);
      const revoked = await t.http.post(`/v1/earn-events/${e.externalId}/revoke`).set(votes).expect(200);
      expect(revoked.body.status).toBe('revoked');
      expect(await balance(galya)).toEqual({ residentId: galya, available: '0', pending: '0', debt: '0', expiring: [] });
      expectProblem(await t.http.post(`/v1/earn-events/${e.externalId}/revoke`).set(votes), 409, 'invalid_state');
    });

    it('after spending: takes what is available, records the rest as debt, and the next accrual repays it first', async () => {
      const ivan = resident();
      const first = event(ivan);
      await post(votes, [first]).expect(202);
      await settled(votes, first.externalId);
      await spend(ivan, '15');
      await t.http.post(`/v1/earn-events/${first.externalId}/revoke`).set(votes).expect(200);
      expect(await balance(ivan)).toEqual({ residentId: ivan, available: '0', pending: '0', debt: '15', expiring: [] });

      const second = event(ivan);
      await post(votes, [second]).expect(202);
      await settled(votes, second.externalId);
      // 20 earned: 15 repay the debt, 5 reach the balance
      expect(await balance(ivan)).toEqual({ residentId: ivan, available: '5', pending: '0', debt: '0', expiring: [] });
      const tx = await t.http
        .get(`/v1/ledger/transactions/${(await status(votes, second.externalId)).transactionId}`)
        .set(t.admin)
        .expect(200);
      expect(tx.body.postings).toEqual([
        { account: 'programme:issued', asset: 'POINTS', debit: '20' },
        { account: `resident:${ivan}:debt`, asset: 'POINTS', credit: '15' },
        { account: `resident:${ivan}`, asset: 'POINTS', credit: '5' },
      ]);
    });

    it('a pending accrual confirmed while the resident is in debt repays the debt first', async () => {
      const lev = resident();
      const vote = event(lev);
      await post(votes, [vote]).expect(202);
      await settled(votes, vote.externalId);
      const report = event(lev, { type: 'report.confirmed' });
      await post(reports, [report]).expect(202);
      expect(await settled(reports, report.externalId)).toMatchObject({ status: 'pending' });
      await spend(lev, '20');
      await t.http.post(`/v1/earn-events/${vote.externalId}/revoke`).set(votes).expect(200);
      expect(await balance(lev)).toEqual({ residentId: lev, available: '0', pending: '50', debt: '20', expiring: [] });

      const confirmed = await t.http.post(`/v1/earn-events/${report.externalId}/confirm`).set(reports).expect(200);
      expect(confirmed.body).toMatchObject({ status: 'posted', points: '50' });
      // 50 confirmed: 20 repay the debt, 30 reach the balance
      expect(await balance(lev)).toEqual({ residentId: lev, available: '30', pending: '0', debt: '0', expiring: [] });
      const tx = await t.http.get(`/v1/ledger/transactions/${confirmed.body.transactionId}`).set(t.admin).expect(200);
      expect(tx.body.postings).toEqual([
        { account: 'programme:issued', asset: 'POINTS', debit: '50' },
        { account: `resident:${lev}:debt`, asset: 'POINTS', credit: '20' },
        { account: `resident:${lev}`, asset: 'POINTS', credit: '30' },
      ]);
      // the accrual takes the issued account on the row the hold (and its void) used: the locks
      // come in the order earn batches take them, so the two cannot deadlock (a random row of
      // the 16 would match by chance one time in 16)
      const issuedRow = (txId: string) =>
        t.prisma.$queryRaw<{ shard: number }[]>`
          SELECT p.shard FROM ledger_postings p JOIN ledger_accounts a ON a.id = p.account_id
          WHERE p.transaction_id = ${txId}::uuid AND a.code = 'programme:issued'`;
      expect(tx.body.metadata.confirms).toEqual(expect.any(String));
      // one row each (two empty lists would be equal too: the hold's id must name the hold)
      const [accrualRow, ...more] = await issuedRow(confirmed.body.transactionId);
      expect(more).toEqual([]);
      expect(accrualRow).toEqual({ shard: expect.any(Number) });
      expect(await issuedRow(tx.body.metadata.confirms)).toEqual([accrualRow]);
      expectProblem(await t.http.post(`/v1/earn-events/${report.externalId}/confirm`).set(reports), 409, 'invalid_state');
    });

    it('revokes and rejects racing earn batches of the same capped rule finish without deadlock', async () => {
      const mila = resident();
      // novelty is capped (7 a day): batches lock cap rows, then balances; revoke and reject too
      const early = Array.from({ length: 4 }, (_, i) =>
        event(mila, {
          type: 'novelty.rated',
          occurredAt: new Date(Date.now() - (i + 1) * 1000).toISOString(),
          status: i % 2 ? 'pending' : 'confirmed',
        }),
      );
      await post(votes, early).expect(202);
      for (const e of early) await settled(votes, e.externalId);
      const later = Array.from({ length: 6 }, () => [event(mila, { type: 'novelty.rated' }), event(mila)]);
      const results = await Promise.all([
        ...early.map(async (e) => {
          const state = (await status(votes, e.externalId)).status;
          if (state === 'posted') return t.http.post(`/v1/earn-events/${e.externalId}/revoke`).set(votes);
          if (state === 'pending') return t.http.post(`/v1/earn-events/${e.externalId}/reject`).set(votes);
          return { status: 200 };
        }),
        ...later.map((batch) => post(votes, batch)),
      ]);
      expect(results.map((r) => r.status).filter((s) => s !== 200 && s !== 202)).toEqual([]);
      for (const batch of later) for (const e of batch) await settled(votes, e.externalId);
      // and the books add up: what the resident has (less what they owe) is what their posted
      // events earned, what is pending what their pending ones hold (a balance never below zero
      // says nothing: the ledger refuses that anyway)
      const finals: { status: string; points?: string | null }[] = await Promise.all(
        [...early, ...later.flat()].map((e) => status(votes, e.externalId)),
      );
      const earned = (state: string) => finals.filter((e) => e.status === state).reduce((n, e) => n + Number(e.points ?? 0), 0);
      expect(finals.filter((e) => !['posted', 'pending', 'rejected', 'revoked'].includes(e.status))).toEqual([]);
      expect(earned('posted')).toBeGreaterThan(0);
      const after = await balance(mila);
      expect({ net: Number(after.available) - Number(after.debt), pending: Number(after.pending) }).toEqual({
        net: earned('posted'),
        pending: earned('pending'),
      });
    });
  });

  it('a revoke racing the resident’s own spending leaves balance, spending and debt adding up', async () => {
    const kira = resident();
    await t.http
      .post('/v1/admin/adjustments')
      .set(t.admin)
      .set('Idempotency-Key', randomUUID())
      .send({ residentId: kira, amount: '100', reason: 'opening' })
      .expect(201);
    const e = event(kira);
    await post(votes, [e]).expect(202);
    await settled(votes, e.externalId);
    const spend = () =>
      t.http
        .post('/v1/ledger/transactions')
        .set(t.admin)
        .set('Idempotency-Key', randomUUID())
        .send({
          type: 'redeem',
          postings: [
            { account: `resident:${kira}`, asset: 'POINTS', debit: '20' },
            { account: 'partner:cafe:redeemed', asset: 'POINTS', credit: '20' },
          ],
        });
    const [revoked, ...spends] = await Promise.all([
      t.http.post(`/v1/earn-events/${e.externalId}/revoke`).set(votes),
      ...Array.from({ length: 6 }, spend),
    ]);
    expect(revoked.status).toBe(200);
    const spent = spends.filter((s) => s.status === 201).length * 20;
    const after = await balance(kira);
    // 120 in, 20 revoked: what is left plus what was spent, less what is owed, is 100
    expect(Number(after.available) + spent - Number(after.debt)).toBe(100);
    expect(Number(after.available)).toBeGreaterThanOrEqual(0);
  });

  describe('bad input changes nothing', () => {
    const count = () => t.prisma.earnEvent.count();

    it.each([
      ['1001 events', () => ({ events: Array.from({ length: 1001 }, () => event('x1')) })],
      ['no events', () => ({ events: [] })],
      ['events missing', () => ({})],
      ['a missing field', () => ({ events: [{ externalId: 'a', type: 'vote.cast', occurredAt: now() }] })],
      ['a wrong type', () => ({ events: [event('x1', { occurredAt: 12345 })] })],
      ['an unknown resident format', () => ({ events: [event('not a resident!')] })],
      ['occurredAt far in the future', () => ({ events: [event('x1', { occurredAt: '2999-01-01T00:00:00Z' })] })],
      ['a date that is not one', () => ({ events: [event('x1', { occurredAt: '2026-02-30T10:00:00Z' })] })],
      ['an unknown status', () => ({ events: [event('x1', { status: 'maybe' })] })],
      ['a source in the body', () => ({ events: [event('x1', { sourceId: 'reports' })] })],
      ['attributes that are not an object', () => ({ events: [event('x1', { attributes: ['a'] })] })],
      ['one bad event among good ones', () => ({ events: [event('x1'), event('x1', { residentId: '' })] })],
    ])('%s: 400 and nothing stored', async (_what, body) => {
      const before = await count();
      expectProblem(await t.http.post('/v1/earn-events').set(votes).send(body()), 400, 'validation_failed');
      expect(await count()).toBe(before);
    });

    it('another source cannot see or change an event: 404', async () => {
      const e = event(resident());
      await post(votes, [e]).expect(202);
      await settled(votes, e.externalId);
      expectProblem(await t.http.get(`/v1/earn-events/${e.externalId}`).set(reports), 404, 'not_found');
      expectProblem(await t.http.post(`/v1/earn-events/${e.externalId}/revoke`).set(reports), 404, 'not_found');
      expectProblem(await t.http.get(`/v1/earn-events/${randomUUID()}`).set(votes), 404, 'not_found');
    });
  });

  it('10,000 events in batches of 1000 for 1,000 residents: all posted, the sum exact', async () => {
    const residents = Array.from({ length: 1000 }, (_, i) => `bulk${i}`);
    const batches = Array.from({ length: 10 }, (_, b) => Array.from({ length: 1000 }, (_, i) => event(residents[(b * 1000 + i) % 1000])));
    for (const batch of batches) {
      const res = await post(votes, batch).expect(202);
      expect(res.body.results.every((r: { status: string }) => r.status === 'accepted')).toBe(true);
    }
    const ids = batches.flat().map((e) => e.externalId);
    await waitFor(
      async () => (await t.prisma.earnEvent.count({ where: { externalId: { in: ids }, status: 'posted' } })) === 10_000 || undefined,
      60_000,
      '10,000 posted',
    );
    const sum = await t.prisma.$queryRawUnsafe<{ total: string }[]>(
      `SELECT sum(b.credits_posted - b.debits_posted)::text AS total FROM account_balances b JOIN ledger_accounts a ON a.id = b.account_id WHERE a.code LIKE 'resident:bulk%'`,
    );
    expect(sum[0].total).toBe('200000');
    expect((await balance('bulk7')).available).toBe('200');
  });
});
