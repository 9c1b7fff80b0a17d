import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PostgresServer, startPostgres } from '../../test/helpers/postgres.ts';
import { binaryArray } from './pg-binary.ts';

let server: PostgresServer;
let client: pg.Client;

beforeAll(async () => {
  server = await startPostgres();
  client = new pg.Client({ connectionString: server.url });
  await client.connect();
});
afterAll(async () => {
  await client?.end();
  await server?.remove();
});

/** What PostgreSQL reads from the binary array, each element as text (NULL as null). */
async function roundTrip(type: 'bigint' | 'integer' | 'text' | 'boolean', values: unknown[]): Promise<(string | null)[]> {
  const r = await client.query<{ v: string | null }>(
    `SELECT v::text AS v FROM unnest($1::${type}[]) WITH ORDINALITY AS u(v, i) ORDER BY i`,
    [binaryArray(type, values)],
  );
  return r.rows.map((row) => row.v);
}

describe('binaryArray', () => {
  it('is read by PostgreSQL as the same values, NULLs, signs, extremes and UTF-8 included', async () => {
    expect(
      await roundTrip('bigint', [0, 1, -1, 2 ** 32, -(2 ** 32) - 7, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, null, 12n]),
    ).toEqual(['0', '1', '-1', '4294967296', '-4294967303', '9007199254740991', '-9007199254740991', null, '12']);
    expect(await roundTrip('integer', [0, -5, 2 ** 31 - 1, null])).toEqual(['0', '-5', '2147483647', null]);
    expect(await roundTrip('boolean', [true, false, null])).toEqual(['true', 'false', null]);
    const texts = ['', 'plain', 'quote " and \\ backslash', '{braces},commas', 'NULL', 'héllo 日本 🎉', null];
    expect(await roundTrip('text', texts)).toEqual(texts);
    expect(await roundTrip('text', [])).toEqual([]);
  });

  it('refuses a fraction for a bigint, naming it, rather than storing another number', () => {
    expect(() => binaryArray('bigint', [1.5])).toThrow(/not an integer for a bigint column: 1.5/);
  });
});
