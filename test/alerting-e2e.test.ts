// End to end, the whole alerting path with the real programs: Debian's prometheus scrapes a
// TokenMonitor (this test process) and evaluates prometheus/rules/tokenmeter.rules.yml; Debian's
// prometheus-alertmanager, configured from prometheus/alertmanager.yml, routes and inhibits, and
// posts to a real `tokenmeter serve` (a child process, with a bearer token that Alertmanager reads
// from its credentials_file), which keeps the notifications in its ledger; the test reads them back
// from GET /v1/alertmanager/alerts and `tokenmeter alerts`. Spend goes past 80%, 95% and 100% of a
// daily budget, then the monitor's clock moves a day on and the window resets.
//
// Everything runs on 127.0.0.1, on ports picked for this test and with data dirs in a temp dir of
// its own; the three programs are stopped and the temp dir removed at the end.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReceivedAlert } from '../src/ledger/notifications.ts';
import { TokenMonitor } from '../src/monitor.ts';
import { freePort, waitFor } from './helpers/prometheus.ts';

const root = join(import.meta.dirname, '..');
const shippedRules = join(root, 'prometheus', 'rules', 'tokenmeter.rules.yml');
const shippedAlertmanager = join(root, 'prometheus', 'alertmanager.yml');
const cli = join(root, 'src', 'cli', 'index.ts');
const TOKEN = 'alerting-e2e-token-5f2c9a';

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
 * prometheus/alertmanager.yml with its routes, grouping, inhibit_rules and bearer token kept, every
 * webhook posting to this test's `tokenmeter serve` (its token in `tokenFile`), and the timers
 * short: group_wait and group_interval 1s (the shipped 10s-5m would only make the test wait),
 * repeat_interval 1h (longer than the test, so nothing is re-sent), send_resolved true.
 */
function testAlertmanagerConfig(webhookUrl: string, tokenFile: string): string {
  const shipped = readFileSync(shippedAlertmanager, 'utf8');
  const counts = { url: 0, group_wait: 0, group_interval: 0, repeat_interval: 0, send_resolved: 0, credentials_file: 0 };
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
  yml = set(yml, 'credentials_file', JSON.stringify(tokenFile));
  expect(counts.url, 'webhook URLs in alertmanager.yml').toBeGreaterThan(0);
  expect(counts.send_resolved, 'each webhook of alertmanager.yml sets send_resolved').toBe(counts.url);
  expect(counts.credentials_file, "each webhook of alertmanager.yml sends serve's bearer token").toBe(counts.url);
  expect(counts.group_wait * counts.group_interval * counts.repeat_interval, 'timers in alertmanager.yml').toBeGreaterThan(0);
  expect(yml).toContain('inhibit_rules:');
  return `# Made from prometheus/alertmanager.yml by test/alerting-e2e.test.ts: webhooks to the test's serve, 1s timers.\n${yml}`;
}

/** A `tokenmeter serve` child process: the CLI, run as users run it. */
interface Serve {
  url: string;
  child: ChildProcess;
  log: string[];
  exited: Promise<void>;
  killOnExit: () => void;
}

