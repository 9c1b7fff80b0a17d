// A fleet of two app processes (test/helpers/fleet-child.ts), each a TokenMonitor with its own
// Prometheus endpoint, spending at different paces; Debian's prometheus scrapes both and evaluates
// the project's rules. The recording rules and the dashboards' queries must give fleet totals: the
// sum of what each instance reports, once (no series per instance, nothing counted twice), and the
// totals the processes themselves counted; a budget every instance reports is not added up.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DASHBOARDS_DIR } from '../scripts/dashboards.ts';
import { METRIC } from '../src/metrics/names.ts';
import { type PrometheusServer, startPrometheus, waitFor } from './helpers/prometheus.ts';

const root = join(import.meta.dirname, '..');
const rulesFile = join(root, 'prometheus', 'rules', 'tokenmeter.rules.yml');
const CHILD = join(import.meta.dirname, 'helpers', 'fleet-child.ts');

type Series = { metric: Record<string, string>; value: [number, string] };

/** One app process: its Prometheus target (host:port), and a way to talk to it. */
interface App {
  name: string;
  target: string;
  proc: ChildProcess;
  next: () => Promise<Record<string, unknown>>;
}

async function startApp(name: string, factor: number, anthropic: boolean): Promise<App> {
  const proc = spawn(process.execPath, [CHILD, name, String(factor), anthropic ? '1' : '0'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const waiting: ((line: string) => void)[] = [];
  const queued: string[] = [];
  let stderr = '';
  proc.stderr?.on('data', (d) => {
    stderr += d;
  });
  createInterface({ input: proc.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    const w = waiting.shift();
    if (w) w(line);
    else queued.push(line);
  });
  const next = () =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`app ${name} said nothing in 20 s; stderr: ${stderr}`)), 20_000);
      const take = (line: string) => {
        clearTimeout(timer);
        resolve(JSON.parse(line) as Record<string, unknown>);
      };
      const q = queued.shift();
      if (q !== undefined) take(q);
      else waiting.push(take);
    });
  const { url } = (await next()) as { url: string };
  return { name, target: new URL(url).host, proc, next };
}

/** The shipped rules with every `for:` made 0s (as the other rule tests do). */
function rulesNow(): string {
  return readFileSync(rulesFile, 'utf8').replace(/^([ \t]*)for:[ \t]*\S+[ \t]*$/gm, '$1for: 0s');
}

/** The recording rules over counters (which must sum over instances): name and expression. */
function summingRules(): { record: string; expr: string }[] {
  const out: { record: string; expr: string }[] = [];
  for (const m of readFileSync(rulesFile, 'utf8').matchAll(/^\s*- record:\s*(\S+)\n\s*expr:\s*(.+)$/gm)) {
    if (/\brate\(tokenmeter_\w+_total\b/.test(m[2] as string)) out.push({ record: m[1] as string, expr: m[2] as string });
  }
  return out;
}

/** A series' labels but instance, as a key. */
const key = (metric: Record<string, string>) =>
  JSON.stringify(
    Object.entries(metric)
      .filter(([k]) => k !== 'instance' && k !== '__name__')
      .sort(),
  );

/** Adds up per-instance series by their other labels. */
function sumOverInstances(series: Series[]): Map<string, { value: number; instances: Set<string> }> {
  const out = new Map<string, { value: number; instances: Set<string> }>();
  for (const s of series) {
    const k = key(s.metric);
    const e = out.get(k) ?? { value: 0, instances: new Set<string>() };
    e.value += Number(s.value[1]);
    if (s.metric.instance !== undefined) e.instances.add(s.metric.instance);
    out.set(k, e);
  }
  return out;
}

/** Equal to 1e-9 of the larger (floating-point sums in another order). */
const close = (a: number, b: number) => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));

interface Panel {
  title?: string;
  panels?: Panel[];
  targets?: { expr?: string; instant?: boolean }[];
}

