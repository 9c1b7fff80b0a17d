import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Runs Debian's `promtool check metrics` on an exposition; returns its complaints (empty when clean). */
export function promtoolCheck(exposition: string): { ok: boolean; output: string } {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: exposition, encoding: 'utf8' });
  if (r.error) throw new Error(`promtool is not installed (run ./dev setup, or apt-get install prometheus): ${r.error.message}`);
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}`.trim() };
}

/** Parses Prometheus text exposition into samples. */
export function parseExposition(text: string): { name: string; labels: Record<string, string>; value: number }[] {
  const out: { name: string; labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) throw new Error(`unparsable exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const lm of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[lm[1] as string] = (lm[2] as string).replace(/\\(.)/g, '$1');
    out.push({ name: m[1] as string, labels, value: Number(m[3]) });
  }
  return out;
}

/** The value of the one sample of `name` whose labels include `match`. */
export function sample(samples: ReturnType<typeof parseExposition>, name: string, match: Record<string, string> = {}): number | undefined {
  const found = samples.filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v));
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(match)}`);
  return found[0]?.value;
}

/** A port that was free a moment ago: listen on port 0, read the port, close. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createNetServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it returns something other than undefined; on timeout, fails naming `what`. */
export async function waitFor<T>(what: string, timeoutMs: number, check: () => T | undefined | Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) break;
    await sleep(200);
  }
  const why = last === undefined ? '' : ` (last error: ${(last as Error).message})`;
  throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}${why}`);
}

/** A running Debian prometheus, scraping one target; `query` runs an instant PromQL query. */
export interface PrometheusServer {
  url: string;
  query: (promql: string) => Promise<{ metric: Record<string, string>; value: [number, string] }[]>;
  log: string[];
  stop: () => Promise<void>;
}

/**
 * Starts /usr/bin/prometheus on a free port with a temp config and data dir, scraping `target`
 * (a metrics URL, or several on the same path: one job, one instance each) every `scrapeInterval`,
 * and evaluating `ruleFiles` at the same interval; waits until it is ready. A port taken between
 * freePort() and the bind is retried with another (as test/alerting-e2e.test.ts does).
 */
export async function startPrometheus(
  target: string | string[],
  scrapeInterval = '1s',
  options: { ruleFiles?: string[] } = {},
): Promise<PrometheusServer> {
  const r = spawnSync('prometheus', ['--version'], { encoding: 'utf8' });
  if (r.error) throw new Error(`prometheus is not installed (run ./dev setup, or apt-get install prometheus): ${r.error.message}`);
  const tmp = mkdtempSync(join(tmpdir(), 'tokenmeter-prometheus-'));
  const scrapes = (Array.isArray(target) ? target : [target]).map((t) => new URL(t));
  const path = scrapes[0]?.pathname ?? '/metrics';
  if (scrapes.some((s) => s.pathname !== path)) throw new Error(`targets on different paths: ${String(target)}`);
  const config = join(tmp, 'prometheus.yml');
  const rules = options.ruleFiles ?? [];
  // JSON strings are YAML strings: paths and addresses are quoted whatever they hold.
  writeFileSync(
    config,
    [
      'global:',
      `  scrape_interval: ${scrapeInterval}`,
      `  scrape_timeout: ${scrapeInterval}`,
      `  evaluation_interval: ${scrapeInterval}`,
      ...(rules.length > 0 ? ['rule_files:', ...rules.map((f) => `  - ${JSON.stringify(f)}`)] : []),
      'scrape_configs:',
      '  - job_name: tokenmeter',
      `    metrics_path: ${JSON.stringify(path)}`,
      '    static_configs:',
      `      - targets: [${scrapes.map((s) => JSON.stringify(s.host)).join(', ')}]`,
      '',
    ].join('\n'),
  );
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const child = spawn(
      'prometheus',
      [`--config.file=${config}`, `--storage.tsdb.path=${join(tmp, `data-${attempt}`)}`, `--web.listen-address=127.0.0.1:${port}`],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const log: string[] = [];
    const keep = (chunk: Buffer) => {
      log.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      if (log.length > 400) log.splice(0, log.length - 400);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const exited = new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.once('error', () => resolve());
    });
    // If the test process dies without its teardown, do not leave prometheus running.
    const killOnExit = () => child.kill('SIGKILL');
    process.once('exit', killOnExit);
    const url = `http://127.0.0.1:${port}`;
    const stop = async () => {
      process.removeListener('exit', killOnExit);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(tmp, { recursive: true, force: true });
    };
    try {
      await waitFor('prometheus to be ready', 30_000, async () => {
        if (child.exitCode !== null) throw new Error(`prometheus exited: ${log.slice(-5).join(' | ')}`);
        const res = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) });
        await res.arrayBuffer();
        return res.ok ? true : undefined;
      });
    } catch (error) {
      const retry = attempt < 3 && log.some((l) => /address already in use/i.test(l));
      if (retry) {
        process.removeListener('exit', killOnExit);
        child.kill('SIGKILL');
        await exited;
        continue;
      }
      await stop();
      throw error;
    }
    const query = async (promql: string) => {
      const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(promql)}`, { signal: AbortSignal.timeout(5000) });
      const body = (await res.json()) as {
        status: string;
        error?: string;
        data: { result: { metric: Record<string, string>; value: [number, string] }[] };
      };
      if (body.status !== 'success') throw new Error(`query ${promql}: ${body.error}`);
      return body.data.result;
    };
    return { url, query, log, stop };
  }
}
