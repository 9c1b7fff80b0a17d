import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

// Each example of examples/ runs as a user runs it (a child process, its ledger in a temp dir), and
// what it prints is checked against what its ledger holds, read back with the CLI.
const root = join(import.meta.dirname, '..');
const cli = join(root, 'src', 'cli', 'index.ts');

interface Totals {
  requests: number;
  errors: number;
  inputTokens: number;
  outputTokens: number;
  totalTokens: number;
  costUsd: number;
}
interface Summary {
  total: Totals;
  rows: (Totals & { key: string | null })[];
}
interface LedgerRecord extends Totals {
  timestamp: number;
  provider: string;
  model: string;
  agent: string | null;
  userId: string | null;
  threadId: string | null;
  operation: string | null;
  error: boolean;
  metadata: Record<string, unknown> | null;
}

/** Runs `examples/<name>.ts` with a fresh ledger dir; its output lines and the dir. */
function runExample(name: string): { out: string; lines: string[]; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), `tm-example-${name}-`));
  const r = spawnSync(process.execPath, [join(root, 'examples', `${name}.ts`), '--dir', dir], { encoding: 'utf8', cwd: root });
  // Only the monitor's own log of budget alerts may go to stderr (its default logger).
  expect(
    r.stderr.split('\n').filter((l) => l !== '' && !l.startsWith('tokenmeter warn: tokenmeter alert: ')),
    `${name}'s stderr`,
  ).toEqual([]);
  expect(r.status).toBe(0);
  return { out: r.stdout, lines: r.stdout.split('\n'), dir };
}

/** The CLI's JSON answer over the example's ledger. */
function cliJson<T>(dir: string, args: string[]): T {
  const r = spawnSync(process.execPath, [cli, ...args, '--dir', dir, '--json'], { encoding: 'utf8' });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return JSON.parse(r.stdout) as T;
}

/** Every record of the ledger, oldest first. */
function ledger(dir: string): LedgerRecord[] {
  return cliJson<LedgerRecord[]>(dir, ['records', '-n', '10000']).reverse();
}

/** The captures of the one output line `re` matches. */
function line(out: string, re: RegExp): string[] {
  const m = out.match(new RegExp(re.source, `${re.flags.replace('g', '')}m`));
  expect(m, `a line matching ${re}`).not.toBeNull();
  return (m as RegExpMatchArray).slice(1);
}

const num = (s: string | undefined) => Number((s ?? '').replaceAll(',', ''));
const sum = (rs: readonly Totals[], f: keyof Totals) => rs.reduce((s, r) => s + r[f], 0);
/** Dollars as the examples print them (6 decimals). */
const usd6 = (v: number) => v.toFixed(6);
/** A printed amount (6 decimals) is `value` rounded: half a millionth apart at most, whichever way a sum of floats rounds a 5. */
function expectUsd(printed: string | undefined, value: number): void {
  expect(printed).toMatch(/^\d+\.\d{6}$/);
  expect(Math.abs(Number(printed) - value)).toBeLessThanOrEqual(5e-7 + 1e-12);
}

describe('examples/manual-tracking.ts', () => {
  it("logs calls with the Graphiti helpers; its get_usage_report figures and the limit's use are the ledger's", () => {
    const { out, dir } = runExample('manual-tracking');
    const anthropic = cliJson<Summary>(dir, ['summary', '-p', 'anthropic']).total;
    expect(num(line(out, /^Total requests: (\d+)$/)[0])).toBe(anthropic.requests);
    expect(num(line(out, /^Total tokens used: ([\d,]+)$/)[0])).toBe(anthropic.totalTokens);
    expect(line(out, /^Total cost: \$([\d.]+)$/)[0]).toBe(usd6(anthropic.costUsd));
    const all = cliJson<Summary>(dir, ['summary']);
    const [requests, tokens, cost] = line(out, /^All providers: (\d+) requests, ([\d,]+) tokens, \$([\d.]+)$/);
    expect([num(requests), num(tokens), cost]).toEqual([all.total.requests, all.total.totalTokens, usd6(all.total.costUsd)]);
    for (const row of all.rows) {
      expect(line(out, new RegExp(`^  ${row.key} +(\\d+) requests  \\$([\\d.]+)$`))).toEqual([String(row.requests), usd6(row.costUsd)]);
    }
    expect(all.rows.map((r) => r.key).sort()).toEqual(['anthropic', 'cohere', 'openai']);
    // The failed call is in the ledger as failed, with its cost.
    const failed = ledger(dir).filter((r) => r.error);
    expect(failed).toHaveLength(1);
    expect(line(out, /^logged: true, cost of the failed call: \$([\d.]+)$/)[0]).toBe(usd6(failed[0]?.costUsd ?? Number.NaN));
    // setProviderLimit kept the limit in config.json: `tokenmeter status`, another process, shows its use.
    const [limit] = cliJson<{ scopeId: string; limitType: string; used: number; limit: number; percentUsed: number }[]>(dir, ['status']);
    expect(limit).toMatchObject({ scopeId: 'anthropic', limitType: 'max_plan_tokens', limit: 5_000_000, used: anthropic.totalTokens });
    const [pct, used] = line(out, /^anthropic: ([\d.]+)% used \(([\d,]+) of 5,000,000 tokens\)$/);
    expect(num(used)).toBe(anthropic.totalTokens);
    expect(num(pct)).toBeCloseTo((anthropic.totalTokens / 5_000_000) * 100, 1);
  });
});

