/**
 * One Prometheus scrape over real HTTP at the largest caps tokenmeter accepts (MAX_CAP label sets)
 * beside the default caps (300), each label set filled to the most series it can have (every token
 * type, every histogram, the most error types): time per scrape (median and mean), bytes, and how
 * much the process's RSS grew while scraping. The default caps are also scraped through
 * @opentelemetry/exporter-prometheus (what served /metrics before), in the same run.
 */
import { createServer, get } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { TokenMonitor } from '../src/index.ts';
import { CARDINALITY_DEFAULTS, MAX_CAP, MAX_ERROR_TYPES_PER_SET } from '../src/metrics/cardinality.ts';
import { type Result, round, withBaseline } from './harness.ts';

async function filled(sets: number): Promise<TokenMonitor> {
  const m = new TokenMonitor({
    loadConfig: false,
    ledger: false,
    logLevel: 'error',
    metrics: { prometheus: { port: 0 }, maxLabelSets: sets, maxValuesPerLabel: sets },
  });
  await m.ready();
  for (let i = 0; i < sets; i++) {
    const c = {
      provider: 'openai',
      model: `model-${i}`,
      operation: `operation-${i}`,
      inputTokens: 1000 + i,
      outputTokens: 500,
      cachedInputTokens: 100,
      cacheWriteTokens: 10,
      reasoningTokens: 50,
      durationMs: 840,
    };
    m.record(c);
    for (let e = 0; e <= MAX_ERROR_TYPES_PER_SET; e++) m.record({ ...c, error: true, errorType: `http_${500 + e}` });
  }
  return m;
}

/** Scrapes `url` `n` times, reading the body as it streams; ms per scrape, bytes, peak RSS growth. */
async function scrape(url: string, n: number): Promise<{ median: number; mean: number; bytes: number; rssGrowthMB: number }> {
  const times: number[] = [];
  let bytes = 0;
  const rss0 = process.memoryUsage().rss;
  let peak = rss0;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 20);
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    // node:http, bytes counted and dropped: the client costs the scrape as little as it can.
    bytes = await new Promise<number>((resolve, reject) => {
      get(url, (res) => {
        let b = 0;
        res.on('data', (chunk: Buffer) => {
          b += chunk.length;
        });
        res.on('end', () => resolve(b));
        res.on('error', reject);
      }).on('error', reject);
    });
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    peak = Math.max(peak, process.memoryUsage().rss);
  }
  clearInterval(sampler);
  const sorted = [...times].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
  return { median, mean: times.reduce((a, b) => a + b, 0) / times.length, bytes, rssGrowthMB: (peak - rss0) / 1e6 };
}

export async function benchMetrics(): Promise<Result[]> {
  const dflt = CARDINALITY_DEFAULTS.maxLabelSets;
  const small = await filled(dflt);
  // The same aggregates through exporter-prometheus's serialiser, on a server of its own.
  const exporter = new PrometheusExporter({ preventServerStart: true, metricProducers: [small.metricProducer!], withoutScopeInfo: true });
  const provider = new MeterProvider({ readers: [exporter] });
  const server = createServer((req, res) => exporter.getMetricsRequestHandler(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const oldUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
  await scrape(small.metricsUrl as string, 3);
  await scrape(oldUrl, 3);
  const atDefault = await scrape(small.metricsUrl as string, 30);
  const before = await scrape(oldUrl, 30);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await provider.shutdown();
  await small.close();

  const big = await filled(MAX_CAP);
  await scrape(big.metricsUrl as string, 1);
  const atMax = await scrape(big.metricsUrl as string, 5);
  await big.close();

  const ms = new Map([
    [`metrics-scrape-${dflt}`, atDefault.median],
    [`metrics-scrape-${dflt}-exporter-prometheus`, before.median],
    [`metrics-scrape-${MAX_CAP}`, atMax.median],
  ]);
  const bytes = new Map([
    [`metrics-scrape-bytes-${dflt}`, atDefault.bytes],
    [`metrics-scrape-bytes-${MAX_CAP}`, atMax.bytes],
  ]);
  const rss = new Map([
    [`metrics-scrape-rss-growth-${dflt}`, atDefault.rssGrowthMB],
    [`metrics-scrape-rss-growth-${MAX_CAP}`, atMax.rssGrowthMB],
  ]);
  return [
    withBaseline(
      { name: `metrics-scrape-${dflt}`, value: round(atDefault.median), unit: 'ms/scrape (median)' },
      `metrics-scrape-${dflt}-exporter-prometheus`,
      ms,
    ),
    { name: `metrics-scrape-${dflt}-mean`, value: round(atDefault.mean), unit: 'ms/scrape (mean of 30)' },
    { name: `metrics-scrape-${dflt}-exporter-prometheus`, value: round(before.median), unit: 'ms/scrape (median)' },
    { name: `metrics-scrape-${dflt}-exporter-prometheus-mean`, value: round(before.mean), unit: 'ms/scrape (mean of 30)' },
    withBaseline(
      { name: `metrics-scrape-${MAX_CAP}`, value: round(atMax.median), unit: 'ms/scrape (median)' },
      `metrics-scrape-${dflt}`,
      ms,
    ),
    { name: `metrics-scrape-${MAX_CAP}-mean`, value: round(atMax.mean), unit: 'ms/scrape (mean of 5)' },
    { name: `metrics-scrape-bytes-${dflt}`, value: atDefault.bytes, unit: 'bytes' },
    withBaseline({ name: `metrics-scrape-bytes-${MAX_CAP}`, value: atMax.bytes, unit: 'bytes' }, `metrics-scrape-bytes-${dflt}`, bytes),
    { name: `metrics-scrape-rss-growth-${dflt}`, value: round(atDefault.rssGrowthMB), unit: 'MB' },
    withBaseline(
      { name: `metrics-scrape-rss-growth-${MAX_CAP}`, value: round(atMax.rssGrowthMB), unit: 'MB' },
      `metrics-scrape-rss-growth-${dflt}`,
      rss,
    ),
  ];
}
