import { statSync } from 'node:fs';
import type { Budgets } from './budgeting.ts';
import type { BudgetSpec } from './budgets/budget-spec.ts';
import type { FleetRead } from './budgets/fleet-sync.ts';
import { configPath, loadConfig } from './config.ts';
import { configBudgets, configThresholds } from './config-budgets.ts';
import type { Logger } from './logger.ts';

/** How often budgets read the fleet's spending from a shared ledger, and config.json is looked at. */
export const DEFAULT_SYNC_INTERVAL_MS = 2000;

/** What `health().config` says about config.json since the monitor started. */
export interface ConfigHealth {
  /** False while the file, changed since, cannot be read (its last good budgets stay in force). */
  ok: boolean;
  /** Where it is read from. */
  file: string;
  /** Why the last change was not applied, until a good one is. */
  lastError: string | undefined;
  /** Times a change was applied without a restart. */
  reloads: number;
}

export interface BudgetSyncOptions {
  budgets: Budgets;
  intervalMs: number;
  /** The fleet's spending in the shared ledger; undefined when there is no ledger (only config.json is watched). */
  read: FleetRead | undefined;
  /** The storage dir whose config.json is watched; undefined when config.json is not read (`loadConfig: false`). */
  dir: string | undefined;
  log: Logger;
  /** Counts a failure (tokenmeter_internal_errors_total{component}); never throws. */
  internalError: (component: string) => void;
}

/** What changes a config file's budgets: the key a budget replaces another by (see the tracker's specKey), and its content. */
function keyOf(s: BudgetSpec): string {
  return JSON.stringify([
    s.scope,
    s.scopeId ?? '',
    s.unit ?? 'usd',
    s.limitType ?? '',
    s.limitType === undefined ? (s.cycle ?? null) : null,
  ]);
}

/**
 * Keeps a process's budgets fleet-wide and its config current, from one timer (unref'd: it never
 * keeps a process alive), off record()'s path: every `intervalMs` it reads each budget's window
 * spending from the shared ledger (BudgetTracker#sync), and applies budget and alert changes made
 * to config.json since (an added budget, a new limit, a removed one), keeping the last good ones
 * when the file is broken. A failure is logged and counted, never thrown.
 */
export class BudgetSync {
  readonly #o: BudgetSyncOptions;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  /** config.json's mtime and size when last read ('' when absent). */
  #seen: string;
  #file: string;
  /** The config budgets applied, by key, as JSON (what a reload compares with). */
  #applied = new Map<string, string>();
  #health: ConfigHealth;
  #syncError: string | undefined;

  constructor(o: BudgetSyncOptions, configSpecs: readonly BudgetSpec[]) {
    this.#o = o;
    this.#file = o.dir === undefined ? '' : configPath(o.dir);
    this.#seen = this.#stamp();
    for (const s of configSpecs) this.#applied.set(keyOf(s), JSON.stringify(s));
    this.#health = { ok: true, file: this.#file, lastError: undefined, reloads: 0 };
  }

  /** Starts the timer (nothing to do: no ledger to read and no config.json to watch, or an interval of 0). */
  start(): void {
    if (this.#o.intervalMs <= 0 || (this.#o.read === undefined && this.#o.dir === undefined)) return;
    this.#timer = setInterval(() => {
      if (this.#running !== undefined) return;
      this.#running = this.tick().finally(() => {
        this.#running = undefined;
      });
    }, this.#o.intervalMs);
    this.#timer.unref();
  }

  /** One round: config.json first (a budget it adds is then synced too), then the fleet's spending. Never rejects. */
  async tick(): Promise<void> {
    if (this.#o.dir !== undefined) this.#reloadIfChanged();
    const read = this.#o.read;
    if (read === undefined || this.#o.budgets.tracker.size === 0) return;
    try {
      await this.#o.budgets.tracker.sync(read);
      if (this.#syncError !== undefined) this.#o.log.warn('budgets read the shared ledger again');
      this.#syncError = undefined;
    } catch (error) {
      const message = (error as Error)?.message ?? String(error);
      this.#o.internalError('budgets');
      // Once per streak: a ledger down for an hour is one line, not one every interval.
      if (this.#syncError === undefined)
        this.#o.log.error(`cannot read the fleet's spending from the ledger; budgets count this process's own until it can: ${message}`);
      this.#syncError = message;
    }
  }

  /** config.json as it stands, for health(). */
  health(): ConfigHealth {
    return { ...this.#health };
  }

  /** Stops the timer and waits for a round under way. */
  async close(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }

  #stamp(): string {
    if (this.#o.dir === undefined) return '';
    this.#file = configPath(this.#o.dir);
    try {
      const st = statSync(this.#file);
      return `${this.#file}\u0000${st.mtimeMs}\u0000${st.size}\u0000${st.ino}`;
    } catch {
      return '';
    }
  }

  #reloadIfChanged(): void {
    const stamp = this.#stamp();
    if (stamp === this.#seen) return;
    this.#seen = stamp;
    try {
      const config = loadConfig(this.#o.dir as string);
      const thresholds = configThresholds(config);
      this.#apply(configBudgets(config), thresholds);
      if (!this.#health.ok) this.#o.log.warn(`${this.#file} is valid again; its budgets apply`);
      this.#health = { ok: true, file: this.#file, lastError: undefined, reloads: this.#health.reloads + 1 };
    } catch (error) {
      const message = (error as Error)?.message ?? String(error);
      this.#o.internalError('config');
      this.#o.log.error(`${message}; the budgets and alerts read from it before stay in force until it is fixed`);
      this.#health = { ...this.#health, ok: false, file: this.#file, lastError: message };
    }
  }

  /** Adds, replaces (a new limit, thresholds, enforcement) and removes config budgets; those set in code stay. */
  #apply(specs: readonly BudgetSpec[], thresholds: Budgets['thresholds']): void {
    const b = this.#o.budgets;
    b.thresholds = thresholds;
    const next = new Map(specs.map((s) => [keyOf(s), s]));
    for (const [key, json] of this.#applied) {
      if (next.has(key)) continue;
      const old = JSON.parse(json) as BudgetSpec;
      // Only when the budget there is still the file's (code may have replaced it since).
      const current = b.tracker.specs().find((s) => keyOf(s) === key);
      if (current?.source === 'config') b.tracker.removeLike(old);
    }
    const applied = new Map<string, string>();
    for (const [key, spec] of next) {
      const json = JSON.stringify(spec);
      applied.set(key, json);
      if (this.#applied.get(key) === json) continue;
      b.add(spec);
    }
    this.#applied = applied;
  }
}
