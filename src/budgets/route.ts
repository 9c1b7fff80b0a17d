import type { Subject } from './budget-spec.ts';
import type { BudgetState } from './budget-state.ts';

/** Which parts of a record some budget looks at, beside the user (see BudgetTracker). */
export interface LooksAt {
  provider: boolean;
  model: boolean;
  apiKeyId: boolean;
  agent: boolean;
  runId: boolean;
}

/**
 * The states the records of one user count against, as last resolved, and the rest of the subject
 * they were resolved for: a user's next record with the same key, provider, model, agent and run
 * (those some budget looks at) counts against the same states without resolving them again.
 */
export interface Route {
  provider: string;
  model: string;
  apiKeyId: string | null;
  agent: string | null;
  runId: string | null;
  states: readonly BudgetState[];
}

/** True when a record of `s` in run `runId` (its user's, which the caller compares) counts against `r`'s states. */
export function fits(r: Route, s: Subject, runId: string | null, l: LooksAt): boolean {
  return (
    (!l.provider || r.provider === s.provider) &&
    (!l.apiKeyId || r.apiKeyId === s.apiKeyId) &&
    (!l.runId || r.runId === runId) &&
    (!l.model || r.model === s.model) &&
    (!l.agent || r.agent === s.agent)
  );
}
