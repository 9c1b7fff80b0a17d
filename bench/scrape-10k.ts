/**
 * `scrape-10k-series`: ms to serve `/metrics` with about 10,000 series, a tenth of them histograms,
 * beside prom-client's `registry.metrics()` for the same series (same names, labels and bucket
 * boundaries, built from tokenmeter's own page), each served over real HTTP on its own server and
 * scraped by the same client in interleaved rounds. The shape is the issue's: 333 models, each with
 * its three GenAI histograms (input tokens, output tokens, duration: 999), and 1,800 label sets of
 * tokenmeter's own counters (per user: tokens in and out, cost, requests, unpriced requests: 9,000; the models are unpriced).
 */
import { createServer, get, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { TokenMonitor } from '../src/index.ts';
import { parseExposition } from '../test/helpers/prometheus.ts';
import { type Result, round, withBaseline } from './harness.ts';

const MODELS = 333;
const LABEL_SETS = 1800;

async function filled(): Promise<TokenMonitor> {
  const m = new TokenMonitor({
    loadConfig: false,
    ledger: false,
    logLevel: 'error',
    metrics: { prometheus: { port: 0 }, labels: { userId: true }, maxLabelSets: LABEL_SETS + 1, maxValuesPerLabel: LABEL_SETS + 1 },
  });
  await m.ready();
  for (let i = 0; i < LABEL_SETS; i++) {
    m.record({
      provider: 'openai',
      model: `model-${i % MODELS}`,
      operation: 'chat',
      userId: `user-${i}`,
      inputTokens: 1000 + i,
      outputTokens: 500 + (i % 7) * 100,
      durationMs: 200 + (i % 50) * 40,
    });
  }
  return m;
}

/** The same series in a prom-client registry: each family from tokenmeter's page, its labels and buckets. */
function promClientTwin(page: string): { registry: Registry; series: number; histograms: number } {
  const registry = new Registry();
  const types = new Map<string, string>();
  const helps = new Map<string, string>();
  for (const line of page.split('\n')) {
    const t = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (t) types.set(t[1] as string, t[2] as string);
    const h = /^# HELP (\S+) (.*)$/.exec(line);
    if (h) helps.set(h[1] as string, h[2] as string);
  }
  const samples = parseExposition(page);
  let series = 0;
  let histograms = 0;
  for (const [name, type] of types) {
    const help = helps.get(name) ?? name;
    if (type === 'histogram') {
      const own = samples.filter((s) => s.name === `${name}_count`);
      const buckets = samples.filter((s) => s.name === `${name}_bucket`);
      const les = [...new Set(buckets.map((s) => s.labels.le as string))].filter((le) => le !== '+Inf').map(Number);
      const labelNames = Object.keys(own[0]?.labels ?? {});
      const hist = new Histogram({ name, help, labelNames, buckets: les, registers: [registry] });
      for (const s of own) {
        // One observation per call, each at its bucket's bound: the same counts per bucket.
        const mine = buckets.filter((b) => labelNames.every((k) => b.labels[k] === s.labels[k]));
        let prev = 0;
        for (const b of mine) {
          const le = b.labels.le === '+Inf' ? (les[les.length - 1] as number) + 1 : Number(b.labels.le);
          for (let n = prev; n < b.value; n++) hist.observe(s.labels, le);
          prev = b.value;
        }
        series++;
        histograms++;
      }
    } else {
      const own = samples.filter((s) => s.name === name);
      const labelNames = [...new Set(own.flatMap((s) => Object.keys(s.labels)))];
      if (type === 'counter') {
        const c = new Counter({ name, help, labelNames, registers: [registry] });
        for (const s of own) c.inc(s.labels, s.value);
      } else {
        const g = new Gauge({ name, help, labelNames, registers: [registry] });
        for (const s of own) g.set(s.labels, s.value);
      }
      series += own.length;
    }
  }
  return { registry, series, histograms };
}

function fetchText(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    get(url, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      res.on('error', reject);
    }).on('error', reject);
  });
}

/** One scrape: ms from request to the last byte (bytes counted and dropped). */
function scrapeOnce(url: string): Promise<{ ms: number; bytes: number }> {
  const t0 = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    get(url, (res) => {
      let bytes = 0;
      res.on('data', (c: Buffer) => {
        bytes += c.length;
      });
      res.on('end', () => resolve({ ms: Number(process.hrtime.bigint() - t0) / 1e6, bytes }));
      res.on('error', reject);
    }).on('error', reject);
  });
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

export async function benchScrape10k(): Promise<Result[]> {
  const monitor = await filled();
  const url = monitor.metricsUrl as string;
  const page = await fetchText(url);
  const twin = promClientTwin(page);
  const server: Server = createServer((_req, res) => {
    twin.registry.metrics().then(
      (text) => {
        res.writeHead(200, { 'content-type': twin.registry.contentType });
        res.end(text);
      },
      (error: Error) => res.writeHead(500).end(error.message),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const promUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
  const ours = parseExposition(page);
  const histograms = new Set(ours.filter((s) => s.name.endsWith('_count')).map((s) => JSON.stringify([s.name, s.labels]))).size;
  const series = ours.filter((s) => !/_(bucket|sum|count)$/.test(s.name)).length + histograms;

  // Warm both up, then interleave: each round one scrape of each, so a busy moment hits both alike.
  for (let i = 0; i < 10; i++) {
    await scrapeOnce(url);
    await scrapeOnce(promUrl);
  }
  const rounds = Number(process.env.SCRAPE_ROUNDS ?? 200);
  const a: number[] = [];
  const b: number[] = [];
  let bytes = 0;
  let promBytes = 0;
  for (let i = 0; i < rounds; i++) {
    const x = await scrapeOnce(url);
    const y = await scrapeOnce(promUrl);
    a.push(x.ms);
    b.push(y.ms);
    bytes = x.bytes;
    promBytes = y.bytes;
  }
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await monitor.close();

  const values = new Map([
    ['scrape-10k-series', median(a)],
    ['scrape-10k-series-prom-client', median(b)],
    ['scrape-10k-series-mean', mean(a)],
    ['scrape-10k-series-prom-client-mean', mean(b)],
  ]);
  return [
    withBaseline(
      { name: 'scrape-10k-series', value: round(median(a)), unit: `ms/scrape (median of ${rounds})` },
      'scrape-10k-series-prom-client',
      values,
    ),
    withBaseline(
      { name: 'scrape-10k-series-mean', value: round(mean(a)), unit: `ms/scrape (mean of ${rounds})` },
      'scrape-10k-series-prom-client-mean',
      values,
    ),
    { name: 'scrape-10k-series-prom-client', value: round(median(b)), unit: `ms/scrape (median of ${rounds})` },
    { name: 'scrape-10k-series-prom-client-mean', value: round(mean(b)), unit: `ms/scrape (mean of ${rounds})` },
    {
      name: 'scrape-10k-series-count',
      value: series,
      unit: `series (${histograms} histograms; prom-client: ${twin.series}, ${twin.histograms})`,
    },
    { name: 'scrape-10k-series-bytes', value: bytes, unit: `bytes (prom-client: ${promBytes})` },
  ];
}
