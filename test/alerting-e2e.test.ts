// End to end, the whole alerting path with the real programs: Debian's prometheus scrapes a
// TokenMonitor (this test process) and evaluates prometheus/rules/tokenmeter.rules.yml; Debian's
// prometheus-alertmanager, configured from prometheus/alertmanager.yml, routes and inhibits; a
// webhook receiver in this test gets what Alertmanager sends. Spend goes past 80%, 95% and 100% of a
// daily budget, then the monitor's clock moves a day on and the window resets.
//
// Everything runs on 127.0.0.1, on ports picked for this test and with data dirs in a temp dir of
// its own; both programs are stopped and the temp dir removed at the end.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenMonitor } from '../src/monitor.ts';
import { freePort, waitFor } from './helpers/prometheus.ts';

const root = join(import.meta.dirname, '..');
const shippedRules = join(root, 'prometheus', 'rules', 'tokenmeter.rules.yml');
const shippedAlertmanager = join(root, 'prometheus', 'alertmanager.yml');

const BUDGET = { scope: 'user', scope_id: 'alice', window: 'daily', unit: 'usd', budget: 'user:alice' } as const;
const DAY_MS = 86_400_000;

/** The first of `names` on PATH; fails (as test/prometheus-rules.test.ts does for promtool) when none is. */
function binary(...names: string[]): string {
  for (const name of names) {
    const r = spawnSync(name, ['--version'], { encoding: 'utf8' });
    if (!r.error) return name;
  }
  throw new Error(`${names.join(' or ')} is not installed (run ./dev setup, or apt-get install prometheus prometheus-alertmanager)`);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function getJson(url: string): Promise<unknown> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
  return res.json();
}

/** A prometheus or alertmanager process, with the tail of its log for diagnosis. */
interface Daemon {
  name: string;
  port: number;
  child: ChildProcess;
  log: string[];
  exited: Promise<void>;
  killOnExit: () => void;
}

/**
 * Starts `bin` with the arguments `args(port)` gives for a free port, and waits until its
 * /-/ready answers 200. A port taken between freePort() and the bind is retried with another.
 */
