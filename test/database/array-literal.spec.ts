import fc from 'fast-check';
import { Client } from 'pg';
import { arrayLiteral } from '../../src/infra/database/array-literal';
import { assertTestDatabase, createTestDatabase, dropTestDatabase } from '../support/services';

/** Array parameters sent as one literal come out in PostgreSQL exactly as they went in. */
describe('arrayLiteral', () => {
  let client: Client;
  let name: string;

  beforeAll(async () => {
    const db = await createTestDatabase();
    assertTestDatabase(db.url);
    name = db.name;
    client = new Client({ connectionString: db.url });
    await client.connect();
  });

  afterAll(async () => {
    await client.end();
    await dropTestDatabase(name);
  });

  const roundTrip = async (values: (string | null)[]) =>
    (
      await client.query<{ v: string | null }>('SELECT v FROM unnest($1::text[]) WITH ORDINALITY AS u(v, n) ORDER BY n', [
        arrayLiteral(values),
      ])
    ).rows.map((r) => r.v);

  it('keeps quotes, backslashes, braces, commas, spaces, NULL-looking and empty strings, and nulls', async () => {
    const tricky = ['a', 'b"c', 'd\\e', '\\"', '"', '\\', null, 'NULL', 'null', '', ' x ', '{,}', '{"a": "b\\"c"}', 'снег ❄', '\t\n'];
    expect(await roundTrip(tricky)).toEqual(tricky);
  });

  it('keeps any text (500 generated arrays)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.option(
            fc.string({ unit: 'grapheme', maxLength: 40 }).filter((s) => !s.includes('\u0000')),
            { nil: null },
          ),
          { maxLength: 20 },
        ),
        async (values) => {
          expect(await roundTrip(values)).toEqual(values);
        },
      ),
      { numRuns: 500, seed: 42 },
    );
  });

  it('carries numbers, bigints, uuids and jsonb', async () => {
    const { rows } = await client.query(
      'SELECT $1::bigint[]::text[] AS b, $2::numeric[]::text[] AS n, $3::uuid[]::text[] AS u, $4::jsonb[] AS j',
      [
        arrayLiteral([1n, 9007199254740993n]),
        arrayLiteral(['10', '0.25', 7]),
        arrayLiteral(['6f1c2a9e-1b7d-4c53-9a43-2d9f4f0e8b11']),
        arrayLiteral([JSON.stringify({ description: 'Vote "123" \\ ok', n: 1 }), null]),
      ],
    );
    expect(rows[0].b).toEqual(['1', '9007199254740993']);
    expect(rows[0].n).toEqual(['10', '0.25', '7']);
    expect(rows[0].u).toEqual(['6f1c2a9e-1b7d-4c53-9a43-2d9f4f0e8b11']);
    expect(rows[0].j).toEqual([{ description: 'Vote "123" \\ ok', n: 1 }, null]);
  });
});
