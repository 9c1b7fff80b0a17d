import type { Budgets } from './budgeting.ts';
import type { BudgetSpec } from './budgets/budget-spec.ts';
import type { ContextStore } from './context.ts';
import { checkSessionKeys } from './option-keys.ts';
import type { BudgetStatus } from './reports/budget-status.ts';
import type { ReportQuery } from './reports/query.ts';
import type { SessionStats } from './reports/reports.ts';

/** A run of a workflow with its own budget (see `monitor.session()`). */
export interface RunSession {
  readonly id: string;
  /** Runs `fn` with every call inside it counted against this run. */
  run<T>(fn: () => T): T;
  /** The run's budget standing. */
  status(): BudgetStatus[];
  /** The run's calls (those tagged with its id), tokens, cost, averages, shares by agent and model, and budget use, from the ledger. */
  stats(): Promise<SessionStats>;
  /** Drops the run's budget. */
  end(): void;
}

/** What `monitor.session()` takes. */
export interface SessionOptions {
  budgetUsd?: number;
  budgetTokens?: number;
  enforce?: boolean;
  id?: string;
  thresholds?: { warning?: number; critical?: number };
}

/** A new run (see `TokenMonitor.session`): its budgets added, its context ready to run calls in. */
export function startSession(
  options: SessionOptions,
  parts: {
    budgets: Budgets;
    context: ContextStore;
    status: () => BudgetStatus[];
    stats: (q: ReportQuery & { runId: string; budgetUsd?: number }) => Promise<SessionStats>;
  },
): RunSession {
  checkSessionKeys(options);
  const id = options.id ?? `run-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  const started = Date.now();
  for (const [unit, limit] of [
    ['usd', options.budgetUsd],
    ['tokens', options.budgetTokens],
  ] as const) {
    if (limit === undefined) continue;
    const spec: BudgetSpec = { scope: 'run', scopeId: id, limit, unit, enforce: options.enforce ?? false };
    if (options.thresholds !== undefined) spec.thresholds = options.thresholds;
    parts.budgets.add(spec);
  }
  return {
    id,
    run: <T>(fn: () => T): T => parts.context.run({ runId: id }, fn),
    status: () => parts.status().filter((b) => b.scope === 'run' && b.scopeId === id),
    stats: () => parts.stats({ since: started, runId: id, ...(options.budgetUsd === undefined ? {} : { budgetUsd: options.budgetUsd }) }),
    end: () => {
      parts.budgets.tracker.remove('run', id);
    },
  };
}
