import { join } from 'node:path';
import { ledgerSeeder, ledgerSpend } from './budget-seeding.ts';
import { BudgetSync, DEFAULT_SYNC_INTERVAL_MS } from './budget-sync.ts';
import { BudgetSink, Budgets } from './budgeting.ts';
import type { Alert } from './budgets/budget-spec.ts';
import { configPrices, loadConfig, resolveDir } from './config.ts';
import { configBudgets, configThresholds } from './config-budgets.ts';
import type { CallContext } from './context.ts';
import { LedgerError, ValidationError } from './errors.ts';
import { onTokenizerFailure as listenToTokenizer } from './instrument/tokenizer-thread.ts';
import { DEFAULT_KEY_ID_SECRET, KeyIdCache } from './key-id.ts';
import { openLedgerUrl } from './ledger/open.ts';
import { LedgerSink } from './ledger/sink.ts';
import { LedgerWriter } from './ledger/writer.ts';
import { createStderrLogger, type Logger, logLevelFromEnv, OnceLogger, SecretKeys } from './logger.ts';
import { Aggregator } from './metrics/aggregator.ts';
import { CARDINALITY_DEFAULTS, SERIES_PER_LABEL_SET } from './metrics/cardinality.ts';
import { MetricsExport } from './metrics/exporters.ts';
import { MetricsSink } from './metrics/sink.ts';
import type { Health, TokenMonitorOptions } from './monitor-options.ts';
import type { ReportSources } from './monitor-queries.ts';
import { checkMonitorOptions } from './option-keys.ts';
import { LaterQueue } from './pipeline/later.ts';
import { RecordPipeline, type RecordResult } from './pipeline/pipeline.ts';
import { type CallFacts, inputOfUsage } from './pipeline/usage-input.ts';
import { PriceBook } from './pricing/price-book.ts';
import { PriceCache } from './pricing/price-cache.ts';
import { checkMaxAgeDays, DEFAULT_PRICE_DATA_URL, loadPriceData, type RefreshResult, refreshPriceData } from './pricing/price-data.ts';
import { resolveSource } from './pricing/price-source.ts';
import type { Usage } from './providers/index.ts';
import type { RecordSink } from './record-sink.ts';
import { statusOf } from './reports/budget-status.ts';

/** Everything a monitor is made of, built from its options and wired together (only here do the parts meet). */
export interface MonitorParts {
  dir: string;
  disabled: boolean;
  log: Logger;
  once: OnceLogger;
  /** The keys of the clients the monitor meters: no log line carries one. */
  secrets: SecretKeys;
  prices: PriceBook;
  /** Where refreshPrices() reads; undefined when priceData is false. */
  priceSource: string | undefined;
  keyIdOf: (apiKey: string) => string;
  agg: Aggregator;
  export: MetricsExport | undefined;
  ledger: LedgerWriter | undefined;
  budgets: Budgets;
  /** Reads the fleet's spending into the budgets and applies config.json's changes, from a timer. */
  budgetSync: BudgetSync;
  pipeline: RecordPipeline<Alert>;
  /**
   * Instrumented calls waiting to be recorded at the event loop's next turn (see LaterQueue):
   * whatever reads what was recorded drains it first.
   */
  later: LaterQueue<Usage, CallFacts>;
  /**
   * Records a call from the usage its provider reported (`meter`: without building a result), in
   * context `ctx`: what it held is given back first. Never throws: a call that cannot be recorded
   * is counted and logged as an internal error of `instrument`.
   */
  recordCall(usage: Usage, facts: CallFacts, ctx: CallContext | undefined, meter: boolean): RecordResult<Alert> | undefined;
  /** Counts (`tokenmeter_internal_errors_total{component}`) and logs once a failure inside tokenmeter; never throws. */
  internalError: (component: string, error: unknown) => void;
  /** Counts and logs a failure of the tokenizer thread (held here: the thread's listeners are weak). */
  onTokenizerFailure: (error: Error) => void;
  /** Stops listening to the tokenizer thread (at close). */
  offTokenizerFailure: () => void;
}

