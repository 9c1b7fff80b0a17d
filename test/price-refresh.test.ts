import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Provider, waitForUpdate } from '@pydantic/genai-prices';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isPricingError, type Logger, refreshPriceData, TokenMonitor } from '../src/index.ts';

// Refreshed prices against a real HTTP server on port 0 serving genai-prices data: the bundled
// data with gpt-4o's input price changed, and broken answers. Nothing here reaches the network.

const cli = join(import.meta.dirname, '..', 'src', 'cli', 'index.ts');
const child = join(import.meta.dirname, 'helpers', 'price-child.ts');
const DAY = 86_400_000;
/** gpt-4o's input price in the served data; the bundled data has $2.50. */
const NEW_INPUT = 1.75;

let changed: string;
let bundledText: string;

beforeAll(async () => {
  // Built from the package's own bundled data: one model's price changed, nothing else.
  const data = structuredClone((await waitForUpdate()) as Provider[]);
  const gpt4o = data.find((p) => p.id === 'openai')?.models.find((m) => m.id === 'gpt-4o');
  if (gpt4o === undefined || Array.isArray(gpt4o.prices)) throw new Error('bundled data changed shape: no flat gpt-4o price');
  expect(gpt4o.prices.input_mtok).toBe(2.5);
  gpt4o.prices.input_mtok = NEW_INPUT;
  changed = JSON.stringify(data);
  bundledText = JSON.stringify(await waitForUpdate());
});

interface DataServer {
  url: string;
  requests: string[];
  close(): Promise<void>;
}

const servers: DataServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function serveData(lastModified?: Date): Promise<DataServer> {
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    requests.push(req.url ?? '');
    const path = (req.url ?? '').replace(/\?.*/, '');
    const send = (status: number, type: string, body: string) => {
      res.writeHead(status, { 'content-type': type, ...(lastModified ? { 'last-modified': lastModified.toUTCString() } : {}) });
      res.end(body);
    };
    if (path === '/data.json') send(200, 'application/json', changed);
    else if (path === '/truncated.json') send(200, 'application/json', changed.slice(0, Math.floor(changed.length / 2)));
    else if (path === '/html') send(200, 'text/html', '<!DOCTYPE html><html><body><h1>Sign in</h1></body></html>');
    else if (path === '/empty.json') send(200, 'application/json', '');
    else if (path === '/empty-list.json') send(200, 'application/json', '[]');
    else send(404, 'text/plain', 'not found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const s: DataServer = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  servers.push(s);
  return s;
}

function storageDir(config?: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), 'tm-prices-'));
  if (config !== undefined) writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  return dir;
}

/** The CLI in its own process; asynchronous, as the data server answers from this one. */
async function run(args: string[], dir: string): Promise<{ code: number | null; out: string; err: string }> {
  const proc = spawn(process.execPath, [cli, ...args], { env: { ...process.env, TOKENMETER_DIR: dir } });
  let out = '';
  let err = '';
  proc.stdout.setEncoding('utf8').on('data', (s: string) => {
    out += s;
  });
  proc.stderr.setEncoding('utf8').on('data', (s: string) => {
    err += s;
  });
  const [code] = (await once(proc, 'close')) as [number | null];
  return { code, out, err };
}

async function priceJson(dir: string) {
  const r = await run(['pricing', 'gpt-4o', '-p', 'openai', '--json'], dir);
  expect(r.code).toBe(0);
  return { ...JSON.parse(r.out), stderr: r.err };
}

