/**
 * One fresh process of the openai 6 paired-median figures (bench/wrap.ts runs it):
 *   node bench/wrap-paired-child.ts <otel|tokenmeter|tokenmeter-noledger> <chat|stream> <modules>
 * Two copies of openai 6 are loaded: the bare client's from the `openai-v6` alias (which
 * @opentelemetry/instrumentation-openai leaves alone: it patches a module by the package name in
 * its path) and the measured client's from `<modules>/node_modules/openai` (a copy bench/wrap.ts
 * makes), patched by that instrumentation (metrics on, a MeterProvider with a Prometheus reader,
 * no tracer provider) or instrumented by tokenmeter (the default config, or `ledger: false`).
 * Prints one JSON line: the median ns per call added and the bare call's median (see paired.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type OpenAI from 'openai';
import { pairedMedian } from './paired.ts';
import { completion, sse } from './wrap-fixtures.ts';

const [subject = 'otel', kind = 'chat', modules = ''] = process.argv.slice(2);
let close = async () => {};
if (subject === 'otel') {
  // Registered before the measured copy is loaded, as require-in-the-middle needs.
  const { MeterProvider } = await import('@opentelemetry/sdk-metrics');
  const { PrometheusExporter } = await import('@opentelemetry/exporter-prometheus');
  const { registerInstrumentations } = await import('@opentelemetry/instrumentation');
  const { OpenAIInstrumentation } = await import('@opentelemetry/instrumentation-openai');
  const meterProvider = new MeterProvider({ readers: [new PrometheusExporter({ preventServerStart: true })] });
  registerInstrumentations({ instrumentations: [new OpenAIInstrumentation()], meterProvider });
  close = () => meterProvider.shutdown();
}
type Client = typeof OpenAI;
const Bare = (createRequire(import.meta.url)('openai-v6') as { default: Client }).default;
const Measured = (createRequire(join(modules, 'index.js'))('openai') as { default: Client }).default;
const answer = kind === 'stream' ? sse : completion;
const type = kind === 'stream' ? 'text/event-stream' : 'application/json';
const fetchLocal: typeof fetch = async () => new Response(answer, { headers: { 'content-type': type } });
const make = (C: Client) =>
  new C({ apiKey: 'sk-bench-not-a-real-key-0000', baseURL: 'http://bench.invalid/v1', fetch: fetchLocal, maxRetries: 0 });
const bare = make(Bare);
let measured = make(Measured);
const dir = mkdtempSync(join(tmpdir(), 'tm-bench-paired-'));
if (subject !== 'otel') {
  const { TokenMonitor } = await import('../src/index.ts');
  const monitor = new TokenMonitor({
    dir,
    loadConfig: false,
    metrics: { prometheus: { port: 0 } },
    ...(subject === 'tokenmeter-noledger' ? { ledger: false as const } : {}),
  });
  measured = monitor.instrument(measured);
  close = () => monitor.close();
}
const body = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'Hi' }] };
const calls = (c: OpenAI) =>
  kind === 'stream'
    ? async (n: number) => {
        for (let i = 0; i < n; i++) {
          const s = await c.chat.completions.create({ ...body, stream: true });
          for await (const _ of s) {
            // read every chunk, as a caller would
          }
        }
      }
    : async (n: number) => {
        for (let i = 0; i < n; i++) await c.chat.completions.create(body);
      };
const figure = await pairedMedian(calls(bare), calls(measured), 200);
await close();
rmSync(dir, { recursive: true, force: true });
process.stdout.write(`${JSON.stringify(figure)}\n`);
