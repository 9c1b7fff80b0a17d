import type { ConfigHealth } from './budget-sync.ts';
import type { BudgetSpec } from './budgets/budget-spec.ts';
import type { LedgerStore } from './ledger/types.ts';
import type { LedgerHealth, LedgerWriterOptions } from './ledger/writer.ts';
import type { Env, Logger, LogLevel } from './logger.ts';
import type { CardinalityOptions, MetricLabelOptions } from './metrics/cardinality.ts';
import type { ExportOptions } from './metrics/exporters.ts';
import type { PriceDataOptions } from './pricing/price-data.ts';
import type { PriceOverride } from './pricing/types.ts';

/** What tokenmeter exports, and how much of it. */
export interface MetricsOptions extends ExportOptions, CardinalityOptions {
  /** The GenAI semantic-convention histograms (`gen_ai.client.*`). @default true */
  semconv?: boolean;
  /** Optional labels on tokenmeter's own metrics. @default all off (they stay in the ledger) */
  labels?: MetricLabelOptions;
}

/** Options of a {@link TokenMonitor}; every one has a default. */
export interface TokenMonitorOptions {
  /** Storage dir: config.json and the ledger (ledger.db). @default $TOKENMETER_DIR, else ~/.tokenmeter */
  dir?: string;
  /** The usage ledger; `false` keeps nothing on disk. @default SQLite at <dir>/ledger.db, batched writes */
  ledger?: LedgerOptions | false;
  /** Turn every call into a no-op. @default true when $TOKENMETER_DISABLED is 1 or true */
  disabled?: boolean;
  /** Metrics and their exporters; `false` records without exporting. @default Prometheus endpoint on 127.0.0.1:9464/metrics */
  metrics?: MetricsOptions | false;
  /** Prices in USD per 1M tokens (and per search unit), keyed by model or `provider/model`; they win over the bundled data. */
  prices?: Record<string, PriceOverride>;
  /** Read prices from `config.json` in the storage dir. @default true */
  loadConfig?: boolean;
  /**
   * Newer genai-prices data: where `refreshPrices()` fetches it, and the age past which it warns.
   * Data a refresh kept in `<dir>/prices.json` is used (offline) when there; `false`: the bundled data only.
   * @default config.json `price_data`
   */
  priceData?: PriceDataOptions | false;
  /** Secret of the key-id HMAC. @default $TOKENMETER_KEY_ID_SECRET, else a fixed string */
  keyIdSecret?: string;
  /** Where log lines go. @default stderr */
  logger?: Logger;
  /** @default $TOKENMETER_LOG, else 'warn' */
  logLevel?: LogLevel;
  /** Environment to read TOKENMETER_* from. @default process.env */
  env?: Env;
  /** Budgets beyond the config file's (which are loaded too). */
  budgets?: BudgetSpec[];
  /** The clock budgets' windows follow. @default Date.now */
  clock?: () => number;
}

/** Where and how records are kept. */
export interface LedgerOptions extends LedgerWriterOptions {
  /** A store of your own; it wins over `url` and `file`. */
  store?: LedgerStore;
  /** A PostgreSQL ledger (`postgres://user:pass@host/db`), shared by many instances; wins over `file`. @default $TOKENMETER_LEDGER_URL */
  url?: string;
  /** The SQLite file. @default <dir>/ledger.db */
  file?: string;
  /**
   * How often budgets read the window's spending of every process sharing this ledger (and
   * config.json is looked at for changes), in ms; 0: never (each process sees only its own
   * spending, and config.json is read once). See "Fleet-wide budgets" in the README. @default 2000
   */
  syncIntervalMs?: number;
}

/** What `monitor.health()` reports. */
export interface Health {
  /** False while the ledger cannot be written or records were lost. */
  ok: boolean;
  ledger: LedgerHealth | null;
  metricsUrl: string | undefined;
  /**
   * config.json, watched for budget and alert changes: `ok` false while a change to it cannot be
   * applied (its last good budgets hold; `ok` above stays true). null when it is not read (`loadConfig: false`).
   */
  config: ConfigHealth | null;
}
