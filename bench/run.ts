/**
 * `npm run bench [-- <filter>[,<filter>...]]`: runs the benchmarks whose name contains a filter (or is
 * exactly `name` for a filter `=name`), prints
 * one JSON object and writes it to bench/results.json.
 *   { "node": "<version>", "results": [ { name, value, unit, baseline?, baselineValue?, ratio? } ] }
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchBudgets } from './budgets.ts';
import { benchCli } from './cli.ts';
import { benchFleetSync } from './fleet-sync.ts';
import type { Result } from './harness.ts';
import { benchImportHeap } from './import-heap.ts';
import { benchLedger, benchRecordLoop } from './ledger.ts';
import { benchMetrics } from './metrics.ts';
import { benchPage } from './page.ts';
import { benchPostgres } from './postgres.ts';
import { benchRecord } from './record.ts';
import { benchRestIngest } from './rest-ingest.ts';
import { benchScrape10k } from './scrape-10k.ts';
import { benchWrap, WRAP_NAMES } from './wrap.ts';

const suites: { names: string[]; run: (wanted: (name: string) => boolean) => Promise<Result[]> }[] = [
  { names: ['record', 'record-semconv-off', 'otel-counter-add', 'prom-client-inc'], run: benchRecord },
  // µs the wrapper adds per call (mean over long batches in fresh processes), beside what
  // @opentelemetry/instrumentation-openai adds (openai 6) or the bare call (openai 7); and the paired medians.
  { names: WRAP_NAMES, run: benchWrap },
  // MB of heap tokenmeter holds once imported with a monitor (default config), beside the OpenAI instrumentation's setup.
  { names: ['import-heap', 'import-heap-otel'], run: benchImportHeap },
  // ns per call: record() with five enforced budgets beside record() without (medians of interleaved
  // rounds in one process; -fresh: means over long batches, one monitor per fresh process); those
  // budgets' own work (BudgetTracker.spend alone); the enforcement decision.
  {
    names: [
      'record-no-budgets',
      'record-with-budgets',
      'budget-spend-alone',
      'record-no-budgets-fresh',
      'record-with-budgets-fresh',
      'enforce-check',
    ],
    run: benchBudgets,
  },
  // ingest: records/s beside the raw insert rate, bursts of one millisecond beside spread ones; summaries and
  // one subject's usage: ms (p95, -p50, -mean beside the 1M figure); size: bytes per record on disk.
  {
    names: [
      'ledger-ingest',
      'sqlite-raw-insert',
      'ledger-ingest-same-ms',
      'summary-30d-1m',
      'summary-30d-10m',
      'summary-by-user-30d-1m',
      'summary-by-user-30d-10m',
      'ledger-bytes-per-record',
      // ms of `advise` over 30 days (rollups and a bounded scan) beside the 30-day summary of the same ledger.
      'advise-30d-1m',
      'advise-30d-10m',
    ].concat(['user', 'thread', 'key', 'agent', 'run'].flatMap((s) => [`${s}-usage-30d-1m`, `${s}-usage-30d-10m`])),
    run: benchLedger,
  },
  // records/s through `tokenmeter serve` (batches of 100, 4 keep-alive clients) beside record() in process; lost: ledger rows missing.
  {
    names: [
      'rest-ingest',
      'rest-ingest-in-process',
      'rest-ingest-median',
      'rest-ingest-lost',
      'rest-ingest-answer-bytes',
      'rest-ingest-cpu',
    ],
    run: benchRestIngest,
  },
  // ns per record() in a 200,000-call loop with the SQLite ledger beside ledger: false, fresh processes.
  {
    names: [
      'record-loop-no-ledger',
      'record-loop-with-ledger',
      'record-loop-with-ledger-loop-only',
      'record-loop-with-ledger-main-thread-cpu-share',
      'record-loop-with-ledger-yielding',
      'record-loop-with-ledger-yielding-loop-only',
      'record-loop-with-ledger-yielding-main-thread-cpu-share',
      'record-loop-with-ledger-no-thread-yielding',
      'record-loop-with-ledger-no-thread-yielding-loop-only',
      'record-loop-with-ledger-no-thread-yielding-main-thread-cpu-share',
    ],
    run: async () => benchRecordLoop(),
  },
  // ms for `tokenmeter summary` on an empty dir (the built CLI, fresh processes) beside `node -e 0`.
  { names: ['cli-summary-empty', 'cli-summary-empty-median', 'node-start'], run: benchCli },
  // One scrape over HTTP at the default caps and at the largest accepted (ms, bytes, RSS growth).
  {
    names: ['metrics-scrape-300', 'metrics-scrape-10000', 'metrics-scrape-bytes', 'metrics-scrape-rss-growth'],
    run: benchMetrics,
  },
  // ms for every data request the built-in page makes on load, over HTTP to `tokenmeter serve` over a
  // 10M-record ledger (mean, -p50), beside the same over 1M records and the same reports in process.
  {
    names: [
      'page-load-10m',
      'page-load-10m-p50',
      'page-load-1m',
      'page-load-1m-p50',
      'page-load-10m-in-process',
      'page-load-10m-in-process-p50',
    ],
    run: benchPage,
  },
  // ms per /metrics scrape of ~10,000 series (a tenth histograms) beside prom-client's registry.metrics() for the same series.
  {
    names: [
      'scrape-10k-series',
      'scrape-10k-series-mean',
      'scrape-10k-series-prom-client',
      'scrape-10k-series-prom-client-mean',
      'scrape-10k-series-count',
      'scrape-10k-series-bytes',
    ],
    run: benchScrape10k,
  },
  // ms of one fleet-wide budget sync (three budgets, 200 per-user states) over a 200k-record SQLite ledger, beside a 30-day summary of it.
  {
    names: [
      'budget-sync-200k',
      'budget-sync-200k-mean',
      'budget-sync-200k-fixed-only',
      'budget-sync-summary-30d-200k',
      'budget-sync-summary-30d-200k-mean',
      'budget-sync-200k-main-cpu',
      'budget-sync-200k-share-at-default-interval',
    ],
    run: benchFleetSync,
  },
  // PostgreSQL ledger (a server of its own): records/s from one process beside raw `pg` multi-row inserts;
  // the 30-day summary over 10M records (ms, beside the 50 ms target; the COPY load takes minutes).
  {
    names: ['pg-ingest', 'pg-raw-insert', 'pg-summary-30d-10m', 'pg-summary-30d-10m-mean', 'pg-summary-30d-10m-load-copy'],
    run: benchPostgres,
  },
];

// Nothing a benchmark records lands in the user's ~/.tokenmeter.
process.env.TOKENMETER_DIR = mkdtempSync(join(tmpdir(), 'tokenmeter-bench-'));
// `npm run bench -- ledger,summary`: the benchmarks whose name contains any of the words.
const filters = (process.argv[2] ?? '').split(',');
// `=name` wants that benchmark alone (`record` is part of many names); any other filter, every name containing it.
const wanted = (name: string) => filters.some((f) => (f.startsWith('=') ? name === f.slice(1) : name.includes(f)));
const results: Result[] = [];
for (const suite of suites) {
  if (!suite.names.some(wanted)) continue;
  // Baselines are measured with their subjects; each result carries its baseline's figure.
  for (const r of await suite.run(wanted)) if (wanted(r.name)) results.push(r);
}
const out = { node: process.version, results };
const json = JSON.stringify(out, null, 2);
writeFileSync(join(import.meta.dirname, 'results.json'), `${json}\n`);
process.stdout.write(`${json}\n`);
