import { closeSync, createReadStream, existsSync, fsyncSync, openSync, readdirSync, statSync, writeSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createGunzip, gzipSync } from 'node:zlib';
import { LedgerError } from '../errors.ts';
import type { UsageRecord } from '../usage.ts';
import { fromSnakeRecord, toSnakeRecord } from './columns.ts';
import { DAY_MS } from './rollup.ts';
import type { ArchiveInfo, LedgerStore } from './types.ts';

const FILE = /^ledger-(\d{4}-\d{2})\.ndjson\.gz$/;
/** Lines per gzip member: bounds the memory a cleanup holds. */
const CHUNK = 5_000;

export interface CleanupResult {
  /** Records older than the cutoff that were archived and deleted. */
  deleted: number;
  /** The start of the oldest day kept (UTC). */
  cutoff: string;
  /** The archive files written to, one per month of the records that went. */
  archives: ArchiveInfo[];
}

/**
 * Retention: writes every record older than `days` (whole UTC days) to a monthly archive, then
 * deletes it from the ledger, rollups included. Archives are gzip-compressed NDJSON, one file per
 * month (`ledger-2026-10.ndjson.gz`), each cleanup appending a gzip member, so they can be read
 * with `zcat` as well as by `readArchive`. Each line carries the record's ledger id: a cleanup
 * cut short between archiving and deleting leaves duplicates that reading back drops.
 */
export async function cleanup(store: LedgerStore, archiveDir: string, days: number, now = Date.now()): Promise<CleanupResult> {
  const cutoff = Math.floor((now - days * DAY_MS) / DAY_MS) * DAY_MS;
  await mkdir(archiveDir, { recursive: true }).catch((cause: unknown) => {
    throw new LedgerError(archiveDir, `cannot create the archive dir: ${(cause as Error).message}`, { cause });
  });
  const pending = new Map<string, string[]>();
  const touched = new Set<string>();
  const write = (month: string) => {
    const lines = pending.get(month);
    if (lines === undefined || lines.length === 0) return;
    const path = join(archiveDir, `ledger-${month}.ndjson.gz`);
    try {
      const fd = openSync(path, 'a');
      try {
        writeSync(fd, gzipSync(`${lines.join('\n')}\n`));
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    } catch (cause) {
      throw new LedgerError(path, `cannot write the archive, nothing was deleted: ${(cause as Error).message}`, { cause });
    }
    pending.set(month, []);
    touched.add(month);
  };
  let n = 0;
  for await (const r of store.iterate({ until: cutoff })) {
    const month = new Date(r.timestamp).toISOString().slice(0, 7);
    let lines = pending.get(month);
    if (lines === undefined) {
      lines = [];
      pending.set(month, lines);
    }
    const line: Record<string, unknown> = { id: (r as { id?: number }).id, ...toSnakeRecord(r), cost_pico_usd: r.costPicoUsd };
    lines.push(JSON.stringify(line));
    n++;
    if (lines.length >= CHUNK) write(month);
  }
  for (const month of pending.keys()) write(month);
  const deleted = n === 0 ? 0 : await store.deleteBefore(cutoff);
  return {
    deleted,
    cutoff: new Date(cutoff).toISOString(),
    archives: listArchives(archiveDir).filter((a) => touched.has(a.month)),
  };
}

/** The archive files in a dir, oldest month first. */
export function listArchives(archiveDir: string): ArchiveInfo[] {
  if (!existsSync(archiveDir)) return [];
  return readdirSync(archiveDir)
    .map((file) => ({ file, m: FILE.exec(file) }))
    .filter((x): x is { file: string; m: RegExpExecArray } => x.m !== null)
    .map(({ file, m }) => {
      const path = join(archiveDir, file);
      return { file, path, month: m[1] as string, bytes: statSync(path).size };
    })
    .sort((a, b) => a.month.localeCompare(b.month));
}

/** The records of one archive file (a path, or a month such as `2026-10` in `archiveDir`), oldest first. */
export async function* readArchive(pathOrMonth: string, archiveDir?: string): AsyncGenerator<UsageRecord> {
  const path =
    /^\d{4}-\d{2}$/.test(pathOrMonth) && archiveDir !== undefined ? join(archiveDir, `ledger-${pathOrMonth}.ndjson.gz`) : pathOrMonth;
  if (!existsSync(path)) throw new LedgerError(path, 'no such archive');
  const seen = new Set<number>();
  const lines = createInterface({ input: createReadStream(path).pipe(createGunzip()), crlfDelay: Number.POSITIVE_INFINITY });
  for await (const line of lines) {
    if (line === '') continue;
    const o = JSON.parse(line) as Record<string, unknown>;
    if (typeof o.id === 'number') {
      if (seen.has(o.id)) continue;
      seen.add(o.id);
    }
    yield fromSnakeRecord(o);
  }
}