describe('tokenmeter pricing --refresh', () => {
  it('fetches the configured URL once; the CLI and a monitor in a new process use the new price offline', async () => {
    const server = await serveData();
    const source = `${server.url}/data.json`;
    const dir = storageDir({ price_data: { source } });

    // Opted in but not fetched yet: the bundled price, and a word about it.
    const before = await priceJson(dir);
    expect(before.input.usdPerMillion).toBe(2.5);
    expect(before.data).toMatchObject({ kind: 'bundled', asOf: null, ageDays: null });
    expect(before.stderr).toContain(`price data source ${source} is set but not fetched yet`);
    expect(server.requests).toEqual([]);

    const refreshed = await run(['pricing', '--refresh'], dir);
    expect(refreshed.err).toBe('');
    expect(refreshed.code).toBe(0);
    expect(refreshed.out).toContain(`Fetched price data from ${source}`);
    expect(refreshed.out).toContain('1 model with changed prices: openai/gpt-4o');
    expect(server.requests).toEqual(['/data.json']);

    const after = await priceJson(dir);
    expect(after.input.usdPerMillion).toBe(NEW_INPUT);
    expect(after.output.usdPerMillion).toBe(10);
    expect(after.stderr).toBe('');
    expect(after.data).toMatchObject({ kind: 'refreshed', source, file: join(dir, 'prices.json'), ageDays: 0, sourceDate: null });
    expect(Date.now() - Date.parse(after.data.fetchedAt)).toBeLessThan(60_000);
    expect(after.data.asOf).toBe(after.data.fetchedAt);
    const text = (await run(['pricing', 'gpt-4o-2024-08-06', '-p', 'openai'], dir)).out;
    expect(text).toMatch(/input\s+\$1\.75 \/ 1M tokens/);
    expect(text).toContain(
      `data           refreshed from ${source} at ${after.data.fetchedAt} (0 days old), kept in ${join(dir, 'prices.json')}`,
    );
    // inspect prices a saved response with the same data.
    const saved = join(dir, 'response.json');
    writeFileSync(
      saved,
      JSON.stringify({ model: 'gpt-4o', usage: { prompt_tokens: 1_000_000, completion_tokens: 0, total_tokens: 1_000_000 } }),
    );
    expect(JSON.parse((await run(['inspect', saved, '-p', 'openai', '--json'], dir)).out)).toMatchObject({ costUsd: NEW_INPUT });

    // With the server gone, a monitor in another process prices with the kept file.
    await server.close();
    servers.splice(0);
    const r = spawnSync(process.execPath, [child, dir], { encoding: 'utf8', env: { ...process.env, TOKENMETER_LOG: 'warn' } });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toMatchObject({ costUsd: NEW_INPUT, data: { kind: 'refreshed', source } });
    expect(server.requests).toEqual(['/data.json']);
  });

  const broken: [string, RegExp][] = [
    ['/truncated.json', /it is not valid JSON, cut short or damaged/],
    ['/html', /it is HTML or XML, not JSON/],
    ['/empty.json', /it is empty/],
    ['/empty-list.json', /it is an empty list of providers/],
    ['/missing.json', /it answered HTTP 404 Not Found/],
  ];

  it('refuses truncated, HTML, empty and missing data naming the URL, and the prices in force stay', async () => {
    const server = await serveData();
    // Nothing kept yet: the bundled prices stay, and no file appears.
    const fresh = storageDir();
    // A good refresh first: the kept file and its price stay as they were.
    const dir = storageDir();
    expect((await run(['pricing', '--refresh', '--source', `${server.url}/data.json`], dir)).code).toBe(0);
    const kept = readFileSync(join(dir, 'prices.json'), 'utf8');
    await Promise.all(
      broken.map(async ([path, reason]) => {
        const source = `${server.url}${path}`;
        const [first, again] = await Promise.all([
          run(['pricing', '--refresh', '--source', source], fresh),
          run(['pricing', '--refresh', '--source', source], dir),
        ]);
        expect(first.code, path).toBe(1);
        expect(first.err).toContain(`Refused the price data from ${source}: `);
        expect(first.err).toMatch(reason);
        expect(first.err).toContain('Still in force: the prices bundled with genai-prices');
        expect(again.code, path).toBe(1);
        expect(again.err).toContain(`Refused the price data from ${source}: `);
        expect(again.err).toMatch(reason);
        expect(again.err).toContain(`Still in force: the prices in ${join(dir, 'prices.json')} (fetched `);
      }),
    );
    expect(existsSync(join(fresh, 'prices.json'))).toBe(false);
    expect((await priceJson(fresh)).input.usdPerMillion).toBe(2.5);
    expect(readFileSync(join(dir, 'prices.json'), 'utf8')).toBe(kept);
    expect(readdirSync(dir)).toEqual(['prices.json']);
    expect(await priceJson(dir)).toMatchObject({ input: { usdPerMillion: NEW_INPUT }, data: { source: `${server.url}/data.json` } });
  });

  it('keeps no key that the source URL carries', async () => {
    const server = await serveData();
    const dir = storageDir();
    const key = 'sk-test-0123456789abcdef';
    const result = await refreshPriceData({ dir, source: `${server.url}/data.json?api_key=${key}` });
    expect(server.requests).toEqual([`/data.json?api_key=${key}`]);
    expect(result.origin.source).toBe(`${server.url}/data.json?api_key=[redacted]`);
    expect(readFileSync(join(dir, 'prices.json'), 'utf8')).not.toContain(key);
    const error = await refreshPriceData({ dir, source: `${server.url}/html?api_key=${key}` }).catch((e: unknown) => e);
    expect((error as Error).message).toContain(`Refused the price data from ${server.url}/html?api_key=[redacted]: `);
    expect((error as Error).message).not.toContain(key);
  });

  it('takes a file as the source, and refuses a non-existent one', async () => {
    const dir = storageDir();
    writeFileSync(join(dir, 'data.json'), changed);
    // Relative to the storage dir in config.json.
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ price_data: { source: 'data.json' } }));
    expect((await run(['pricing', '--refresh'], dir)).code).toBe(0);
    expect(await priceJson(dir)).toMatchObject({ input: { usdPerMillion: NEW_INPUT }, data: { source: join(dir, 'data.json') } });
    const missing = await run(['pricing', '--refresh', '--source', join(dir, 'nope.json')], dir);
    expect(missing.code).toBe(1);
    expect(missing.err).toContain(`Refused the price data from ${join(dir, 'nope.json')}: it could not be read: ENOENT`);
  });

  it('refuses bad arguments and a bad price_data key', async () => {
    const dir = storageDir();
    const none = await run(['pricing'], dir);
    expect(none.code).toBe(2);
    expect(none.err).toContain('name a model (tokenmeter pricing gpt-4o), or fetch current prices with --refresh');
    expect((await run(['pricing', 'gpt-4o', '--source', 'x.json'], dir)).code).toBe(2);
    const bad = await run(['pricing', 'gpt-4o'], storageDir({ price_data: { max_age_days: -5 } }));
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('price_data.max_age_days: -5');
  });
});

