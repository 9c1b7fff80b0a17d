import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { freePort, parseExposition, sample } from './helpers/prometheus.ts';

// The package as users get it: packed, installed from the tarball into a fresh project, imported
// under ESM and type-checked under TypeScript, before anyone publishes it.
const root = join(import.meta.dirname, '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
let work = '';
let tarball = '';
let project = '';
let files: string[] = [];

function sh(cmd: string, args: string[], cwd: string, env: Record<string, string> = {}): string {
  return execFileSync(cmd, args, {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, npm_config_loglevel: 'error', npm_config_update_notifier: 'false', ...env },
  });
}

/** A fresh app project in the work dir, with `packages` installed (from npm's cache where it can). */
function app(name: string, packages: string[]): string {
  const dir = join(work, name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, private: true, type: 'module' }));
  sh(npm, ['install', '--no-audit', '--no-fund', '--prefer-offline', ...packages], dir);
  return dir;
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'tm-pack-'));
  // `npm pack` runs the prepack build.
  const packed = JSON.parse(sh(npm, ['pack', '--json', '--pack-destination', work], root)) as {
    filename: string;
    files: { path: string }[];
  }[];
  files = packed[0]!.files.map((f) => f.path);
  tarball = join(work, packed[0]!.filename);
  project = app('app', [tarball, 'prom-client@15']);
}, 300_000);