/** The dashboards' instant queries that add up: totals over the range, per instance filter. */
const ADDITIVE = [
  'Spend over the range',
  'Calls over the range',
  'Spend over the range by provider',
  'Spend over the range by model',
  'Tokens over the range by type',
  'Top users by spend',
  'Unpriced models in use',
];
function additiveQueries(): { title: string; expr: string }[] {
  const out: { title: string; expr: string }[] = [];
  for (const f of readdirSync(DASHBOARDS_DIR).filter((x) => x.endsWith('.json'))) {
    const walk = (panels: Panel[]) => {
      for (const p of panels) {
        if (ADDITIVE.includes(p.title ?? ''))
          for (const t of p.targets ?? []) if (t.expr !== undefined) out.push({ title: p.title ?? '', expr: t.expr });
        walk(p.panels ?? []);
      }
    };
    walk((JSON.parse(readFileSync(join(DASHBOARDS_DIR, f), 'utf8')) as { panels: Panel[] }).panels);
  }
  return out;
}

/** A dashboard query with its variables set: every filter `.*` but `$instance`. */
function concrete(expr: string, instance: string): string {
  return expr
    .replaceAll('$__range', '5m')
    .replaceAll('$__rate_interval', '10s')
    .replace(/\$\{?instance\}?/g, instance)
    .replace(/\$\{?(provider|model|service_type)\}?/g, '.*');
}