describe('the age of the data in use', () => {
  function collect(): { logger: Logger; warnings: string[] } {
    const warnings: string[] = [];
    return { warnings, logger: { debug() {}, info() {}, warn: (m) => warnings.push(m), error: (m) => warnings.push(m) } };
  }

  it('warns once when the kept data is older than the limit, in the CLI and in a monitor', async () => {
    const server = await serveData();
    const dir = storageDir();
    // Fetched 90 days ago (its fetch time is the age: this server sends no Last-Modified).
    await refreshPriceData({ dir, source: `${server.url}/data.json`, now: () => Date.now() - 90 * DAY });
    const cli1 = await run(['pricing', 'gpt-4o', '-p', 'openai'], dir);
    expect(cli1.code).toBe(0);
    expect(cli1.out).toContain('(90 days old)');
    expect(cli1.err.match(/tokenmeter warn: /g)).toHaveLength(1);
    expect(cli1.err).toContain('the price data in use is 90 days old');
    expect(cli1.err).toContain('older than price_data.max_age_days (60)');

    const { logger, warnings } = collect();
    const monitor = new TokenMonitor({ dir, metrics: false, ledger: false, logger });
    for (const model of ['gpt-4o', 'gpt-4o-mini', 'gpt-4o', 'claude-sonnet-4-0', 'gpt-4o'])
      monitor.record({ provider: model.startsWith('gpt') ? 'openai' : 'anthropic', model, inputTokens: 10, outputTokens: 5 });
    expect(warnings.filter((w) => w.includes('days old'))).toHaveLength(1);
    await monitor.close();

    // The limit is the user's: config.json, or the option, which wins.
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ price_data: { max_age_days: 120 } }));
    expect((await run(['pricing', 'gpt-4o', '-p', 'openai'], dir)).err).toBe('');
    const quiet = collect();
    const m2 = new TokenMonitor({ dir, metrics: false, ledger: false, logger: quiet.logger });
    m2.record({ provider: 'openai', model: 'gpt-4o', inputTokens: 10, outputTokens: 5 });
    expect(quiet.warnings).toEqual([]);
    await m2.close();
    const strict = collect();
    const m3 = new TokenMonitor({ dir, metrics: false, ledger: false, logger: strict.logger, priceData: { maxAgeDays: 30 } });
    m3.record({ provider: 'openai', model: 'gpt-4o', inputTokens: 10, outputTokens: 5 });
    expect(strict.warnings).toHaveLength(1);
    await m3.close();
    expect(() => new TokenMonitor({ dir, metrics: false, ledger: false, priceData: { maxAgeDays: 0 } })).toThrow(
      'Invalid priceData.maxAgeDays: 0 (must be a positive number of days)',
    );
  });

  it("counts from the source's Last-Modified date when it sends one", async () => {
    const server = await serveData(new Date(Date.now() - 100 * DAY));
    const dir = storageDir();
    expect((await run(['pricing', '--refresh', '--source', `${server.url}/data.json`], dir)).code).toBe(0);
    const r = await priceJson(dir);
    expect(r.data.ageDays).toBe(100);
    expect(r.data.asOf).toBe(r.data.sourceDate);
    expect(r.stderr).toContain('the price data in use is 100 days old');
    expect(r.stderr).toContain('dated ');
  });

  it('is not known for the bundled data: it says so and never warns', async () => {
    const r = await run(['pricing', 'gpt-4o', '-p', 'openai'], storageDir({ price_data: { max_age_days: 1 } }));
    expect(r.out).toMatch(/data {11}bundled with @pydantic\/genai-prices \d+\.\d+\.\d+ \(the package does not date its data\)/);
    expect(r.err).toBe('');
  });
});

