// One app process of a fleet spending against one enforced budget (test/fleet-budgets.test.ts): a
// TokenMonitor on the shared storage dir (its config.json sets the budget, its ledger is shared, or
// a PostgreSQL ledger when given), making OpenAI calls through the official client against a
// replay server, `workers` at a time with `pauseMs` between a worker's calls, until the budget
// refuses one. argv: one JSON object (Args). Prints {"ready":true} once its monitor is up, waits
// for a line on stdin, then prints one JSON line (Outcome) after closing its monitor.
import { createInterface } from 'node:readline';
import OpenAI from 'openai';
import { isBudgetExceededError, TokenMonitor } from '../../src/index.ts';

export interface Args {
  dir: string;
  replayUrl: string;
  ledgerUrl?: string;
  syncIntervalMs: number;
  flushIntervalMs: number;
  workers: number;
  pauseMs: number;
  /** Stop anyway after this long (ms). */
  maxMs: number;
}

export interface Outcome {
  /** Calls the budget let through (each reached the replay server). */
  sent: number;
  /** Calls refused with a BudgetExceededError. */
  blocked: number;
  startedAt: number;
  /** When the last call let through was admitted. */
  lastAdmitAt: number;
  /** The longest call, from admission to its usage recorded (ms). */
  maxCallMs: number;
  /** How much of the budget this process saw used when it was refused (the fleet's, through the ledger). */
  usedAtBlock: number | null;
  health: unknown;
}

const a = JSON.parse(process.argv[2] ?? '{}') as Args;
const monitor = new TokenMonitor({
  dir: a.dir,
  metrics: false,
  logLevel: 'error',
  ledger: {
    ...(a.ledgerUrl === undefined ? {} : { url: a.ledgerUrl }),
    syncIntervalMs: a.syncIntervalMs,
    flushIntervalMs: a.flushIntervalMs,
  },
});
const openai = monitor.instrument(new OpenAI({ apiKey: 'sk-test-fleet-budget-0000', baseURL: `${a.replayUrl}/v1`, maxRetries: 0 }));

process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
const lines = createInterface({ input: process.stdin });
await new Promise<void>((resolve) => lines.once('line', () => resolve()));

const out: Outcome = {
  sent: 0,
  blocked: 0,
  startedAt: Date.now(),
  lastAdmitAt: 0,
  maxCallMs: 0,
  usedAtBlock: null,
  health: null,
};
const deadline = out.startedAt + a.maxMs;
let stop = false;
async function worker(): Promise<void> {
  while (!stop && Date.now() < deadline) {
    const at = Date.now();
    try {
      await openai.chat.completions.create({ model: 'gpt-4o', max_tokens: 200, messages: [{ role: 'user', content: 'Say ok.' }] });
      out.sent++;
      out.lastAdmitAt = Math.max(out.lastAdmitAt, at);
      out.maxCallMs = Math.max(out.maxCallMs, Date.now() - at);
    } catch (error) {
      if (!isBudgetExceededError(error)) throw error;
      out.blocked++;
      out.usedAtBlock = error.used;
      stop = true;
    }
    await new Promise((resolve) => setTimeout(resolve, a.pauseMs));
  }
}
await Promise.all(Array.from({ length: a.workers }, () => worker()));
await monitor.close();
out.health = monitor.health();
lines.close();
process.stdout.write(`${JSON.stringify(out)}\n`);