function envFlag(v: string | undefined): boolean {
  return v !== undefined && /^(1|true|yes|on)$/i.test(v.trim());
}

/** Builds a monitor's parts from its options (an unknown option is an error naming it, not a silent default). */
export function composeMonitor(options: TokenMonitorOptions): MonitorParts {
  checkMonitorOptions(options);
  // Checked before anything opens: a bad value leaves nothing running.
  const interval = syncInterval(options);
  const env = options.env ?? process.env;
  const dir = resolveDir(options.dir, env);
  const disabled = options.disabled ?? envFlag(env.TOKENMETER_DISABLED);
  const secrets = new SecretKeys();
  const log = secrets.logger(options.logger ?? createStderrLogger(options.logLevel ?? logLevelFromEnv(env)));
  const once = new OnceLogger(log);
  const config = options.loadConfig === false || disabled ? {} : loadConfig(dir);
  const pd = options.priceData === false ? undefined : (options.priceData ?? {});
  if (pd?.source !== undefined && (typeof pd.source !== 'string' || pd.source === '')) {
    throw new ValidationError('priceData.source', pd.source, 'must be a URL or a file path');
  }
  const chosen =
    pd?.source !== undefined
      ? resolveSource(pd.source, process.cwd())
      : config.price_data?.source && resolveSource(config.price_data.source, dir);
  const prices = new PriceBook({
    prices: options.prices ?? {},
    configPrices: configPrices(config),
    data: pd === undefined || disabled ? undefined : loadPriceData(dir, (m) => log.warn(m), chosen),
    maxAgeDays: checkMaxAgeDays(pd?.maxAgeDays, 'priceData.maxAgeDays') ?? config.price_data?.max_age_days,
    warn: (m) => log.warn(m),
    now: options.clock,
  });
  const keyIds = new KeyIdCache(options.keyIdSecret ?? env.TOKENMETER_KEY_ID_SECRET ?? DEFAULT_KEY_ID_SECRET);
  const m = options.metrics === false ? undefined : (options.metrics ?? {});
  const agg = new Aggregator({
    semconv: m?.semconv ?? true,
    labels: m?.labels ?? {},
    cardinality: {
      maxValuesPerLabel: m?.maxValuesPerLabel ?? CARDINALITY_DEFAULTS.maxValuesPerLabel,
      maxLabelSets: m?.maxLabelSets ?? CARDINALITY_DEFAULTS.maxLabelSets,
    },
    onCap: (what, message) => once.warn(`cap:${what}`, message),
  });
  const sets = m?.maxLabelSets ?? CARDINALITY_DEFAULTS.maxLabelSets;
  if (sets * SERIES_PER_LABEL_SET > 2000) {
    log.warn(
      `metrics.maxLabelSets ${sets} lets one instrument reach ${sets * SERIES_PER_LABEL_SET} series, past OpenTelemetry's default limit of 2,000 per instrument; raise that limit in your MeterProvider's views too`,
    );
  }
  const internalError = (component: string, error: unknown): void => {
    try {
      agg.internalError(component);
      once.error(
        `internal:${component}`,
        `internal error in ${component} (the metered call is not affected): ${(error as Error)?.message ?? String(error)}`,
      );
    } catch {
      // Nothing may escape into the caller.
    }
  };
  const ledger = options.ledger === false || disabled ? undefined : openLedger(options, dir, env.TOKENMETER_LEDGER_URL, agg, log);
  const budgets = new Budgets(
    // The window's spending so far: the rollups, plus what is queued for them (nothing is written here).
    ledgerSeeder(
      () => {
        try {
          return ledger?.store();
        } catch {
          return undefined;
        }
      },
      () => ledger?.unwrittenSync() ?? [],
      // Beside the writer, off record()'s path (a state made inside record(), or an asynchronous
      // store): a failed read is reported, and seeds nothing.
      ledger === undefined
        ? undefined
        : async (read) => {
            try {
              return await ledger.readBeside(read);
            } catch (error) {
              agg.internalError('ledger');
              log.error(`cannot read the ledger to seed a budget: ${(error as Error)?.message ?? String(error)}`);
              throw error;
            }
          },
    ),
    prices,
    log,
    options.clock,
    ledger !== undefined,
  );
  // Alerts are kept in the ledger once each (its unique key), by the writer, off record()'s path.
  if (ledger !== undefined) budgets.keep = (alerts) => ledger.addAlerts(alerts);
  // config.json's alert thresholds hold for every budget that sets none, those set in code too.
  budgets.thresholds = configThresholds(config);
  const fromConfig = configBudgets(config);
  if (!disabled) {
    for (const spec of [...fromConfig, ...(options.budgets ?? [])]) budgets.add(spec);
  }
  const budgetSync = new BudgetSync(
    {
      budgets,
      intervalMs: disabled ? 0 : interval,
      read:
        ledger === undefined
          ? undefined
          : ledgerSpend(
              () => ledger.store(),
              (read) => ledger.readBeside(read),
            ),
      dir: options.loadConfig === false || disabled ? undefined : dir,
      log,
      internalError: (component) => agg.internalError(component),
    },
    fromConfig,
  );
  budgetSync.start();
  // Metrics read the budget gauges at collection time; neither knows the other.
  agg.budgetGauges = () => budgets.gauges();
  const exp =
    m === undefined || disabled
      ? undefined
      : new MetricsExport(
          agg,
          m,
          { log: (msg) => log.error(msg), info: (msg) => log.info(msg), internalError: (c) => agg.internalError(c) },
          env,
        );
  // Budgets before the ledger: see RecordPipeline.
  const sinks: RecordSink[] = [new MetricsSink(agg, exp?.sink, (error) => internalError('export', error)), new BudgetSink(budgets)];
  if (ledger !== undefined) sinks.push(new LedgerSink(ledger));
  const pipeline = new RecordPipeline<Alert>({
    sinks,
    prices: new PriceCache(prices, (provider, model, price) => log.debug(`price of ${provider}/${model}: ${price.sourceDetail}`)),
    hooks: { internalError, warnOnce: (key, message) => once.warn(key, message) },
    keyIdOf: (k) => keyIds.get(k),
    secrets,
    disabled,
  });
  const recordCall: MonitorParts['recordCall'] = (usage, facts, ctx, meter) => {
    if (facts.held !== undefined) budgets.settle(facts.held);
    try {
      const input = inputOfUsage(usage, facts);
      if (!meter) return pipeline.record(input, ctx, usage);
      pipeline.meter(input, ctx, usage);
    } catch (error) {
      internalError('instrument', error);
    }
    return undefined;
  };
  // An instrumented call (its whole context taken with it), recorded at the next turn.
  const later = new LaterQueue<Usage, CallFacts>(
    (usage, facts) => recordCall(usage, facts, undefined, true),
    (error) => internalError('instrument', error),
  );
  // The readers of what was recorded that the facade does not stand in front of: a collection of
  // the metrics (a scrape, a reader of the user's), and the ledger's writes (flush, exit).
  agg.beforeCollect = () => later.drain();
  if (ledger !== undefined) ledger.upstream = () => later.drain();
  const priceSource = pd === undefined ? undefined : (chosen ?? DEFAULT_PRICE_DATA_URL);
  const onTokenizerFailure = (error: Error) => internalError('tokenizer', error);
  return {
    dir,
    disabled,
    log,
    once,
    secrets,
    prices,
    priceSource,
    keyIdOf: (k) => keyIds.get(k),
    agg,
    export: exp,
    ledger,
    budgets,
    budgetSync,
    pipeline,
    later,
    recordCall,
    internalError,
    onTokenizerFailure,
    offTokenizerFailure: listenToTokenizer(onTokenizerFailure),
  };
}