interface SessionStats {
  calls: number;
  totalTokens: number;
  costUsd: number;
  byAgent: (Totals & { key: string | null; share: number })[];
  byModel: (Totals & { key: string | null })[];
  budget: { limitUsd: number; usedUsd: number; utilization: number } | null;
}

describe('examples/agent-workflow.ts', () => {
  it("meters a run's calls per agent through the instrumented client; its statistics are the run's records in the ledger", () => {
    const { out, dir } = runExample('agent-workflow');
    const [runId] = line(out, /^\[workflow_started\] .* \(run (\S+), budget \$0\.05\)$/);
    const stats = cliJson<SessionStats>(dir, ['session-report', '--run', runId as string, '--budget', '0.05']);
    const records = ledger(dir);
    // Every call of the workflow is in the run, with its agent and model.
    expect(records.every((r) => r.metadata?.run_id === runId)).toBe(true);
    expect(records.map((r) => `${r.agent}:${r.model}`).sort()).toEqual([
      'coder:gpt-4o',
      'planner:gpt-4o',
      'researcher:gpt-4o-mini',
      'researcher:gpt-4o-mini',
      'synthesizer:gpt-4o',
      'tester:gpt-4o-mini',
    ]);
    expect(stats.calls).toBe(records.length);
    expect(stats.totalTokens).toBe(sum(records, 'totalTokens'));
    expect(stats.costUsd).toBeCloseTo(sum(records, 'costUsd'), 12);
    const [calls, tokens, cost] = line(out, /^total_calls (\d+) {2}total_tokens (\d+) {2}total_cost_usd ([\d.]+)$/);
    expect([num(calls), num(tokens), cost]).toEqual([stats.calls, stats.totalTokens, usd6(stats.costUsd)]);
    for (const a of stats.byAgent) {
      const mine = records.filter((r) => r.agent === a.key);
      expect(a.costUsd).toBeCloseTo(sum(mine, 'costUsd'), 12);
      expect(line(out, new RegExp(`^agent ${a.key}: (\\d+) calls, (\\d+) tokens, \\$([\\d.]+)$`))).toEqual([
        String(mine.length),
        String(sum(mine, 'totalTokens')),
        usd6(a.costUsd),
      ]);
    }
    const top = stats.byAgent[0];
    expect(line(out, /^Most expensive: (\S+) \(\$([\d.]+), /)).toEqual([top?.key, usd6(top?.costUsd ?? Number.NaN)]);
    // The report's own lines: calls, and the budget's use, which passed the 90% warning.
    expect(num(line(out, /^ {2}Calls +(\d+)$/)[0])).toBe(stats.calls);
    const utilization = (stats.budget?.utilization ?? 0) * 100;
    expect(utilization).toBeGreaterThanOrEqual(90);
    expect(line(out, /^Budget: ([\d.]+)% of \$0\.05 used$/)[0]).toBe(utilization.toFixed(1));
    expect(out).toMatch(new RegExp(`^\\[budget_warning\\] run usd budget of run ${runId} past its warning threshold \\(90%\\)`, 'm'));
  });
});

/** Sums of `f` per value of `key`, as an object. */
function sumBy(rs: readonly LedgerRecord[], key: (r: LedgerRecord) => string, f: (r: LedgerRecord) => number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of rs) out[key(r)] = (out[key(r)] ?? 0) + f(r);
  return out;
}

