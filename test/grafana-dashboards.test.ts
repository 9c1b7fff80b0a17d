// The Grafana dashboards (grafana/dashboards/*.json): committed as scripts/dashboards.ts makes
// them, naming only metrics that exist, and every query (panels, variables, annotations) run
// against Debian's prometheus, which loads the project's rules and scrapes two tokenmeter processes
// while they record a mixed load with the opt-in labels on and budgets set: each must parse and
// return data, summed over the two instances.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DASHBOARDS_DIR, renderDashboards } from '../scripts/dashboards.ts';
import { LABEL, METRIC, prometheusName, SEMCONV } from '../src/metrics/names.ts';
import { TokenMonitor } from '../src/monitor.ts';
import { type PrometheusServer, startPrometheus, waitFor } from './helpers/prometheus.ts';

const root = join(import.meta.dirname, '..');
const rulesFile = join(root, 'prometheus', 'rules', 'tokenmeter.rules.yml');

/** One query of a dashboard, where it is, and how Grafana runs it. */
interface Query {
  where: string;
  kind: 'panel' | 'variable' | 'annotation';
  expr: string;
  instant: boolean;
}

interface Panel {
  title?: string;
  type: string;
  panels?: Panel[];
  targets?: { expr?: string; instant?: boolean; refId?: string }[];
  fieldConfig?: { defaults?: { noValue?: string } };
  description?: string;
}
interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: { name: string; type: string; query?: unknown }[] };
  annotations: { list: { name: string; expr?: string }[] };
}

const committed = new Map(
  readdirSync(DASHBOARDS_DIR)
    .filter((f) => f.endsWith('.json'))
    .map((f) => [f, readFileSync(join(DASHBOARDS_DIR, f), 'utf8')]),
);
const dashboards = [...committed].map(([file, text]) => ({ file, board: JSON.parse(text) as Dashboard }));

function queriesOf(file: string, d: Dashboard): Query[] {
  const out: Query[] = [];
  const walk = (panels: Panel[]) => {
    for (const p of panels) {
      for (const t of p.targets ?? [])
        if (t.expr !== undefined)
          out.push({ where: `${file}: panel "${p.title}" ${t.refId}`, kind: 'panel', expr: t.expr, instant: t.instant === true });
      walk(p.panels ?? []);
    }
  };
  walk(d.panels);
  for (const v of d.templating.list)
    if (v.type === 'query') out.push({ where: `${file}: variable $${v.name}`, kind: 'variable', expr: String(v.query), instant: false });
  for (const a of d.annotations.list)
    if (a.expr !== undefined) out.push({ where: `${file}: annotation "${a.name}"`, kind: 'annotation', expr: a.expr, instant: false });
  return out;
}
const queries = dashboards.flatMap(({ file, board }) => queriesOf(file, board));

/** Grafana's variables and intervals, made concrete: every filter `.*`, short windows for a short test. */
function concrete(expr: string): string {
  const e = expr
    .replaceAll('$__rate_interval', '10s')
    .replaceAll('$__interval', '2s')
    .replaceAll('$__range', '5m')
    .replace(/\$\{?(provider|model|service_type|instance)\}?/g, '.*');
  // `$1` is label_replace's first group, not a variable.
  const left = /\$(?!1")\{?\w+/.exec(e);
  if (left) throw new Error(`unknown variable ${left[0]} in ${expr}`);
  return e;
}

const KEYWORDS = new Set([
  'and',
  'or',
  'unless',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'offset',
  'bool',
  'inf',
  'nan',
]);

/** The metric names and label names a PromQL expression (or a label_values() call) uses. */
function namesIn(expr: string): { metrics: string[]; labels: string[] } {
  const labels: string[] = [];
  let e = expr.replace(/^label_values\((.*), *(\w+)\)$/s, (_, sel: string, label: string) => {
    labels.push(label);
    return sel;
  });
  e = e.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  e = e.replace(/\{([^}]*)\}/g, (_, body: string) => {
    for (const m of body.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g)) labels.push(m[1] as string);
    return ' ';
  });
  e = e.replace(/\b(?:by|without|on|ignoring)\s*\(([^)]*)\)/g, (_, list: string) => {
    labels.push(
      ...list
        .split(',')
        .map((l) => l.trim())
        .filter(Boolean),
    );
    return ' ';
  });
  e = e.replace(/\[[^\]]*\]/g, ' ').replace(/\boffset\s+\S+/g, ' ');
  const metrics: string[] = [];
  for (const m of e.matchAll(/(?<![\w.:])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?/g)) {
    const name = m[1] as string;
    if (m[2] === undefined && !KEYWORDS.has(name.toLowerCase())) metrics.push(name);
  }
  return { metrics, labels };
}

