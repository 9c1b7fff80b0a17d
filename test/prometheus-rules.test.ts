import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LABEL, METRIC } from '../src/metrics/names.ts';
import { namesIn } from './helpers/promql.ts';

const root = join(import.meta.dirname, '..');
const rulesFile = join(root, 'prometheus', 'rules', 'tokenmeter.rules.yml');
const rulesTestFile = join(root, 'prometheus', 'rules', 'tokenmeter.rules.test.yml');
const prometheusConfig = join(root, 'prometheus', 'prometheus.yml');
const alertmanagerConfig = join(root, 'prometheus', 'alertmanager.yml');

/** Runs a tool; `missing` when its binary is not installed. */
function run(cmd: string, args: string[]): { missing: boolean; status: number | null; output: string } {
  const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8' });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') return { missing: true, status: null, output: '' };
  if (r.error) throw r.error;
  return { missing: false, status: r.status, output: `${r.stdout}${r.stderr}` };
}

function promtool(...args: string[]) {
  const r = run('promtool', args);
  if (r.missing) throw new Error('promtool is not installed (run ./dev setup, or apt-get install prometheus)');
  return r;
}

const hasAmtool = !run('amtool', ['--version']).missing;

/** The PromQL of every `expr:` in a rules file, inline or as a block scalar (`expr: |`). */
function exprs(yaml: string): string[] {
  const lines = yaml.split('\n');
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const m = /^(\s*)(?:- )?expr:\s*(.*)$/.exec(lines[i] as string);
    if (!m) continue;
    const indent = (m[1] as string).length;
    const value = (m[2] as string).trim();
    if (!/^[|>][-+]?$/.test(value)) {
      out.push(value.replace(/^'(.*)'$/, '$1').replace(/^"(.*)"$/, '$1'));
      continue;
    }
    const body: string[] = [];
    while (i + 1 < lines.length) {
      const next = lines[i + 1] as string;
      if (next.trim() !== '' && (/^\s*/.exec(next)?.[0].length ?? 0) <= indent) break;
      body.push(next);
      i++;
    }
    out.push(body.join('\n'));
  }
  return out;
}

describe('Prometheus rules and Alertmanager config', () => {
  const rules = readFileSync(rulesFile, 'utf8');
  const recorded = [...rules.matchAll(/^\s*- record:\s*(\S+)/gm)].map((m) => m[1] as string);
  const alerts = [...rules.matchAll(/^\s*- alert:\s*(\S+)/gm)].map((m) => m[1] as string);

  it('promtool check rules passes', () => {
    const r = promtool('check', 'rules', rulesFile);
    expect(r.output).toContain('SUCCESS');
    expect(r.status).toBe(0);
  });

  it('promtool test rules passes: the unit tests of every alert', () => {
    const r = promtool('test', 'rules', rulesTestFile);
    expect(r.output).toContain('SUCCESS');
    expect(r.output).not.toContain('FAILED');
    expect(r.status).toBe(0);
  });

  it('prometheus.yml passes promtool check config and loads the rules, not their tests', () => {
    const r = promtool('check', 'config', prometheusConfig);
    expect(r.status).toBe(0);
    expect(r.output).toContain('SUCCESS: 1 rule files found');
    expect(r.output).toContain('tokenmeter.rules.yml');
    expect(r.output).not.toContain('.test.yml');
    expect(readFileSync(prometheusConfig, 'utf8')).toContain("'alertmanager:9093'");
  });

  it.skipIf(!hasAmtool)('alertmanager.yml passes amtool check-config and routes by severity', () => {
    const r = run('amtool', ['check-config', alertmanagerConfig]);
    expect(r.output).toContain('SUCCESS');
    expect(r.status).toBe(0);
    const route = (...labels: string[]) => {
      const t = run('amtool', ['config', 'routes', 'test', '--config.file', alertmanagerConfig, ...labels]);
      expect(t.status).toBe(0);
      return t.output.split('\n').filter((l) => l !== '' && !l.startsWith('Warning:'));
    };
    expect(route('alertname=TokenmeterBudgetExceeded', 'severity=critical')).toEqual(['tokenmeter-critical']);
    expect(route('alertname=TokenmeterBudgetWarning', 'severity=warning')).toEqual(['tokenmeter-warning']);
  });

  it('uses only the metric and label names defined in src/metrics/names.ts, or recorded in the file', () => {
    const known = new Set<string>([...Object.values(METRIC), ...recorded]);
    const knownLabels = new Set<string>([...Object.values(LABEL), 'instance', 'pod', 'job']);
    const found = exprs(rules).map(namesIn);
    expect(found.length).toBe(recorded.length + alerts.length);
    const metrics = new Set(found.flatMap((f) => f.metrics));
    // Names in annotation queries, comments and the unit tests' input series count too.
    const tests = readFileSync(rulesTestFile, 'utf8');
    for (const text of [rules, tests])
      for (const m of text.matchAll(/\btokenmeter[_:][a-zA-Z0-9_:]*/g)) metrics.add(m[0].replace(/:+$/, ''));
    expect([...metrics].filter((n) => !known.has(n))).toEqual([]);
    expect(metrics).toContain(METRIC.cost);
    expect(metrics).toContain(METRIC.budgetUsed);
    const labels = new Set(found.flatMap((f) => f.labels));
    for (const m of rules.matchAll(/\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)/g)) labels.add(m[1] as string);
    expect([...labels].filter((l) => !knownLabels.has(l))).toEqual([]);
  });

  it('has a unit test showing every alert firing and one showing it quiet', () => {
    const tests = readFileSync(rulesTestFile, 'utf8');
    expect(alerts.length).toBeGreaterThanOrEqual(7);
    for (const alert of alerts) {
      const cases = [...tests.matchAll(/alertname:\s*(\S+)\s*\n\s*exp_alerts:\s*(\[\])?/g)].filter((m) => m[1] === alert);
      expect(
        cases.some((m) => m[2] === undefined),
        `${alert} firing`,
      ).toBe(true);
      expect(
        cases.some((m) => m[2] === '[]'),
        `${alert} quiet`,
      ).toBe(true);
    }
  });

  it('gives every alert a severity, a summary and a description', () => {
    const blocks = rules.split(/^\s*- (?=alert:|record:)/m).filter((b) => b.startsWith('alert:'));
    expect(blocks.length).toBe(alerts.length);
    for (const b of blocks) {
      expect(b).toMatch(/severity: (warning|critical)\n/);
      expect(b).toMatch(/summary:/);
      expect(b).toMatch(/description:/);
      expect(b).toMatch(/for: \d+m\n/);
    }
  });
});