describe('monitor.refreshPrices()', () => {
  it('fetches when called, prices later calls with the new data, and keeps the old prices when refused', async () => {
    const server = await serveData();
    const dir = storageDir();
    const monitor = new TokenMonitor({ dir, metrics: false, ledger: false, priceData: { source: `${server.url}/data.json` } });
    const call = { provider: 'openai', model: 'gpt-4o', inputTokens: 1_000_000, outputTokens: 0 };
    expect(monitor.record(call).costUsd).toBe(2.5);
    expect(server.requests).toEqual([]);
    const result = await monitor.refreshPrices();
    expect(result.changed).toEqual(['openai/gpt-4o']);
    expect(monitor.record(call).costUsd).toBe(NEW_INPUT);
    await monitor.close();

    const broken = new TokenMonitor({ dir, metrics: false, ledger: false, priceData: { source: `${server.url}/html` } });
    expect(broken.record(call).costUsd).toBe(NEW_INPUT);
    const error = await broken.refreshPrices().catch((e: unknown) => e);
    expect(isPricingError(error)).toBe(true);
    expect(error).toMatchObject({ source: `${server.url}/html` });
    expect(broken.record(call).costUsd).toBe(NEW_INPUT);
    await broken.close();
    // The data file served is the package's own, but for the one price.
    expect(changed.length).toBe(bundledText.length - '2.5'.length + String(NEW_INPUT).length);
  });
});