/**
 * Fetches newer genai-prices data from the monitor's price source, checks it, keeps it in
 * `<dir>/prices.json` and prices with it from now on (TokenMonitor.refreshPrices()).
 */
export async function refreshPrices(p: MonitorParts): Promise<RefreshResult> {
  const source = p.priceSource;
  if (source === undefined) throw new ValidationError('priceData', false, 'refreshed price data is turned off');
  const result = await refreshPriceData({ dir: p.dir, source });
  p.prices.setData(loadPriceData(p.dir, (m) => p.log.warn(m)));
  return result;
}

/** Whether the ledger is being written, how many records wait, and where metrics are served (TokenMonitor.health()). */
export function healthOf(p: MonitorParts): Health {
  p.later.drain();
  const ledger = p.ledger?.health() ?? null;
  const config = p.budgetSync.health();
  // A broken config.json does not make the monitor unhealthy: nothing is lost (its last good
  // budgets hold), and a process restarted for it (a failed liveness probe) would not start.
  return {
    ok: ledger === null || ledger.ok,
    ledger,
    metricsUrl: p.export?.url,
    config: config.file === '' ? null : config,
  };
}

/** `ledger.syncIntervalMs`, checked. */
function syncInterval(options: TokenMonitorOptions): number {
  const v = options.ledger === false ? undefined : options.ledger?.syncIntervalMs;
  if (v === undefined) return DEFAULT_SYNC_INTERVAL_MS;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0)
    throw new ValidationError('ledger.syncIntervalMs', v, 'must be a number of milliseconds, 0 (never) or more');
  return v;
}