async function startDaemon(name: string, bin: string, args: (port: number) => string[], timeoutMs = 30_000): Promise<Daemon> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const child = spawn(bin, args(port), { stdio: ['ignore', 'pipe', 'pipe'] });
    const log: string[] = [];
    const keep = (chunk: Buffer) => {
      log.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      if (log.length > 400) log.splice(0, log.length - 400);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    let gone = false;
    const exited = new Promise<void>((resolve) => {
      child.once('exit', () => {
        gone = true;
        resolve();
      });
      child.once('error', (error) => {
        log.push(`spawn error: ${error.message}`);
        gone = true;
        resolve();
      });
    });
    // If the test process exits without afterAll (a crash), do not leave the child running.
    const killOnExit = () => child.kill('SIGKILL');
    process.once('exit', killOnExit);
    const d: Daemon = { name, port, child, log, exited, killOnExit };
    const deadline = Date.now() + timeoutMs;
    while (!gone && Date.now() < deadline) {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/-/ready`, { signal: AbortSignal.timeout(1000) });
        await res.arrayBuffer();
        if (res.ok) return d;
      } catch {
        // not listening yet
      }
      await sleep(200);
    }
    await stopDaemon(d);
    const tail = log.slice(-30).join('\n');
    if (attempt < 3 && /address already in use/i.test(tail)) continue;
    throw new Error(`${name} was not ready on 127.0.0.1:${port} within ${timeoutMs / 1000} s; its log ends:\n${tail}`);
  }
}

/** SIGTERM, then SIGKILL after a grace period; resolves once the process is gone. */
async function stopDaemon(d: Daemon, graceMs = 5000): Promise<void> {
  process.removeListener('exit', d.killOnExit);
  if (d.child.exitCode === null && d.child.signalCode === null) {
    d.child.kill('SIGTERM');
    const timer = setTimeout(() => d.child.kill('SIGKILL'), graceMs);
    await d.exited;
    clearTimeout(timer);
  }
}

/** What Alertmanager's webhook posts (https://prometheus.io/docs/alerting/latest/configuration/#webhook_config). */
interface WebhookAlert {
  status: 'firing' | 'resolved';
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
}
interface WebhookPayload {
  receiver: string;
  status: 'firing' | 'resolved';
  alerts: WebhookAlert[];
  groupLabels: Record<string, string>;
  commonLabels: Record<string, string>;
}
/** One alert of one notification, in the order they arrived. */
interface Notified {
  seq: number;
  receiver: string;
  groupLabels: Record<string, string>;
  alert: WebhookAlert;
}

/**
 * The shipped rules with every `for:` made 0s. The shipped file keeps its production durations
 * (minutes, so that a blip does not page anyone); what this test checks is that the expressions,
 * labels, routing and annotations work end to end, which waiting minutes would not add to.
 */
function testRules(): string {
  const shipped = readFileSync(shippedRules, 'utf8');
  const alerts = shipped.match(/^\s*- alert:/gm)?.length ?? 0;
  let fors = 0;
  const rules = shipped.replace(/^([ \t]*)for:[ \t]*\S+[ \t]*$/gm, (_, indent: string) => {
    fors++;
    return `${indent}for: 0s`;
  });
  expect(fors, 'every alert of the shipped rules has a for: to shorten').toBe(alerts);
  return `# Copy of prometheus/rules/tokenmeter.rules.yml made by test/alerting-e2e.test.ts, with every\n# \`for:\` set to 0s: the shipped file keeps production durations (minutes).\n${rules}`;
}

/**
 * prometheus/alertmanager.yml with its routes, grouping and inhibit_rules kept, every webhook
 * posting to this test's receiver, and the timers short: group_wait and group_interval 1s (the
 * shipped 10s-5m would only make the test wait), repeat_interval 1h (longer than the test, so
 * nothing is re-sent), send_resolved true.
 */
function testAlertmanagerConfig(webhookUrl: string): string {
  const shipped = readFileSync(shippedAlertmanager, 'utf8');
  const counts = { url: 0, group_wait: 0, group_interval: 0, repeat_interval: 0, send_resolved: 0 };
  const set = (text: string, key: keyof typeof counts, value: string) =>
    text.replace(new RegExp(`^([ \\t]*(?:- )?${key}:).*$`, 'gm'), (_, head: string) => {
      counts[key]++;
      return `${head} ${value}`;
    });
  let yml = set(shipped, 'url', JSON.stringify(webhookUrl));
  yml = set(yml, 'group_wait', '1s');
  yml = set(yml, 'group_interval', '1s');
  yml = set(yml, 'repeat_interval', '1h');
  yml = set(yml, 'send_resolved', 'true');
  expect(counts.url, 'webhook URLs in alertmanager.yml').toBeGreaterThan(0);
  expect(counts.send_resolved, 'each webhook of alertmanager.yml sets send_resolved').toBe(counts.url);
  expect(counts.group_wait * counts.group_interval * counts.repeat_interval, 'timers in alertmanager.yml').toBeGreaterThan(0);
  expect(yml).toContain('inhibit_rules:');
  return `# Made from prometheus/alertmanager.yml by test/alerting-e2e.test.ts: webhooks to the test, 1s timers.\n${yml}`;
}

describe('alerting end to end: tokenmeter → prometheus → alertmanager → webhook', () => {
  const prometheusBin = binary('prometheus');
  const alertmanagerBin = binary('prometheus-alertmanager', 'alertmanager');
  let tmp = '';
  let now = Date.now();
  let monitor: TokenMonitor | undefined;
  let receiver: Server | undefined;
  let alertmanager: Daemon | undefined;
  let prometheus: Daemon | undefined;
  const payloads: WebhookPayload[] = [];
  const received: Notified[] = [];

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'tokenmeter-alerting-'));
    for (const d of ['monitor', 'prometheus-data', 'alertmanager-data']) mkdirSync(join(tmp, d));

    // The webhook receiver: keeps every notification Alertmanager posts.
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        try {
          const p = JSON.parse(Buffer.concat(chunks).toString('utf8')) as WebhookPayload;
          payloads.push(p);
          for (const alert of p.alerts ?? [])
            received.push({ seq: payloads.length, receiver: p.receiver, groupLabels: p.groupLabels, alert });
          res.writeHead(200).end();
        } catch {
          res.writeHead(400).end();
        }
      });
    });
    await new Promise<void>((resolve) => receiver?.listen(0, '127.0.0.1', resolve));
    const webhookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/alerts`;

    // The tokenmeter process is this one; its budget's windows follow `now`, which the test moves.
    monitor = new TokenMonitor({
      dir: join(tmp, 'monitor'),
      loadConfig: false,
      logLevel: 'error',
      metrics: { prometheus: { port: 0 } },
      clock: () => now,
      budgets: [{ scope: 'user', scopeId: 'alice', limit: 10, unit: 'usd', cycle: { kind: 'daily' } }],
    });
    await monitor.ready();
    const target = monitor.metricsUrl;
    if (target === undefined) throw new Error('the monitor has no Prometheus endpoint');
    const scrape = new URL(target);

    const amConfig = join(tmp, 'alertmanager.yml');
    writeFileSync(amConfig, testAlertmanagerConfig(webhookUrl));
    alertmanager = await startDaemon('alertmanager', alertmanagerBin, (port) => [
      `--config.file=${amConfig}`,
      `--storage.path=${join(tmp, 'alertmanager-data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      // Empty: no cluster listener (no gossip port to pick, no peers to wait for).
      '--cluster.listen-address=',
      '--log.level=debug',
    ]);

    const rulesFile = join(tmp, 'tokenmeter.rules.yml');
    writeFileSync(rulesFile, testRules());
    const promConfig = join(tmp, 'prometheus.yml');
    // JSON strings are YAML strings: paths and addresses are quoted whatever they hold.
    writeFileSync(
      promConfig,
      [
        '# Made by test/alerting-e2e.test.ts: 1s scrapes and evaluations of this test monitor.',
        'global:',
        '  scrape_interval: 1s',
        '  scrape_timeout: 1s',
        '  evaluation_interval: 1s',
        'rule_files:',
        `  - ${JSON.stringify(rulesFile)}`,
        'alerting:',
        '  alertmanagers:',
        '    - static_configs:',
        `        - targets: [${JSON.stringify(`127.0.0.1:${alertmanager.port}`)}]`,
        'scrape_configs:',
        '  - job_name: tokenmeter',
        `    metrics_path: ${JSON.stringify(scrape.pathname)}`,
        '    static_configs:',
        `      - targets: [${JSON.stringify(scrape.host)}]`,
        '',
      ].join('\n'),
    );
    prometheus = await startDaemon('prometheus', prometheusBin, (port) => [
      `--config.file=${promConfig}`,
      `--storage.tsdb.path=${join(tmp, 'prometheus-data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ]);
  }, 90_000);

  afterAll(async () => {
    await Promise.all([prometheus, alertmanager].map((d) => (d === undefined ? undefined : stopDaemon(d))));
    await monitor?.close();
    await new Promise<void>((resolve) => (receiver === undefined ? resolve() : receiver.close(() => resolve())));
    if (tmp !== '') rmSync(tmp, { recursive: true, force: true });
  }, 30_000);

  /** Everything there is to see when a step does not happen. */
  async function diagnose(): Promise<string> {
    const out: string[] = [];
    const section = async (title: string, f: () => Promise<unknown>) => {
      try {
        const v = await f();
        out.push(`--- ${title}:\n${typeof v === 'string' ? v : JSON.stringify(v, null, 1)}`);
      } catch (error) {
        out.push(`--- ${title}: ${(error as Error).message}`);
      }
    };
    await section('webhook payloads', async () => payloads);
    if (prometheus !== undefined) {
      const p = prometheus.port;
      await section('prometheus targets', async () => ((await getJson(`http://127.0.0.1:${p}/api/v1/targets`)) as { data: unknown }).data);
      await section('prometheus budget series', async () => {
        const q = encodeURIComponent('{__name__=~"tokenmeter:budget_.*"}');
        return ((await getJson(`http://127.0.0.1:${p}/api/v1/query?query=${q}`)) as { data: unknown }).data;
      });
      await section('prometheus alerts', async () => ((await getJson(`http://127.0.0.1:${p}/api/v1/alerts`)) as { data: unknown }).data);
      await section('prometheus log (tail)', async () => prometheus?.log.slice(-40).join('\n'));
    }
    if (alertmanager !== undefined) {
      const p = alertmanager.port;
      await section('alertmanager alerts', async () => getJson(`http://127.0.0.1:${p}/api/v2/alerts`));
      await section('alertmanager log (tail)', async () => alertmanager?.log.slice(-60).join('\n'));
    }
    return out.join('\n');
  }

  /** The notifications so far of `alertname` about the test budget with `status`. */
  const notified = (alertname: string, status: 'firing' | 'resolved') =>
    received.filter(
      (n) => n.alert.labels.alertname === alertname && n.alert.labels.scope_id === BUDGET.scope_id && n.alert.status === status,
    );

  /** Waits for the first notification of `alertname` with `status`. */
  const notification = (alertname: string, status: 'firing' | 'resolved', timeoutMs: number) =>
    waitFor(`a ${status} ${alertname} notification`, timeoutMs, () => notified(alertname, status)[0]);

  /** Spends `usd` for alice; returns the levels the monitor itself alerted. */
  const spend = (usd: number) =>
    monitor?.record({ provider: 'openai', model: 'gpt-4o', userId: 'alice', costUsd: usd }).alerts.map((a) => a.level);

  it('warns at 85%, is critical at 97%, exceeded at 105%, and resolves when the window resets', async ({ onTestFailed }) => {
    // While both programs still run: what each saw, and every payload the webhook got.
    onTestFailed(async () => {
      console.error(`alerting e2e failed; what each part saw:\n${await diagnose()}`);
    });
    const prom = `http://127.0.0.1:${prometheus?.port}`;

    // The first scrape, and the recording rules over it: the budget at 0 of its limit.
    await waitFor('Prometheus to scrape the monitor and record tokenmeter:budget_usage:ratio', 30_000, async () => {
      const q = encodeURIComponent(`tokenmeter:budget_usage:ratio{scope_id="${BUDGET.scope_id}"}`);
      const r = (await getJson(`${prom}/api/v1/query?query=${q}`)) as { data: { result: { value: [number, string] }[] } };
      return r.data.result.length === 1 ? r.data.result[0] : undefined;
    });

    // 85%: warning, to the warning receiver.
    expect(spend(8.5)).toEqual(['warning']);
    const warning = await notification('TokenmeterBudgetWarning', 'firing', 20_000);
    expect(warning.receiver).toBe('tokenmeter-warning');
    expect(warning.alert.labels).toEqual({ alertname: 'TokenmeterBudgetWarning', ...BUDGET, severity: 'warning' });
    expect(warning.groupLabels).toEqual({ alertname: 'TokenmeterBudgetWarning', ...BUDGET });
    expect(warning.alert.annotations.summary).toBe('user budget "alice" (daily, usd) has used 85% of its limit');
    expect(warning.alert.annotations.description).toContain('Used $8.50 of $10.00 (85%; warning at 80%, critical at 95%)');

    // 97%: critical, to the critical receiver.
    expect(spend(1.2)).toEqual(['critical']);
    const critical = await notification('TokenmeterBudgetCritical', 'firing', 15_000);
    expect(critical.receiver).toBe('tokenmeter-critical');
    expect(critical.alert.labels).toEqual({ alertname: 'TokenmeterBudgetCritical', ...BUDGET, severity: 'critical' });
    expect(critical.alert.annotations.summary).toBe('user budget "alice" (daily, usd) has used 97% of its limit, close to exhausted');
    expect(critical.alert.annotations.description).toContain('Used $9.70 of $10.00 (97%; warning at 80%, critical at 95%)');
    // The inhibit rule at work: alice's budget alerts of severity warning that are still true are
    // suppressed by the critical one. TokenmeterBudgetForecastOverrun is such an alert here (spend
    // went from 0 to $9.70 in seconds, a trend that overruns the limit long before the window
    // ends); the warning itself is no longer true at 97%, and its resolution may go unsent.
    const amAlerts = (await getJson(`http://127.0.0.1:${alertmanager?.port}/api/v2/alerts`)) as {
      labels: Record<string, string>;
      status: { state: string; inhibitedBy: string[] };
    }[];
    const warnings = amAlerts.filter((a) => a.labels.severity === 'warning' && a.labels.scope_id === BUDGET.scope_id);
    expect(warnings.map((a) => a.labels.alertname)).toContain('TokenmeterBudgetForecastOverrun');
    for (const a of warnings) {
      expect(a.status.state, `${a.labels.alertname} while critical fires`).toBe('suppressed');
      expect(a.status.inhibitedBy.length).toBeGreaterThan(0);
    }

    // 105%: exceeded (critical receiver); critical is no longer true, and says so.
    expect(spend(0.8)).toEqual(['exceeded']);
    const exceeded = await notification('TokenmeterBudgetExceeded', 'firing', 15_000);
    expect(exceeded.receiver).toBe('tokenmeter-critical');
    expect(exceeded.alert.labels).toEqual({ alertname: 'TokenmeterBudgetExceeded', ...BUDGET, severity: 'critical' });
    expect(exceeded.alert.annotations.summary).toBe('user budget "alice" (daily, usd) is exceeded: 105% of its limit used');
    expect(exceeded.alert.annotations.description).toContain('Used $10.50 of $10.00 (105%; warning at 80%, critical at 95%)');
    const criticalResolved = await notification('TokenmeterBudgetCritical', 'resolved', 15_000);
    expect(criticalResolved.receiver).toBe('tokenmeter-critical');

    // A day later the window resets: used drops to 0 at the next scrape, and exceeded resolves.
    now += DAY_MS;
    const exceededResolved = await notification('TokenmeterBudgetExceeded', 'resolved', 15_000);
    expect(exceededResolved.receiver).toBe('tokenmeter-critical');
    expect(exceededResolved.alert.labels).toEqual(exceeded.alert.labels);
    expect(Date.parse(exceededResolved.alert.endsAt)).toBeGreaterThan(Date.parse(exceededResolved.alert.startsAt));

    // A few group intervals more: nothing fires again. Each level fired once, before the next one;
    // the warning's own resolution may be muted by the inhibition (it resolved while critical fired).
    await sleep(3000);
    expect(notified('TokenmeterBudgetWarning', 'firing').map((n) => n.seq)).toEqual([warning.seq]);
    expect(notified('TokenmeterBudgetCritical', 'firing').map((n) => n.seq)).toEqual([critical.seq]);
    expect(notified('TokenmeterBudgetExceeded', 'firing').map((n) => n.seq)).toEqual([exceeded.seq]);
    expect(warning.seq).toBeLessThan(critical.seq);
    expect(critical.seq).toBeLessThan(exceeded.seq);
    expect(exceededResolved.seq).toBeGreaterThan(exceeded.seq);
  }, 120_000);
});