describe('examples/per-user-stats.ts', () => {
  it("prints a user's usage in ASTRA's shape and a thread's totals, as the ledger's records of that user and thread add up", () => {
    const { out, dir } = runExample('per-user-stats');
    const json = out.slice(out.indexOf('{'), out.indexOf('\n}\n') + 2);
    const astra = JSON.parse(json) as {
      total_requests: number;
      total_tokens: number;
      total_input_tokens: number;
      total_cost: number;
      cost_by_model: Record<string, number>;
      tokens_by_model: Record<string, number>;
      requests_by_agent: Record<string, number>;
      cost_trend: { date: string; cost: number }[];
    };
    const all = ledger(dir);
    const mine = all.filter((r) => r.userId === 'user@example.com');
    // The other user's call is in the ledger, and not in this user's figures.
    expect(all.length - mine.length).toBe(1);
    expect(astra.total_requests).toBe(mine.length);
    expect(astra.total_tokens).toBe(sum(mine, 'totalTokens'));
    expect(astra.total_input_tokens).toBe(sum(mine, 'inputTokens'));
    expect(astra.total_cost).toBeCloseTo(sum(mine, 'costUsd'), 12);
    const byModel = sumBy(
      mine,
      (r) => r.model,
      (r) => r.costUsd,
    );
    expect(Object.keys(astra.cost_by_model).sort()).toEqual(Object.keys(byModel).sort());
    for (const [m, c] of Object.entries(byModel)) expect(astra.cost_by_model[m]).toBeCloseTo(c, 12);
    expect(astra.tokens_by_model).toEqual(
      sumBy(
        mine,
        (r) => r.model,
        (r) => r.totalTokens,
      ),
    );
    expect(astra.requests_by_agent).toEqual(
      sumBy(
        mine,
        (r) => r.agent ?? '',
        () => 1,
      ),
    );
    // The trend has the three UTC days the calls fall on, each with that day's cost.
    const byDay = sumBy(
      mine,
      (r) => new Date(r.timestamp).toISOString().slice(0, 10),
      (r) => r.costUsd,
    );
    expect(astra.cost_trend.map((d) => d.date)).toEqual(Object.keys(byDay).sort());
    expect(astra.cost_trend).toHaveLength(3);
    for (const d of astra.cost_trend) expect(d.cost).toBeCloseTo(byDay[d.date] ?? Number.NaN, 12);

    const thread = all.filter((r) => r.threadId === 'conversation-123');
    const [requests, tokens, cost] = line(out, /^conversation-123: (\d+) requests, (\d+) tokens, \$([\d.]+)$/);
    expect([num(requests), num(tokens)]).toEqual([thread.length, sum(thread, 'totalTokens')]);
    expectUsd(cost, sum(thread, 'costUsd'));
  });
});

describe('examples/user-budget.ts', () => {
  it("checks alice's budget before each call as the ledger adds it up, warns past 80%, and refuses the call it cannot afford without sending it", () => {
    const { out, dir } = runExample('user-budget');
    const all = ledger(dir);
    const alice = all.filter((r) => r.userId === 'alice');
    const answered = out.split('call 1 for bob')[0]?.match(/^ {2}answered: /gm) ?? [];
    expect(alice).toHaveLength(answered.length);
    expect(alice.length).toBeGreaterThanOrEqual(3);
    // Before each of alice's calls, the budget's use is what her earlier records in the ledger cost.
    const checks = [...out.matchAll(/^ {2}✓ Budget OK: \$([\d.]+) used/gm)].map((m) => m[1]);
    const before = alice.map((_, i) => sum(alice.slice(0, i), 'costUsd'));
    // One check per call sent, one for the refused call, one for bob (nothing spent).
    const expected = [...before, sum(alice, 'costUsd'), 0];
    expect(checks).toHaveLength(expected.length);
    for (const [i, c] of checks.entries()) expectUsd(c, expected[i] as number);
    // Past 80% a warning, with the percentage the ledger gives, then the refusal.
    const used = sum(alice, 'costUsd');
    expect(used / 0.02).toBeGreaterThanOrEqual(0.8);
    expect(used).toBeLessThanOrEqual(0.02);
    const [pct] = line(out, /^ {2}alert \(warning\): daily usd budget of user alice past its warning threshold \(80%\): .* \(([\d.]+)%\)$/);
    expect(num(pct)).toBeCloseTo((used / 0.02) * 100, 1);
    expect(
      line(
        out,
        // Not spent: the call's estimate would take it past the limit, and the message says so.
        /^ {2}refused: daily usd budget of user alice has no room for the openai gpt-4o call: \$([\d.]+) used, plus its estimate of \$[\d.]+, would take it past its limit of \$0\.0200; the openai gpt-4o call was not sent$/,
      )[0],
    ).toBe(used.toFixed(4));
    expectUsd(line(out, /^alice: \$([\d.]+) of \$0\.02 used/)[0], used);
    // The refused call never reached the API: every request it got is a record, bob's included.
    expect(all.filter((r) => r.userId === 'bob')).toHaveLength(1);
    expect(num(line(out, /^The stand-in API received (\d+) requests\.$/)[0])).toBe(all.length);
  });
});