describe('Grafana dashboards', () => {
  it('are committed as scripts/dashboards.ts makes them (npm run dashboards)', () => {
    const made = renderDashboards();
    expect([...committed.keys()].sort()).toEqual([...made.keys()].sort());
    for (const [file, json] of made) expect(committed.get(file), `grafana/dashboards/${file} is stale: npm run dashboards`).toBe(json);
  });

  it('query only metrics of src/metrics/names.ts and the recording rules, with known labels', () => {
    const rules = readFileSync(rulesFile, 'utf8');
    const recorded = [...rules.matchAll(/^\s*- record:\s*(\S+)/gm)].map((m) => m[1] as string);
    const known = new Set<string>([...Object.values(METRIC), ...recorded, `${METRIC.operationDuration}_bucket`, 'ALERTS']);
    const knownLabels = new Set<string>([
      ...Object.values(LABEL),
      ...Object.values(SEMCONV).map((a) => prometheusName(a, false)),
      'instance',
      'le',
      'alertname',
      'alertstate',
    ]);
    expect(queries.length).toBeGreaterThan(30);
    const unknown: string[] = [];
    const used = new Set<string>();
    for (const q of queries) {
      const { metrics, labels } = namesIn(q.expr);
      expect(metrics.length, `${q.where} selects a metric`).toBeGreaterThan(0);
      for (const m of metrics) {
        used.add(m);
        if (!known.has(m)) unknown.push(`${q.where}: metric ${m}`);
      }
      for (const l of labels) if (!knownLabels.has(l)) unknown.push(`${q.where}: label ${l}`);
    }
    expect(unknown).toEqual([]);
    // Every metric tokenmeter exports is on a dashboard, itself or through a recording rule (the
    // GenAI token histogram aside: the tokens panels read tokenmeter's own counter, which has all
    // five token types).
    for (const block of rules.split(/^\s*- (?=record:|alert:)/m)) {
      const name = /^record:\s*(\S+)/.exec(block)?.[1];
      if (name === undefined || !used.has(name)) continue;
      for (const m of Object.values(METRIC)) if (new RegExp(`\\b${m}\\b`).test(block)) used.add(m);
    }
    const missing = Object.entries(METRIC)
      .filter(([key, name]) => key !== 'tokenUsage' && ![...used].some((u) => u === name || u === `${name}_bucket`))
      .map(([, name]) => name);
    expect(missing).toEqual([]);
  });

  it('read counters through rate() or increase(), so that restarts do not show as drops', () => {
    const counters = [...Object.values(METRIC).filter((m) => m.endsWith('_total')), `${METRIC.operationDuration}_bucket`];
    const bare: string[] = [];
    for (const q of queries) {
      if (q.kind === 'variable') continue;
      for (const c of counters) {
        for (const m of q.expr.matchAll(new RegExp(`\\b${c}(\\{[^}]*\\})?(.{0,12})`, 'g'))) {
          const after = m[2] as string;
          if (after.startsWith('[')) continue;
          // `group by (...) (X)` reads which label sets exist, not the counter's value.
          if (/group by \([^)]*\) \($/.test(q.expr.slice(0, m.index))) continue;
          // `X unless X offset $__range`: the series that appeared during the range, counted whole.
          const selector = `${c}${m[1] ?? ''}`;
          if (q.expr.includes(`${selector} unless ${selector} offset $__range`)) continue;
          bare.push(`${q.where}: ${selector}${after}`);
        }
      }
    }
    expect(bare).toEqual([]);
  });

  it('say what to turn on where an opt-in label is off', () => {
    const callers = dashboards.find((d) => d.board.uid === 'tokenmeter-callers')?.board;
    expect(callers).toBeDefined();
    const optIn = { [LABEL.agent]: 'agent', [LABEL.userId]: 'userId', [LABEL.threadId]: 'threadId', [LABEL.apiKeyId]: 'apiKeyId' };
    let checked = 0;
    for (const p of callers?.panels ?? []) {
      for (const [label, option] of Object.entries(optIn)) {
        if (!(p.targets ?? []).some((t) => t.expr?.includes(`${label}!=""`))) continue;
        checked++;
        expect(p.fieldConfig?.defaults?.noValue, `panel "${p.title}"`).toContain(`metrics: { labels: { ${option}: true } }`);
        expect(p.description, `panel "${p.title}"`).toContain(`${option}: true`);
      }
    }
    expect(checked).toBeGreaterThanOrEqual(6);
  });
});

/** The shipped rules with every `for:` made 0s (as test/alerting-e2e.test.ts does): alerts fire at once. */
function rulesNow(): string {
  return readFileSync(rulesFile, 'utf8').replace(/^([ \t]*)for:[ \t]*\S+[ \t]*$/gm, '$1for: 0s');
}