describe('the packed package', () => {
  it('ships the built code, its types and the README, and no tests or sources', () => {
    for (const f of [
      'dist/index.js',
      'dist/index.d.ts',
      'dist/metrics/prom-client.js',
      'dist/metrics/prom-client.d.ts',
      'dist/cli/index.js',
      'dist/cli/bin.js',
      // The dashboard page's files, served as they are (no build step for the user).
      'dist/server/page/index.html',
      'dist/server/page/app.js',
      'dist/server/page/style.css',
      'dist/server/page/favicon.svg',
      'README.md',
      'package.json',
    ])
      expect(files).toContain(f);
    expect(files.filter((f) => f.includes('.test.') || f.startsWith('src/') || f.startsWith('test/'))).toEqual([]);
  });

  it('depends at run time only on packages its shipped code imports', () => {
    // A dependency nothing imports is one more copy in every app, and a second one beside the app's own.
    const installed = join(project, 'node_modules', 'tokenmeter');
    const { dependencies } = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    const code = files.filter((f) => f.endsWith('.js')).map((f) => readFileSync(join(installed, f), 'utf8'));
    const unused = Object.keys(dependencies).filter((name) => {
      const specifier = new RegExp(`(from |import\\(|require\\(|resolve\\()['"]${name}(/[^'"]*)?['"]`);
      return !code.some((c) => specifier.test(c));
    });
    expect(unused).toEqual([]);
  });

  it('imports under ESM, records a call, serves it, and bridges to prom-client', () => {
    writeFileSync(
      join(project, 'main.mjs'),
      `import { TokenMonitor, METRIC, isValidationError } from 'tokenmeter';
import { registerTokenmeterMetrics } from 'tokenmeter/prom-client';
import { Registry } from 'prom-client';
const m = new TokenMonitor({ loadConfig: false, metrics: { prometheus: { port: 0 } } });
await m.ready();
const r = m.record({ provider: 'openai', model: 'gpt-4o', inputTokens: 1000, cachedInputTokens: 200, outputTokens: 500 });
try { m.record({ provider: 'openai', model: 'gpt-4o', inputTokens: -1 }); } catch (e) { console.log('invalid', isValidationError(e), e.field); }
const scrape = await (await fetch(m.metricsUrl)).text();
const registry = new Registry();
registerTokenmeterMetrics(m, registry);
const bridged = await registry.metrics();
await m.flush(); // through the ledger's writer thread, as built
console.log(JSON.stringify({ cost: r.costUsd, scraped: scrape.includes(METRIC.cost + '{provider="openai"'), bridged: bridged.includes(METRIC.cost), written: m.health().ledger.written }));
await m.close();
`,
    );
    const out = sh(process.execPath, ['main.mjs'], project).trim().split('\n');
    expect(out[0]).toBe('invalid true inputTokens');
    expect(JSON.parse(out[1]!)).toEqual({ cost: 0.00725, scraped: true, bridged: true, written: 1 });
  });

  it("applies a config file's prices from the installed package (its schema is loaded at the first config read)", () => {
    mkdirSync(join(project, 'tm-config'), { recursive: true });
    writeFileSync(join(project, 'tm-config', 'config.json'), JSON.stringify({ pricing: { 'gpt-4o': { input: 1, output: 2 } } }));
    writeFileSync(
      join(project, 'config.mjs'),
      `import { TokenMonitor } from 'tokenmeter';
const m = new TokenMonitor({ dir: 'tm-config', ledger: false, metrics: { prometheus: false } });
console.log(m.record({ provider: 'openai', model: 'gpt-4o', inputTokens: 1000, outputTokens: 100 }).costUsd);
await m.close();
`,
    );
    // $1 and $2 per 1M tokens from config.json, not the bundled $2.50 and $10.
    expect(Number(sh(process.execPath, ['config.mjs'], project).trim())).toBeCloseTo(0.0012, 10);
  });

  it('type-checks a TypeScript consumer against the shipped declarations', () => {
    writeFileSync(
      join(project, 'main.ts'),
      `import { TokenMonitor, type UsageInput, type RecordResult, CostSum } from 'tokenmeter';
import { registerTokenmeterMetrics } from 'tokenmeter/prom-client';
import { Registry } from 'prom-client';
const m = new TokenMonitor({ metrics: { prometheus: false, labels: { userId: true } }, prices: { 'my-model': { input: 1, output: 2 } } });
const call: UsageInput = { provider: 'openai', model: 'gpt-4o', inputTokens: 1 };
const r: RecordResult = m.record(call);
const cost: number | null = r.costUsd;
registerTokenmeterMetrics(m, new Registry());
new CostSum().add(1);
// @ts-expect-error serviceType is a closed set
m.record({ provider: 'openai', model: 'gpt-4o', serviceType: 'chat' });
export { cost };
`,
    );
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'nodenext',
          moduleResolution: 'nodenext',
          target: 'es2023',
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          types: [],
        },
        files: ['main.ts'],
      }),
    );
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    const r = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: project, encoding: 'utf8' });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('loads every subpath, and `tokenmeter` alone loads no optional integration', () => {
    writeFileSync(
      join(project, 'subpaths.mjs'),
      `const before = new Set(Object.keys(await import('node:module').then((m) => m.default._cache ?? {})));
await import('tokenmeter');
const { tokenmeterMiddleware } = await import('tokenmeter/ai-sdk');
console.log(typeof tokenmeterMiddleware().wrapGenerate);
try { await import('tokenmeter/langchain'); console.log('langchain loaded'); } catch (e) { console.log('langchain needs @langchain/core:', e.code); }
`,
    );
    const out = sh(process.execPath, ['subpaths.mjs'], project).trim().split('\n');
    expect(out[0]).toBe('function');
    // @langchain/core is an optional peer this app does not have: only the subpath that needs it fails.
    expect(out[1]).toBe('langchain needs @langchain/core: ERR_MODULE_NOT_FOUND');
  });

  it('runs standard decorators compiled by TypeScript', () => {
    writeFileSync(
      join(project, 'decorated.ts'),
      `import { getTokenMonitor, trackLlmUsage } from 'tokenmeter';
getTokenMonitor({ loadConfig: false, metrics: { prometheus: false } });
class Planner {
  @trackLlmUsage({ provider: 'openai', operation: 'plan' })
  async plan(_req: { model: string }) {
    return { object: 'chat.completion', model: 'gpt-4o-mini', usage: { prompt_tokens: 1000, completion_tokens: 100 } };
  }
}
await new Planner().plan({ model: 'gpt-4o-mini' });
console.log(JSON.stringify(getTokenMonitor().usageSummary('openai')));
`,
    );
    writeFileSync(
      join(project, 'tsconfig.decorated.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'nodenext',
          moduleResolution: 'nodenext',
          target: 'es2022',
          strict: true,
          skipLibCheck: true,
          types: [],
          outDir: 'out',
        },
        files: ['decorated.ts'],
      }),
    );
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    const r = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.decorated.json'], { cwd: project, encoding: 'utf8' });
    expect(r.stdout + r.stderr).toBe('');
    const summary = JSON.parse(sh(process.execPath, ['out/decorated.js'], project));
    // 1,000 × $0.15 + 100 × $0.60 per 1M
    expect(summary).toMatchObject({ requests: 1, inputTokens: 1000, outputTokens: 100, costUsd: 0.00021 });
  });

  it('installs the tokenmeter command', () => {
    const out = sh(
      join(project, 'node_modules', '.bin', 'tokenmeter'),
      ['pricing', 'claude-3-5-haiku-20241022', '-p', 'anthropic'],
      project,
    );
    expect(out).toMatch(/output\s+\$4\.00 \/ 1M tokens/);
  });

  it('serves the dashboard page, and uPlot from its dependency, from the installed package', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tm-pack-serve-'));
    const child = spawn(join(project, 'node_modules', '.bin', 'tokenmeter'), ['serve', '--port', '0', '--dir', dir], {
      cwd: project,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout?.on('data', (c: Buffer) => {
          out += c;
          const m = /serving (http:\/\/\S+)/.exec(out);
          if (m) resolve(m[1] as string);
        });
        child.once('exit', (code) => reject(new Error(`serve exited with ${code}`)));
      });
      const page = await fetch(`${url}/`);
      expect(page.status).toBe(200);
      const links = [...(await page.text()).matchAll(/(?:src|href)="(\/page\/[^"]+)"/g)].map((m) => m[1] as string);
      expect(links).toHaveLength(5);
      for (const link of links) expect((await fetch(`${url}${link}`)).status, link).toBe(200);
      const uplot = Buffer.from(await (await fetch(`${url}${links.find((l) => l.startsWith('/page/uplot.js'))}`)).arrayBuffer());
      expect(uplot.equals(readFileSync(join(project, 'node_modules', 'uplot', 'dist', 'uPlot.iife.min.js')))).toBe(true);
    } finally {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('close', resolve));
    }
  });

  // Debian's own Node (20 on bookworm) where there is one: the command it would run users into.
  const oldNode = ['/usr/bin/node', '/usr/bin/nodejs'].find((p) => {
    const r = spawnSync(p, ['-p', 'process.versions.node'], { encoding: 'utf8' });
    return r.status === 0 && Number.parseInt(r.stdout, 10) < 22;
  });
  it.skipIf(oldNode === undefined)('says in one line which Node it needs, exit 2, when run by an older Node', () => {
    const r = spawnSync(oldNode as string, [join(project, 'node_modules', 'tokenmeter', 'dist', 'cli', 'bin.js'), 'summary'], {
      cwd: project,
      encoding: 'utf8',
    });
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^tokenmeter: needs Node\.js 22\.12 or later, and this is Node\.js 2\d\./);
  });
});