describe('examples/model-selection.ts', () => {
  it('prints the prices the CLI shows, and sends each call to gpt-4o until the budget passes 80%, then to gpt-4o-mini, as the ledger records them', () => {
    const { out, dir } = runExample('model-selection');
    for (const model of ['gpt-4o', 'gpt-4o-mini']) {
      const p = cliJson<{ input: { usdPerMillion: number }; output: { usdPerMillion: number } }>(dir, ['pricing', model]);
      expect(line(out, new RegExp(`^${model}: \\$([\\d.]+) in, \\$([\\d.]+) out per 1M tokens`)).map(Number)).toEqual([
        p.input.usdPerMillion,
        p.output.usdPerMillion,
      ]);
    }
    const records = ledger(dir);
    const calls = [...out.matchAll(/^doc (\d+): (\S+) \(estimate \$([\d.]+), cost \$([\d.]+)\)/gm)];
    expect(calls).toHaveLength(records.length);
    let spent = 0;
    for (const [i, r] of records.entries()) {
      const [, , model, estimate, cost] = calls[i] as RegExpMatchArray;
      expect(model).toBe(r.model);
      expectUsd(cost, r.costUsd);
      // The estimate is a ceiling (all of max_tokens), so never below what the call cost.
      expect(Number(estimate)).toBeGreaterThanOrEqual(r.costUsd);
      expect(r.agent).toBe('summarizer');
      // The rule, checked against the ledger: the big model while under the warning threshold.
      expect([i, r.model]).toEqual([i, spent < 0.8 * 0.03 ? 'gpt-4o' : 'gpt-4o-mini']);
      spent += r.costUsd;
    }
    expect(new Set(records.map((r) => r.model))).toEqual(new Set(['gpt-4o', 'gpt-4o-mini']));
    expect(spent).toBeLessThanOrEqual(0.03);
  });
});

describe('examples/daily-report.ts', () => {
  it("prints each day's cost by model and the 30-day report by model, as the ledger's records and the CLI's summaries add up", () => {
    const { out, dir } = runExample('daily-report');
    const records = ledger(dir);
    const models =
      line(out, /^day {7}(.*) {5}total$/)[0]
        ?.trim()
        .split(/ +/) ?? [];
    expect([...models].sort()).toEqual(['claude-sonnet-4-5', 'gpt-4o', 'gpt-4o-mini']);
    const rows = [...out.matchAll(/^(\d{4}-\d{2}-\d{2})((?: +\$[\d.]+)+)$/gm)];
    expect(rows.length).toBeGreaterThanOrEqual(7);
    const byDay = cliJson<Summary>(dir, ['summary', '--by', 'day', '-d', '7']).rows;
    const dayOf = (r: LedgerRecord) => new Date(r.timestamp).toISOString().slice(0, 10);
    for (const [, day, cells] of rows) {
      const amounts = (cells ?? '')
        .trim()
        .split(/ +/)
        .map((c) => c.slice(1));
      // One cell per model, then the day's total: each the sum of that day's records of that model.
      for (const [j, model] of models.entries()) {
        expectUsd(
          amounts[j],
          sum(
            records.filter((r) => dayOf(r) === day && r.model === model),
            'costUsd',
          ),
        );
      }
      expectUsd(amounts[models.length], byDay.find((r) => r.key === day)?.costUsd ?? 0);
    }
    // Every day with records is there.
    expect(byDay.every((r) => rows.some((m) => m[1] === r.key))).toBe(true);
    const [requests, week] = line(out, /^week: (\d+) requests, \$([\d.]+)$/);
    expect(num(requests)).toBe(records.length);
    expectUsd(week, sum(records, 'costUsd'));

    const byModel = cliJson<Summary>(dir, ['summary', '--by', 'model']);
    for (const row of byModel.rows) {
      const block = out.slice(out.indexOf(`\n${row.key}:\n`));
      expect(num(line(block, /^ {2}Requests: ([\d,]+)$/)[0])).toBe(row.requests);
      expect(num(line(block, /^ {2}Tokens: ([\d,]+)$/)[0])).toBe(row.totalTokens);
      expect(line(block, /^ {2}Cost: \$([\d.]+)$/)[0]).toBe(usd6(row.costUsd));
    }
    expect(line(out, /^Total Cost: \$([\d.]+)$/)[0]).toBe(usd6(byModel.total.costUsd));
  });
});