describe('every dashboard query against Prometheus scraping two tokenmeter processes', () => {
  const monitors: TokenMonitor[] = [];
  let prometheus: PrometheusServer | undefined;
  let load: NodeJS.Timeout | undefined;
  let tmp = '';

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'tokenmeter-grafana-'));
    for (const name of ['a', 'b']) {
      const monitor = new TokenMonitor({
        dir: join(tmp, name),
        loadConfig: false,
        logLevel: 'error',
        metrics: { prometheus: { port: 0 }, labels: { agent: true, userId: true, threadId: true, apiKeyId: true } },
        budgets: [
          // Per user: each user's share of it is a gauge (the callers dashboard's table).
          { scope: 'user', scopeId: '*', limit: 50, unit: 'usd', cycle: { kind: 'daily' } },
          // Spent at once: exceeded (a critical alert).
          { scope: 'user', scopeId: 'alice', limit: 0.05, unit: 'usd', cycle: { kind: 'daily' } },
          // Left at 85%: a warning.
          { scope: 'model', scopeId: 'mistral-large-latest', limit: 1, unit: 'usd', cycle: { kind: 'monthly', resetDay: 1 } },
          // A token budget with a rolling window (no window end).
          { scope: 'global', limit: 1e9, unit: 'tokens', cycle: { kind: 'rolling', days: 7 } },
        ],
      });
      await monitor.ready();
      monitors.push(monitor);
      monitor.record({ provider: 'mistral', model: 'mistral-large-latest', costUsd: 0.85, userId: 'carol', agent: 'writer' });
    }
    let n = 0;
    const round = () => {
      for (const [i, m] of monitors.entries()) {
        n++;
        const who = {
          userId: ['alice', 'bob', 'carol'][n % 3],
          agent: ['planner', 'writer'][n % 2],
          threadId: `t${n % 4}`,
          apiKeyId: `key-${i}`,
        };
        const durationMs = 400 + (n % 7) * 300;
        m.record({
          provider: 'openai',
          model: 'gpt-4o',
          inputTokens: 1200,
          outputTokens: 300,
          cachedInputTokens: 1024,
          durationMs,
          ...who,
        });
        m.record({
          provider: 'anthropic',
          model: 'claude-sonnet-4-5',
          inputTokens: 5200,
          outputTokens: 800,
          cachedInputTokens: 4000,
          cacheWriteTokens: 1000,
          durationMs,
          error: n % 4 === 0,
          ...who,
        });
        m.record({
          provider: 'gemini',
          model: 'gemini-2.5-pro',
          inputTokens: 2500,
          outputTokens: 2000,
          reasoningTokens: 1200,
          durationMs,
          ...who,
        });
        m.record({
          provider: 'openai',
          serviceType: 'embedding',
          model: 'text-embedding-3-small',
          inputTokens: 8000,
          durationMs: 50,
          ...who,
        });
        m.record({ provider: 'cohere', serviceType: 'reranking', model: 'rerank-v3.5', searchUnits: 1, durationMs: 80, ...who });
        m.record({ provider: 'openai', model: 'tokenmeter-test-unpriced-model', inputTokens: 100, outputTokens: 10, durationMs, ...who });
      }
    };
    round();
    load = setInterval(round, 250);

    const rules = join(tmp, 'tokenmeter.rules.yml');
    writeFileSync(rules, rulesNow());
    prometheus = await startPrometheus(
      monitors.map((m) => m.metricsUrl as string),
      '1s',
      { ruleFiles: [rules] },
    );
  }, 60_000);

  afterAll(async () => {
    clearInterval(load);
    await prometheus?.stop();
    for (const m of monitors) await m.close();
    if (tmp !== '') rmSync(tmp, { recursive: true, force: true });
  }, 30_000);

  /** Runs one query as Grafana would: instant, range over the last 30 s, or label values. */
  async function run(q: Query, expr = concrete(q.expr)): Promise<{ metric: Record<string, string> }[] | string[]> {
    const url = prometheus?.url as string;
    const now = Date.now() / 1000;
    let path: string;
    if (q.kind === 'variable') {
      const m = /^label_values\((.*), *(\w+)\)$/s.exec(expr);
      if (!m) throw new Error(`${q.where}: not a label_values() query: ${expr}`);
      path = `/api/v1/label/${m[2]}/values?match[]=${encodeURIComponent(m[1] as string)}&start=${now - 60}&end=${now}`;
    } else if (q.instant) {
      path = `/api/v1/query?query=${encodeURIComponent(expr)}&time=${now}`;
    } else {
      path = `/api/v1/query_range?query=${encodeURIComponent(expr)}&start=${now - 30}&end=${now}&step=2`;
    }
    const res = await fetch(`${url}${path}`, { signal: AbortSignal.timeout(5000) });
    const body = (await res.json()) as { status: string; error?: string; data: unknown };
    if (body.status !== 'success') throw new Error(`${q.where}: ${body.error}\n${expr}`);
    if (q.kind === 'variable') return body.data as string[];
    return (body.data as { result: { metric: Record<string, string> }[] }).result;
  }

  it('each panel, variable and annotation query parses and returns data, with the two instances summed', async ({ onTestFailed }) => {
    onTestFailed(() => console.error(`prometheus log (tail):\n${prometheus?.log.slice(-30).join('\n')}`));
    expect(queries.filter((q) => q.kind === 'variable').length).toBe(8);
    expect(queries.filter((q) => q.kind === 'annotation').length).toBe(4);

    // Every query parses at once (a syntax error fails here, not after the wait).
    for (const q of queries) await run(q);

    // Rates need two scrapes and the rules an evaluation over them: wait until every query has data.
    type Series = { metric: Record<string, string> }[];
    const valuesOf = (out: Map<Query, Awaited<ReturnType<typeof run>>>, title: string, label: string) =>
      ((([...out].find(([q]) => q.where.includes(`panel "${title}"`))?.[1] ?? []) as Series).map((s) => s.metric[label]) ?? []).sort();
    // What the load makes visible once both processes have been scraped twice: every token type,
    // each opt-in label's values from both processes, the one unpriced model, both instances.
    const expected: [string, string, string[]][] = [
      ['Tokens by type', LABEL.tokenType, ['cache_write', 'cached_input', 'input', 'output', 'reasoning']],
      ['Top users by spend', LABEL.userId, ['alice', 'bob', 'carol']],
      ['Top API keys by spend', LABEL.apiKeyId, ['key-0', 'key-1']],
      ['Top agents by spend', LABEL.agent, ['planner', 'writer']],
      ['Unpriced models in use', LABEL.model, ['tokenmeter-test-unpriced-model']],
    ];

    // Rates need two scrapes and the rules an evaluation over them: wait until every query has data.
    const results = await waitFor('every dashboard query to return data', 45_000, async () => {
      const out = new Map<Query, Awaited<ReturnType<typeof run>>>();
      for (const q of queries) out.set(q, await run(q));
      const empty = [...out].filter(([, r]) => r.length === 0).map(([q]) => q.where);
      if (empty.length > 0) throw new Error(`no data yet for ${empty.length}: ${empty.join('; ')}`);
      const instances = [...out].find(([q]) => q.where.endsWith('variable $instance'))?.[1] ?? [];
      if (instances.length !== 2) throw new Error(`instances: ${JSON.stringify(instances)}`);
      for (const [title, label, values] of expected) {
        const got = valuesOf(out, title, label);
        if (JSON.stringify(got) !== JSON.stringify(values)) throw new Error(`${title}: ${label} ${JSON.stringify(got)}`);
      }
      return out;
    });

    for (const [q, result] of results) {
      if (q.kind === 'variable') continue;
      // Summed over instances: no series is one process's (the annotations show alerts, which the rules made fleet-wide).
      for (const s of result as Series) expect(s.metric.instance, `${q.where} keeps instance`).toBeUndefined();
      const keys = (result as Series).map((s) => JSON.stringify(s.metric));
      expect(new Set(keys).size, `${q.where}: series twice`).toBe(keys.length);
    }
    for (const [title, label, values] of expected) expect(valuesOf(results, title, label), title).toEqual(values);
  }, 90_000);

  it('follows the filters: one provider selects its calls, latency included (gemini is gcp.gemini in the GenAI histogram)', async () => {
    const pick = (title: string) => {
      const q = queries.find((x) => x.where.includes(`panel "${title}"`));
      if (q === undefined) throw new Error(`no panel ${title}`);
      return q;
    };
    const only = (q: Query, provider: string) => concrete(q.expr.replaceAll('$provider', provider));
    for (const provider of ['gemini', 'anthropic']) {
      for (const title of ['p95 latency by provider', 'Spend over the range by provider', 'Spend rate by provider']) {
        const q = pick(title);
        const result = (await run(q, only(q, provider))) as { metric: Record<string, string> }[];
        expect(
          result.map((s) => s.metric[LABEL.provider]),
          `${title} for ${provider}`,
        ).toEqual([provider]);
      }
    }
    // The service type filter reaches the latency panel through the request counter: reranks take
    // 80 ms here, LLM calls 400 ms to 2.2 s.
    const median = pick('Latency: p50, p95, p99');
    const last = async (serviceType: string) => {
      const r = (await run(median, concrete(median.expr.replaceAll('$service_type', serviceType)))) as { values?: [number, string][] }[];
      expect(r, serviceType).toHaveLength(1);
      return Number(r[0]?.values?.at(-1)?.[1]);
    };
    expect(await last('reranking')).toBeLessThanOrEqual(0.08);
    expect(await last('llm')).toBeGreaterThan(0.32);
  }, 30_000);
});
