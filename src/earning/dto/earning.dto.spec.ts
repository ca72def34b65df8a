import 'reflect-metadata';
import fc from 'fast-check';
import { createValidationPipe } from '../../common/validation';
import { EarnEventsBatchDto, isValidBatch } from './earning.dto';

/** The batch's quick check against the DTO's decorators: it may refuse a valid batch, never pass an invalid one. */
describe('isValidBatch', () => {
  const pipe = createValidationPipe();
  const byPipe = async (body: unknown) =>
    pipe.transform(body, { type: 'body', metatype: EarnEventsBatchDto, data: undefined }).then(
      () => true,
      () => false,
    );

  const valid = {
    externalId: fc.stringMatching(/^[\x21-\x7e]{1,200}$/),
    type: fc.constantFrom('vote.cast', 'report.confirmed', 'idea_accepted', 'task-done'),
    residentId: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/),
    occurredAt: fc.date({ min: new Date('2000-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }).map((d) => d.toISOString()),
    status: fc.constantFrom('confirmed', 'pending'),
    attributes: fc.dictionary(fc.string({ maxLength: 10 }), fc.oneof(fc.string({ maxLength: 20 }), fc.integer())),
  };
  // values that break a field, or sit at its edge
  const odd = fc.oneof(
    fc.constant(null),
    fc.constant(''),
    fc.constant(' '),
    fc.constant('a b'),
    fc.constant('x'.repeat(201)),
    fc.constant('Vote'),
    fc.constant('2026-02-30T10:00:00Z'),
    fc.constant('2026-11-22 10:00:00Z'),
    fc.constant('2026-11-22'),
    fc.constant('confirmed '),
    fc.constant({ big: 'x'.repeat(5000) }),
    fc.constant([]),
    fc.integer(),
    fc.boolean(),
    fc.string({ maxLength: 30 }),
  );
  const field = <T>(good: fc.Arbitrary<T>) => fc.oneof({ arbitrary: good, weight: 4 }, { arbitrary: odd, weight: 1 });
  const anyField = fc
    .record(
      {
        externalId: field(valid.externalId),
        type: field(valid.type),
        residentId: field(valid.residentId),
        occurredAt: field(valid.occurredAt),
        status: field(valid.status),
        attributes: field(valid.attributes),
        extra: odd,
      },
      { requiredKeys: [] },
    )
    .map((e) => ({ ...e })); // as JSON.parse makes them: with Object's prototype
  const wellFormedEvent = fc.record(valid, { requiredKeys: ['externalId', 'type', 'residentId', 'occurredAt'] }).map((e) => ({ ...e }));
  // a well-formed event with one field broken (or an unknown one added): the near misses
  const oneBroken = fc
    .tuple(wellFormedEvent, fc.constantFrom(...Object.keys(valid), 'extra'), odd)
    .map(([e, key, value]) => ({ ...e, [key]: value }));
  const event = fc.oneof(
    { arbitrary: wellFormedEvent, weight: 4 },
    { arbitrary: oneBroken, weight: 2 },
    { arbitrary: anyField, weight: 1 },
  );
  const batch = fc.oneof(
    { arbitrary: fc.record({ events: fc.array(event, { minLength: 0, maxLength: 4 }) }), weight: 8 },
    { arbitrary: fc.record({ events: fc.array(event, { maxLength: 2 }), other: odd }), weight: 1 },
    { arbitrary: odd, weight: 1 },
  );

  it('passes nothing the validation pipe refuses (2,000 generated bodies)', async () => {
    let passed = 0;
    let refusedByPipe = 0;
    await fc.assert(
      fc.asyncProperty(batch, async (body) => {
        const pipeSays = await byPipe(body);
        if (!pipeSays) refusedByPipe++;
        if (isValidBatch(body)) {
          passed++;
          expect(pipeSays).toBe(true);
        }
      }),
      { numRuns: 2000, seed: 20261123 },
    );
    // the property says something only if the generator reached both sides: bodies the quick
    // check passes (each one checked against the pipe) and bodies the pipe refuses
    expect(passed).toBeGreaterThan(100);
    expect(refusedByPipe).toBeGreaterThan(100);
  });

  it('passes the batches sources send: every field valid, optional ones present or not', async () => {
    const wellFormed = fc.array(wellFormedEvent, { minLength: 1, maxLength: 5 });
    await fc.assert(
      fc.asyncProperty(wellFormed, async (events) => {
        expect(isValidBatch({ events })).toBe(true);
        expect(await byPipe({ events })).toBe(true);
      }),
      { numRuns: 500, seed: 7 },
    );
  });

  it('refuses the edges: no events, more than 1000, an unknown field', () => {
    const one = { externalId: 'e-1', type: 'vote.cast', residentId: 'anna', occurredAt: '2026-11-22T10:00:00Z' };
    expect(isValidBatch({ events: [one] })).toBe(true);
    expect(isValidBatch({ events: [] })).toBe(false);
    expect(isValidBatch({ events: Array(1001).fill(one) })).toBe(false);
    expect(isValidBatch({ events: Array(1000).fill(one) })).toBe(true);
    expect(isValidBatch({ events: [{ ...one, sourceId: 'other' }] })).toBe(false);
    expect(isValidBatch({ events: [one], source: 'x' })).toBe(false);
  });
});