describe('a fleet of two app processes scraped by one Prometheus', () => {
  const apps: App[] = [];
  let prometheus: PrometheusServer | undefined;
  let tmp = '';

  /** An instant query at `time` (Unix seconds). */
  async function at(promql: string, time: number): Promise<Series[]> {
    const res = await fetch(`${prometheus?.url}/api/v1/query?query=${encodeURIComponent(promql)}&time=${time}`, {
      signal: AbortSignal.timeout(5000),
    });
    const body = (await res.json()) as { status: string; error?: string; data: { result: Series[] } };
    if (body.status !== 'success') throw new Error(`${promql}: ${body.error}`);
    return body.data.result;
  }

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'tokenmeter-fleet-'));
    // b spends three times a's pace on gpt-4o, and alone calls claude.
    apps.push(await startApp('app-a', 1, false), await startApp('app-b', 3, true));
    const rules = join(tmp, 'tokenmeter.rules.yml');
    writeFileSync(rules, rulesNow());
    prometheus = await startPrometheus(
      apps.map((a) => `http://${a.target}/metrics`),
      '1s',
      { ruleFiles: [rules] },
    );
  }, 60_000);

  afterAll(async () => {
    await prometheus?.stop();
    for (const a of apps) {
      a.proc.stdin?.write('exit\n');
      const exited = new Promise((resolve) => a.proc.once('exit', resolve));
      const timer = setTimeout(() => a.proc.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    if (tmp !== '') rmSync(tmp, { recursive: true, force: true });
  }, 30_000);

  it('target_info tells the instances apart: service.name and service.instance.id join onto their series', async () => {
    const joined = await waitFor('both instances joined to target_info', 20_000, async () => {
      const r = await at(
        `count by (service_name, service_instance_id) (${METRIC.cost} * on (job, instance) group_left (service_name, service_instance_id) target_info)`,
        Date.now() / 1000,
      );
      return r.length === 2 ? r : undefined;
    });
    expect(joined.map((s) => [s.metric.service_name, s.metric.service_instance_id]).sort()).toEqual([
      ['checkout', 'app-a'],
      ['checkout', 'app-b'],
    ]);
  }, 30_000);

  it('each recording rule that sums over instances is the sum of the instances, once', async () => {
    const rules = summingRules();
    expect(rules.map((r) => r.record)).toEqual(
      expect.arrayContaining([
        'tokenmeter:cost_usd:rate1h',
        'tokenmeter:cost_usd:rate5m',
        'tokenmeter:tokens:rate5m',
        'tokenmeter:requests:rate5m',
      ]),
    );
    for (const rule of rules) {
      // The rule's last evaluation, against its expression kept per instance at that time. A
      // scrape that landed just after the evaluation can make them differ: then the next one.
      await waitFor(`${rule.record} to equal the sum of its instances`, 30_000, async () => {
        const now = Date.now() / 1000;
        const stamp = await at(`timestamp(${rule.record})`, now);
        if (stamp.length === 0) throw new Error('not evaluated yet');
        const t = Number(stamp[0]?.value[1]);
        const fleet = await at(rule.record, t);
        const perInstance = await at(rule.expr.replace('sum without (instance, ', 'sum without ('), t);
        const summed = sumOverInstances(perInstance);
        // Both processes contribute (b alone calls claude, and has errors).
        if (![...summed.values()].some((e) => e.instances.size === 2))
          throw new Error(`not both instances yet: ${JSON.stringify(perInstance)}`);
        for (const s of fleet) expect(s.metric.instance, `${rule.record} keeps instance`).toBeUndefined();
        expect(fleet.map((s) => key(s.metric)).sort(), `${rule.record}: one series per label set`).toEqual([...summed.keys()].sort());
        const wrong = fleet.filter((s) => !close(Number(s.value[1]), summed.get(key(s.metric))?.value ?? Number.NaN));
        if (wrong.length > 0) throw new Error(`${rule.record}: ${JSON.stringify(wrong)} vs ${JSON.stringify([...summed])}`);
        return true;
      });
    }
  }, 120_000);

  it("the dashboards' totals over the range are the sum of each instance's, with the instance filter at .*", async () => {
    const queries = additiveQueries();
    expect(queries.map((q) => q.title).sort()).toEqual([...ADDITIVE].sort());
    const [a, b] = apps as [App, App];
    // Long enough ago that every scrape up to then is stored: the three queries see the same data.
    await waitFor('every total to have data from both instances', 30_000, async () => {
      const t = Date.now() / 1000 - 3;
      for (const q of queries) {
        if ((await at(concrete(q.expr, a.target), t)).length === 0) throw new Error(`${q.title}: nothing from ${a.name}`);
        if ((await at(concrete(q.expr, b.target), t)).length === 0) throw new Error(`${q.title}: nothing from ${b.name}`);
      }
      return true;
    });
    const t = Date.now() / 1000 - 3;
    for (const q of queries) {
      const fleet = await at(concrete(q.expr, '.*'), t);
      const one = await at(concrete(q.expr, a.target), t);
      const other = await at(concrete(q.expr, b.target), t);
      const summed = sumOverInstances([...one, ...other]);
      expect(fleet.map((s) => key(s.metric)).sort(), q.title).toEqual([...summed.keys()].sort());
      for (const s of fleet) {
        const want = summed.get(key(s.metric))?.value as number;
        expect(close(Number(s.value[1]), want), `${q.title} ${key(s.metric)}: ${s.value[1]}, the instances add up to ${want}`).toBe(true);
      }
      // Not one instance's figure: b's share is in the total.
      const total = fleet.reduce((n, s) => n + Number(s.value[1]), 0);
      const first = one.reduce((n, s) => n + Number(s.value[1]), 0);
      expect(total, q.title).toBeGreaterThan(first);
    }
  }, 60_000);

  it('once the load stops: the counters add up to what the processes counted, and a budget every instance reports is not added', async () => {
    const totals: { costUsd: number; calls: number; budgetUsed: number }[] = [];
    for (const a of apps) {
      a.proc.stdin?.write('stop\n');
      totals.push((await a.next()) as { costUsd: number; calls: number; budgetUsed: number });
    }
    const cost = totals.reduce((n, x) => n + x.costUsd, 0);
    const calls = totals.reduce((n, x) => n + x.calls, 0);
    // Prometheus has scraped both since they stopped.
    await waitFor('the last scrape of both instances', 20_000, async () => {
      const r = await at(`sum(${METRIC.requests})`, Date.now() / 1000);
      return Number(r[0]?.value[1]) === calls ? true : undefined;
    });
    const now = Date.now() / 1000;
    const fleetCost = await at(`sum without (instance, pod, job) (${METRIC.cost})`, now);
    expect(
      fleetCost.reduce((n, s) => n + Number(s.value[1]), 0),
      'the fleet’s spend',
    ).toBeCloseTo(cost, 9);

    // Each process reports the budget it enforces: its own spend today (fleet-wide budgets will
    // make every instance report the fleet's). The rules take the max, never the sum, so that
    // instances reporting one shared figure do not count it once per instance.
    const used = totals.map((x) => x.budgetUsed);
    expect(used.every((u) => u > 0)).toBe(true);
    await waitFor('the budget rule to see the last scrape', 20_000, async () => {
      const r = await at('tokenmeter:budget_used:max{scope="global"}', Date.now() / 1000);
      if (r.length !== 1) throw new Error(`${r.length} series: ${JSON.stringify(r)}`);
      return close(Number(r[0]?.value[1]), Math.max(...used)) ? true : undefined;
    });
    const limit = await at('tokenmeter:budget_limit:max{scope="global"}', Date.now() / 1000);
    expect(limit.map((s) => Number(s.value[1]))).toEqual([1000]);
  }, 60_000);
});