describe('examples/session-report.ts', () => {
  it('prints the session report the CLI prints for the same range, its statistics, and a JSON export holding the same', () => {
    const { out, dir } = runExample('session-report');
    const [since] = line(out, /^The same report from the CLI: .* session-report --since (\S+) --budget 0\.5 --dir /);
    // The report, as `tokenmeter session-report` prints it over the ledger.
    const text = spawnSync(process.execPath, [cli, 'session-report', '--since', since as string, '--budget', '0.5', '--dir', dir], {
      encoding: 'utf8',
    });
    expect(text.status).toBe(0);
    const report = out.slice(0, out.indexOf('\n\ntotal_calls'));
    expect(report).toMatch(/^Cost report/);
    expect(text.stdout.trimEnd()).toBe(report);

    const stats = cliJson<SessionStats & { avgCostPerCall: number }>(dir, [
      'session-report',
      '--since',
      since as string,
      '--budget',
      '0.5',
    ]);
    const records = ledger(dir);
    expect(stats.calls).toBe(records.length);
    expect(stats.costUsd).toBeCloseTo(sum(records, 'costUsd'), 12);
    const [calls, tokens, cost] = line(out, /^total_calls (\d+), total_tokens (\d+), total_cost_usd ([\d.]+)$/);
    expect([num(calls), num(tokens), cost]).toEqual([stats.calls, stats.totalTokens, usd6(stats.costUsd)]);
    const [avg, pct] = line(out, /^average_cost_per_call ([\d.]+), budget_utilization_percent ([\d.]+)$/);
    expect(avg).toBe(usd6(stats.avgCostPerCall));
    expect(pct).toBe(((stats.budget?.utilization ?? Number.NaN) * 100).toFixed(2));
    // The custom analysis follows the figures: the top agent, and each agent over 5,000 tokens a call.
    expect(line(out, /^Most expensive: (\S+) /)[0]).toBe(stats.byAgent[0]?.key);
    const large = stats.byAgent.filter((a) => a.totalTokens / a.requests > 5000).map((a) => a.key);
    expect(large.length).toBeGreaterThan(0);
    expect([...out.matchAll(/^⚠️ {2}(\S+) uses (\d+) tokens\/call/gm)].map((m) => m[1])).toEqual(large);

    // The export: the tracker's statistics and every call.
    const [count, file] = line(out, /^Exported (\d+) records to (\S+)$/);
    const exported = JSON.parse(readFileSync(file as string, 'utf8')) as {
      statistics: { total_calls: number; total_tokens: number; total_cost_usd: number; by_agent: Record<string, { calls: number }> };
      records: unknown[];
    };
    expect(num(count)).toBe(records.length);
    expect(exported.records).toHaveLength(records.length);
    expect(exported.statistics).toMatchObject({ total_calls: stats.calls, total_tokens: stats.totalTokens });
    expect(exported.statistics.total_cost_usd).toBeCloseTo(stats.costUsd, 12);
    expect(Object.fromEntries(Object.entries(exported.statistics.by_agent).map(([k, v]) => [k, v.calls]))).toEqual(
      Object.fromEntries(stats.byAgent.map((a) => [a.key, a.requests])),
    );
  });
});

describe('examples/langchain-tracking.ts', () => {
  it("records LangChain calls with the user and thread of the config's configurable, and the agent; its figures are the ledger's", () => {
    const { out, dir } = runExample('langchain-tracking');
    const records = ledger(dir);
    expect(records.map((r) => `${r.userId} ${r.threadId} ${r.agent} ${r.model}`)).toEqual([
      'user@example.com conversation-123 domain_agent gpt-4o',
      'user@example.com conversation-123 domain_agent gpt-4o',
      'user@example.com conversation-456 custom_agent gpt-4o-mini',
    ]);
    for (const agent of ['domain_agent', 'custom_agent']) {
      const mine = records.filter((r) => r.agent === agent);
      const [requests, tokens, cost] = line(out, new RegExp(`^${agent}: (\\d+) requests, (\\d+) tokens, \\$([\\d.]+)$`));
      expect([num(requests), num(tokens)]).toEqual([mine.length, sum(mine, 'totalTokens')]);
      expectUsd(cost, sum(mine, 'costUsd'));
    }
    const [requests, cost] = line(out, /^user@example\.com: (\d+) requests, \$([\d.]+)$/);
    expect(num(requests)).toBe(records.length);
    expectUsd(cost, sum(records, 'costUsd'));
  });
});
