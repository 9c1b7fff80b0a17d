import { advise } from './advice/advise.ts';
import type { Advice, AdviceQuery } from './advice/types.ts';
import { LedgerError, ValidationError } from './errors.ts';
import { type CleanupResult, cleanup, listArchives, readArchive } from './ledger/archive.ts';
import type { AlertmanagerNotification, KeptNotification, ReceivedAlert, ReceivedAlertQuery } from './ledger/notifications.ts';
import type { ArchiveInfo, Dimension, LedgerStore } from './ledger/types.ts';
import { checkMethodOptions, checkQueryKeys } from './option-keys.ts';
import type { ResolvedPrice } from './pricing/types.ts';
import type { BudgetStatus } from './reports/budget-status.ts';
import { type ExportResult, exportRecords, type ExportOptions as RecordExportOptions } from './reports/export.ts';
import * as overviews from './reports/overview.ts';
import type { ReportQuery } from './reports/query.ts';
import * as reports from './reports/reports.ts';
import type { UsageRecord } from './usage.ts';

const CLEANUP_OPTION_KEYS: ReadonlySet<string> = new Set(['days']);

/** What the report queries need from the monitor that runs them. */
export interface ReportSources {
  /** The ledger's store once everything recorded so far is written to it (a LedgerError when there is none). */
  store(): Promise<LedgerStore>;
  /** The ledger's store as it is now, nothing flushed first (a LedgerError when there is none). */
  storeNow(): LedgerStore;
  /** The price applied to a model (what-ifs of advice). */
  price(provider: string, model: string): ResolvedPrice | null;
  /** Every budget's standing now (report()). */
  budgetStatus(): BudgetStatus[];
  /** The archives' dir. */
  readonly archiveDir: string;
  /** When this monitor started: sessionStats' default start. */
  readonly startedAt: number;
  /** Counts and logs (once) an Alertmanager notification cut short. */
  truncated(message: string): void;
}

/**
 * The ledger-backed queries of a monitor: `TokenMonitor` extends this, so that its report methods
 * are these. Each checks its query's keys, then reads the ledger once what was recorded is written.
 */
export class LedgerQueries {
  readonly #src: ReportSources;

  constructor(sources: ReportSources) {
    this.#src = sources;
  }