/** What the report queries read: the ledger once what was recorded is written, prices, the budgets' standing. */
export function reportSources(p: MonitorParts): ReportSources {
  const noLedger = () => new LedgerError(p.dir, p.disabled ? 'tracking is disabled' : 'this monitor keeps no ledger (ledger: false)');
  return {
    store: async () => {
      if (p.ledger === undefined) throw noLedger();
      try {
        await p.ledger.flush();
      } catch {
        // Reported by the writer's onError; the records stay queued.
      }
      return p.ledger.store();
    },
    storeNow: () => {
      if (p.ledger === undefined) throw noLedger();
      return p.ledger.store();
    },
    price: (provider, model) => p.prices.resolve(provider, model),
    budgetStatus: () => {
      p.later.drain();
      return p.budgets.tracker.states().map(statusOf);
    },
    archiveDir: join(p.dir, 'archive'),
    startedAt: Date.now(),
    truncated: (message) => {
      p.agg.internalError('alertmanager');
      p.once.warn('alertmanager-truncated', message);
    },
  };
}

/** The ledger's writer: a store of the caller's, a PostgreSQL URL, or the SQLite file (written by a writer thread). */
function openLedger(options: TokenMonitorOptions, dir: string, envUrl: string | undefined, agg: Aggregator, log: Logger): LedgerWriter {
  const l = options.ledger || {};
  const file = l.file ?? join(dir, 'ledger.db');
  const url = l.url ?? (envUrl || undefined);
  const store = l.store ?? (url === undefined ? undefined : openLedgerUrl(url, 'ledger.url'));
  const ledger = new LedgerWriter(
    // A store of the caller's is written from a timer on this thread; the SQLite file, which
    // the writer opens itself, by a writer thread (and reopened if deleted or replaced).
    store === undefined ? { file } : () => store,
    {
      onError: (message) => {
        agg.internalError('ledger');
        log.error(message);
      },
      onRecovered: (message) => log.warn(message),
    },
    l,
  );
  try {
    ledger.store();
  } catch (error) {
    // Reported now; the records wait in memory and the ledger is opened again at the next write.
    agg.internalError('ledger');
    log.error(`${(error as Error).message}; records are kept in memory and written once it opens`);
  }
  return ledger;
}
