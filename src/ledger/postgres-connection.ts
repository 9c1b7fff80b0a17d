/**
 * The PostgreSQL ledger's connection (postgres.ts): how its values are parsed, its URL as messages
 * show it, and which failures mean the connection rather than the statement failed.
 */
import type Pg from 'pg';

/** int8 (COUNT, SUM(...)::bigint, bigint columns) as bigint: exact; other types as pg parses them. */
export function pgTypes(pg: typeof Pg): Pg.CustomTypesConfig {
  return {
    getTypeParser: ((oid: number, format?: string) =>
      oid === 20 ? (v: string) => BigInt(v) : pg.types.getTypeParser(oid, format as 'text')) as Pg.CustomTypesConfig['getTypeParser'],
  };
}

/** A connection string without its password, for messages and `location`. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://(unparsable url)';
  }
}

/** Whether a ledger option names PostgreSQL rather than a file. */
export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//i.test(url);
}

/** Errors that mean the connection, not the statement, failed: the outcome of a COMMIT is then unknown. */
export function connectionLost(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  const msg = String((error as Error)?.message ?? '');
  return (
    (typeof code === 'string' && (code.startsWith('08') || code === '57P01' || code === 'ECONNRESET' || code === 'EPIPE')) ||
    /Connection terminated|connection.*(closed|lost|ended)|ECONNRESET/i.test(msg)
  );
}
