import { ValidationError } from '../errors.ts';
import { isPostgresUrl, PostgresStore } from './postgres.ts';
import type { LedgerStore } from './types.ts';

/**
 * The store a ledger URL names (`ledger: { url }`, $TOKENMETER_LEDGER_URL, the CLI's --ledger):
 * PostgreSQL for `postgres://` and `postgresql://`. Nothing connects until the first read or write.
 */
export function openLedgerUrl(url: string, field = 'ledger.url'): LedgerStore {
  if (!isPostgresUrl(url))
    throw new ValidationError(field, url.replace(/:[^:@/]*@/, ':***@'), 'must be a postgres:// or postgresql:// URL');
  return new PostgresStore(url);
}