  /** Raw records from the ledger, newest first (default limit 100); `errors`: only the failed calls. */
  async records(q: ReportQuery & { limit?: number; errors?: boolean } = {}): Promise<UsageRecord[]> {
    checkQueryKeys(q, ['limit', 'errors'], 'a records query');
    return reports.records(await this.#src.store(), q);
  }

  /** Totals grouped by one dimension (default: provider) over a range (`days`, or `since`/`until`) and filters. */
  async summary(q: ReportQuery & { by?: Dimension } = {}): Promise<reports.Summary> {
    checkQueryKeys(q, ['by'], 'a summary query');
    return reports.summary(await this.#src.store(), q);
  }

  /** Usage by day split by one dimension (default: provider): a series per value, a point per day of the range. */
  async daily(q: ReportQuery & { by?: Dimension } = {}): Promise<overviews.DailyBreakdown> {
    checkQueryKeys(q, ['by'], 'a daily query');
    return overviews.daily(await this.#src.store(), q);
  }

  /** A range at a glance (the built-in page): totals, breakdowns by provider, model, agent, operation and user, and usage by day split by `split`. */
  async overview(q: ReportQuery & { split?: Dimension } = {}): Promise<overviews.Overview> {
    checkQueryKeys(q, ['split'], 'an overview query');
    return overviews.overview(await this.#src.store(), q);
  }

  /**
   * What the ledger says the team could save, in dollars, over the last 30 days (or `q`'s range):
   * caching, cheaper tiers (a what-if), prompt-size outliers, billed failures, reasoning and output
   * ceilings, batch and flex. Items under `q.minUsd` ($1) are left out; a thin ledger says so.
   */
  async advise(q: AdviceQuery = {}): Promise<Advice> {
    checkQueryKeys(q, ['minUsd', 'minCalls', 'minGroupCalls', 'scanLimit', 'cacheableShare'], 'an advice query');
    return advise(await this.#src.store(), (provider, model) => this.#src.price(provider, model), q);
  }

  /** Per provider: totals, by service type and by model. */
  async providerSummaries(q: ReportQuery = {}): Promise<reports.ProviderSummary[]> {
    checkQueryKeys(q, [], 'a report query');
    return reports.providerSummaries(await this.#src.store(), q);
  }

  /** Across providers: period, totals, per provider, and each subscription limit's status. */
  async report(q: ReportQuery = {}): Promise<reports.Report> {
    checkQueryKeys(q, [], 'a report query');
    return reports.report(await this.#src.store(), q, this.#src.budgetStatus());
  }

  /** One user's usage: totals, by model, requests by agent, daily trend. */
  async userUsage(userId: string, q: ReportQuery = {}): Promise<reports.SubjectUsage> {
    checkQueryKeys(q, [], 'a usage query');
    return reports.subjectUsage(await this.#src.store(), { ...q, userId });
  }

  /** One thread's usage: totals, by model, requests by agent, daily trend. */
  async threadUsage(threadId: string, q: ReportQuery = {}): Promise<reports.SubjectUsage> {
    checkQueryKeys(q, [], 'a usage query');
    return reports.subjectUsage(await this.#src.store(), { ...q, threadId });
  }

  /** Writes the records of a range to a CSV or JSON file, streaming. */
  async exportRecords(path: string, options: RecordExportOptions = {}): Promise<ExportResult> {
    checkQueryKeys(options, ['format', 'onProgress'], 'export options');
    return exportRecords(await this.#src.store(), path, options);
  }

  /** The dir of the monthly archives that `cleanup` writes: `<dir>/archive`. */
  get archiveDir(): string {
    return this.#src.archiveDir;
  }

  /** Archives the records older than `days` whole days into monthly files, then deletes them from the ledger. */
  async cleanup(options: { days: number }): Promise<CleanupResult> {
    checkMethodOptions(options, CLEANUP_OPTION_KEYS, 'cleanup options');
    const days = options?.days;
    if (typeof days !== 'number' || !Number.isFinite(days) || days < 0)
      throw new ValidationError('days', days, 'must be a number of days, 0 or more');
    return cleanup(await this.#src.store(), this.archiveDir, days);
  }

  /** The monthly archive files, oldest first. */
  archives(): ArchiveInfo[] {
    return listArchives(this.archiveDir);
  }

  /** The records of one archive (a month such as `2026-10`, or a path), oldest first. */
  readArchive(monthOrPath: string): AsyncGenerator<UsageRecord> {
    return readArchive(monthOrPath, this.archiveDir);
  }

  /** Statistics of this monitor's session (since it started, unless `since` says otherwise). */
  async sessionStats(q: ReportQuery & { budgetUsd?: number } = {}): Promise<reports.SessionStats> {
    checkQueryKeys(q, ['budgetUsd'], 'a session query');
    return reports.sessionStats(await this.#src.store(), { since: this.#src.startedAt, ...q });
  }

  /** Keeps a notification Alertmanager sent (`POST /v1/alertmanager`) in the ledger, its alerts by fingerprint and start. */
  async keepAlertmanagerNotification(n: AlertmanagerNotification): Promise<KeptNotification> {
    const kept = await this.#storeFor('keepNotification')(n);
    if (kept.alerts < n.alerts.length) {
      // Past the per-request bound: counted (tokenmeter_internal_errors_total{component="alertmanager"}) and logged, not silent.
      this.#src.truncated(
        `an Alertmanager notification carried ${n.alerts.length} alerts: the first ${kept.alerts} were kept, the rest counted in its truncatedAlerts (set max_alerts in alertmanager.yml's webhook to send fewer)`,
      );
    }
    return kept;
  }

  /** The alerts Alertmanager sent, newest notified first (default limit 100). */
  async alertmanagerAlerts(q: ReceivedAlertQuery = {}): Promise<ReceivedAlert[]> {
    return await this.#storeFor('receivedAlerts')(q);
  }

  /** The store's `what`, bound; a LedgerError when this ledger cannot do it. */
  #storeFor<K extends 'keepNotification' | 'receivedAlerts'>(what: K): NonNullable<LedgerStore[K]> {
    const store = this.#src.storeNow();
    const f = store[what];
    if (f === undefined) throw new LedgerError(store.location, `this ledger (${store.kind}) keeps no Alertmanager notifications`);
    return f.bind(store) as NonNullable<LedgerStore[K]>;
  }
}