async function startServe(dir: string): Promise<Serve> {
  const child = spawn(process.execPath, [cli, 'serve', '--port', '0', '--dir', dir, '--token', TOKEN], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log: string[] = [];
  const keep = (chunk: Buffer) => log.push(...chunk.toString('utf8').split('\n').filter(Boolean));
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const url = await waitFor('tokenmeter serve to listen', 30_000, () => {
    if (child.exitCode !== null) throw new Error(`serve exited: ${log.join(' | ')}`);
    return /tokenmeter serving (http:\/\/127\.0\.0\.1:\d+)/.exec(log.join('\n'))?.[1];
  });
  return { url, child, log, exited, killOnExit };
}

describe('alerting end to end: tokenmeter → prometheus → alertmanager → tokenmeter serve', () => {
  const prometheusBin = binary('prometheus');
  const alertmanagerBin = binary('prometheus-alertmanager', 'alertmanager');
  let tmp = '';
  let now = Date.now();
  let monitor: TokenMonitor | undefined;
  let serve: Serve | undefined;
  let alertmanager: Daemon | undefined;
  let prometheus: Daemon | undefined;

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'tokenmeter-alerting-'));
    for (const d of ['monitor', 'serve', 'prometheus-data', 'alertmanager-data']) mkdirSync(join(tmp, d));

    // The receiver: `tokenmeter serve` over a ledger of its own, asking for a token.
    serve = await startServe(join(tmp, 'serve'));
    const tokenFile = join(tmp, 'tokenmeter-api-token');
    writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });

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
    writeFileSync(amConfig, testAlertmanagerConfig(`${serve.url}/v1/alertmanager`, tokenFile));
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
    if (serve !== undefined) {
      process.removeListener('exit', serve.killOnExit);
      serve.child.kill('SIGTERM');
      await serve.exited;
    }
    await monitor?.close();
    if (tmp !== '') rmSync(tmp, { recursive: true, force: true });
  }, 30_000);

  /** What serve kept: GET /v1/alertmanager/alerts, with the token. */
  const kept = async (): Promise<ReceivedAlert[]> => {
    const res = await fetch(`${serve?.url}/v1/alertmanager/alerts?limit=1000`, {
      headers: { authorization: `Bearer ${TOKEN}` },
      signal: AbortSignal.timeout(2000),
    });
    if (!res.ok) throw new Error(`GET /v1/alertmanager/alerts: HTTP ${res.status}`);
    return ((await res.json()) as { alerts: ReceivedAlert[] }).alerts;
  };

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
    await section('alerts serve kept', kept);
    await section('serve log', async () => serve?.log.slice(-40).join('\n'));
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

  /** The alerts serve kept of `alertname` about the test budget (one per firing: fingerprint and start). */
  const about = async (alertname: string) =>
    (await kept()).filter((a) => a.alertname === alertname && a.labels.scope_id === BUDGET.scope_id);

  /** Waits until serve has `alertname` in `status`. */
  const notification = (alertname: string, status: 'firing' | 'resolved', timeoutMs: number) =>
    waitFor(`serve to keep a ${status} ${alertname}`, timeoutMs, async () => (await about(alertname)).find((a) => a.status === status));

  /** The groupKey Alertmanager gives a group of the shipped group_by: the alert and the budget's labels. */
  const expectGroupOf = (a: ReceivedAlert, alertname: string) => {
    for (const [k, v] of Object.entries({ alertname, ...BUDGET })) expect(a.groupKey).toContain(`${k}="${v}"`);
  };

  /** Spends `usd` for alice; returns the levels the monitor itself alerted. */
  const spend = (usd: number) =>
    monitor?.record({ provider: 'openai', model: 'gpt-4o', userId: 'alice', costUsd: usd }).alerts.map((a) => a.level);

  it('warns at 85%, is critical at 97%, exceeded at 105%, and resolves when the window resets: serve keeps it all, the CLI shows it', async ({
    onTestFailed,
  }) => {
    // While the programs still run: what each saw, and what serve kept.
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
    expect(warning.labels).toEqual({ alertname: 'TokenmeterBudgetWarning', ...BUDGET, severity: 'warning' });
    expectGroupOf(warning, 'TokenmeterBudgetWarning');
    expect(warning.summary).toBe('user budget "alice" (daily, usd) has used 85% of its limit');
    expect(warning.annotations.description).toContain('Used $8.50 of $10.00 (85%; warning at 80%, critical at 95%)');
    expect(warning.endsAt).toBeNull();

    // 97%: critical, to the critical receiver.
    expect(spend(1.2)).toEqual(['critical']);
    const critical = await notification('TokenmeterBudgetCritical', 'firing', 15_000);
    expect(critical.receiver).toBe('tokenmeter-critical');
    expect(critical.labels).toEqual({ alertname: 'TokenmeterBudgetCritical', ...BUDGET, severity: 'critical' });
    expectGroupOf(critical, 'TokenmeterBudgetCritical');
    expect(critical.summary).toBe('user budget "alice" (daily, usd) has used 97% of its limit, close to exhausted');
    expect(critical.annotations.description).toContain('Used $9.70 of $10.00 (97%; warning at 80%, critical at 95%)');
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
    expect(exceeded.labels).toEqual({ alertname: 'TokenmeterBudgetExceeded', ...BUDGET, severity: 'critical' });
    expect(exceeded.summary).toBe('user budget "alice" (daily, usd) is exceeded: 105% of its limit used');
    expect(exceeded.annotations.description).toContain('Used $10.50 of $10.00 (105%; warning at 80%, critical at 95%)');
    const criticalResolved = await notification('TokenmeterBudgetCritical', 'resolved', 15_000);
    expect(criticalResolved.receiver).toBe('tokenmeter-critical');
    // The same alert, updated by its resolution: one row, notified twice.
    expect(criticalResolved.fingerprint).toBe(critical.fingerprint);
    expect(criticalResolved.startsAt).toBe(critical.startsAt);
    expect(criticalResolved.firstReceivedAt).toBe(critical.firstReceivedAt);
    expect(criticalResolved.notifications).toBe(2);

    // A day later the window resets: used drops to 0 at the next scrape, and exceeded resolves.
    now += DAY_MS;
    const exceededResolved = await notification('TokenmeterBudgetExceeded', 'resolved', 15_000);
    expect(exceededResolved.receiver).toBe('tokenmeter-critical');
    expect(exceededResolved.labels).toEqual(exceeded.labels);
    expect(Date.parse(exceededResolved.endsAt as string)).toBeGreaterThan(Date.parse(exceededResolved.startsAt));

    // A few group intervals more: nothing fires again. Each level fired once (one firing each: one
    // start), before the next one; the warning's own resolution may be muted by the inhibition.
    await sleep(3000);
    for (const name of ['TokenmeterBudgetWarning', 'TokenmeterBudgetCritical', 'TokenmeterBudgetExceeded'])
      expect(
        (await about(name)).map((a) => a.startsAt),
        name,
      ).toHaveLength(1);
    expect(Date.parse(warning.firstReceivedAt)).toBeLessThan(Date.parse(critical.firstReceivedAt));
    expect(Date.parse(critical.firstReceivedAt)).toBeLessThan(Date.parse(exceeded.firstReceivedAt));
    expect(Date.parse(exceededResolved.lastReceivedAt)).toBeGreaterThan(Date.parse(exceeded.firstReceivedAt));

    // `tokenmeter alerts` over serve's dir shows them, firing first, from the same ledger.
    const run = (args: string[]) =>
      spawnSync(process.execPath, [cli, 'alerts', '--dir', join(tmp, 'serve'), ...args], { encoding: 'utf8' });
    const json = run(['--json']);
    expect(json.status).toBe(0);
    const listed = (JSON.parse(json.stdout) as { alertmanager: { source: string; level: string; alert: ReceivedAlert }[] }).alertmanager;
    const ofAlice = listed.filter((a) => a.source === 'alertmanager' && a.alert.labels.scope_id === BUDGET.scope_id);
    const levelOf = (name: string) => ofAlice.find((a) => a.alert.alertname === name)?.level;
    expect(levelOf('TokenmeterBudgetExceeded')).toBe('resolved');
    expect(levelOf('TokenmeterBudgetCritical')).toBe('resolved');
    const firingFirst = ofAlice.map((a) => a.alert.status);
    expect(firingFirst).toEqual([...firingFirst].sort((a, b) => Number(b === 'firing') - Number(a === 'firing')));
    const text = run([]).stdout;
    expect(text).toContain('From Alertmanager (POST /v1/alertmanager)');
    expect(text).toMatch(
      /│ resolved \d{4}-\d\d-\d\d \d\d:\d\d UTC │ TokenmeterBudgetExceeded +│ critical +│ user budget "alice" \(daily, usd\) is exceeded/,
    );
  }, 120_000);
});