describe('the packed package in an app with the newest OpenTelemetry SDK', () => {
  let otelApp = '';
  beforeAll(() => {
    otelApp = app('otel-app', [tarball, '@opentelemetry/sdk-node@latest', '@opentelemetry/exporter-prometheus@latest']);
  }, 300_000);

  it('installs one copy of each OpenTelemetry package: the app’s serve tokenmeter too', () => {
    const r = spawnSync(npm, ['ls', '--all', '--json'], { cwd: otelApp, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
    interface Node {
      version?: string;
      dependencies?: Record<string, Node>;
    }
    const tree = JSON.parse(r.stdout) as Node & { problems?: string[] };
    expect(tree.problems).toBeUndefined();
    const versions: Record<string, Set<string>> = {};
    const walk = (node: Node) => {
      for (const [name, dep] of Object.entries(node.dependencies ?? {})) {
        if (name.startsWith('@opentelemetry/') && dep.version !== undefined) {
          versions[name] = (versions[name] ?? new Set()).add(dep.version);
        }
        walk(dep);
      }
    };
    walk(tree);
    // tokenmeter's own OpenTelemetry dependencies are among them, each at the one version the SDK brought.
    const own = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    for (const name of Object.keys(own.dependencies).filter((n) => n.startsWith('@opentelemetry/')))
      expect(versions).toHaveProperty([name]);
    expect(versions).toHaveProperty(['@opentelemetry/sdk-node']);
    const twice = Object.entries(versions)
      .filter(([, v]) => v.size > 1)
      .map(([name, v]) => `${name}: ${[...v].join(', ')}`);
    expect(twice).toEqual([]);
  });

  it('serves tokenmeter’s series on the app’s own NodeSDK endpoint, with the README’s code', async () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const snippets = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1] as string).filter((b) => b.includes('new NodeSDK('));
    expect(snippets).toHaveLength(1);
    // The README's code as it is, on a free port instead of 9464 (exporter-prometheus takes no port 0).
    const port = await freePort();
    const code = (snippets[0] as string).replace('port: 9464', `port: ${port}`);
    expect(code).toContain(`port: ${port}`);
    writeFileSync(
      join(otelApp, 'nodesdk.mjs'),
      `${code}
monitor.record({ provider: 'openai', model: 'gpt-4o', inputTokens: 1000, cachedInputTokens: 200, outputTokens: 500, durationMs: 840 });
const res = await fetch('http://localhost:${port}/metrics');
console.log(JSON.stringify({ status: res.status, text: await res.text() }));
await monitor.close();
await sdk.shutdown();
`,
    );
    const out = sh(process.execPath, ['nodesdk.mjs'], otelApp, { TOKENMETER_DIR: mkdtempSync(join(tmpdir(), 'tm-otel-app-')) });
    const { status, text } = JSON.parse(out.trim().split('\n').at(-1) as string) as { status: number; text: string };
    expect(status).toBe(200);
    const s = parseExposition(text);
    const call = { provider: 'openai', model: 'gpt-4o', otel_scope_name: 'tokenmeter' };
    expect(sample(s, 'tokenmeter_cost_usd_total', call)).toBeCloseTo(0.00725, 12);
    expect(sample(s, 'tokenmeter_tokens_total', { ...call, token_type: 'input' })).toBe(1000);
    expect(sample(s, 'tokenmeter_tokens_total', { ...call, token_type: 'cached_input' })).toBe(200);
    expect(sample(s, 'tokenmeter_tokens_total', { ...call, token_type: 'output' })).toBe(500);
    expect(sample(s, 'tokenmeter_requests_total', { ...call, status: 'ok' })).toBe(1);
    const semconv = { gen_ai_request_model: 'gpt-4o', otel_scope_name: 'tokenmeter' };
    expect(sample(s, 'gen_ai_client_operation_duration_count', semconv)).toBe(1);
    expect(sample(s, 'gen_ai_client_operation_duration_sum', semconv)).toBeCloseTo(0.84, 12);
    expect(sample(s, 'gen_ai_client_token_usage_sum', { ...semconv, gen_ai_token_type: 'input' })).toBe(1000);
  });
});
