/**
 * One fresh process of the `wrap-openai*` benchmarks (bench/wrap.ts runs it):
 *   node bench/wrap-loop.ts <openai6|openai7> <bare|tokenmeter|tokenmeter-noledger|otel> <chat|stream> <warmup> <batches> <batch> <modules> [appMb] [now|turn]
 * makes `warmup` calls, then `batches` batches of `batch` calls, one after another (each awaited,
 * as an app's request handler would), with the openai client of that major version (loaded from
 * `<modules>/node_modules/openai`, a copy bench/wrap.ts makes of the version) answering from an
 * in-process fetch. Prints one JSON line: the mean wall ns per call of each batch, the main
 * thread's and the whole process's CPU ns per call over the batches, and what shows the subject
 * really observed the calls (the ledger's rows, the OpenTelemetry histogram's count).
 *
 * With `turn`, the fetch answers after a turn of the event loop (`setImmediate`), as a response
 * over the network comes in a later turn.
 *
 * With `appMb`, the process first builds that many MB of live objects of its own and keeps them,
 * as an app does at start-up (its modules, caches, routes), before anything else is loaded.
 *
 * openai is loaded with `require`, for every subject alike: that is how
 * @opentelemetry/instrumentation-openai hooks it (require-in-the-middle, by the package name in
 * the path, which is why the copy is named `openai` and not `openai-v6`), and it must be
 * registered before the SDK is loaded.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type OpenAI from 'openai';
import { completion, sse } from './wrap-fixtures.ts';

const [
  sdk = 'openai7',
  subject = 'bare',
  kind = 'chat',
  warmupArg = '15000',
  batchesArg = '10',
  batchArg = '1000',
  modules = '',
  appMb = '0',
  when = 'now',
] = process.argv.slice(2);
// The app's own state: small objects with a string each (about 64 bytes a pair), kept to the end.
const appState = Array.from({ length: Math.round((Number(appMb) * 1024 * 1024) / 64) }, (_, i) => ({ id: i, name: `item-${i}` }));
const warmup = Number(warmupArg);
const batches = Number(batchesArg);
const batch = Number(batchArg);

let otel: { collect: () => Promise<number>; shutdown: () => Promise<void> } | undefined;
if (subject === 'otel') {
  // Metrics on (a MeterProvider with a Prometheus reader, its server not started), no tracer
  // provider: spans are the API's no-op ones, as in an app that exports metrics only.
  const { MeterProvider } = await import('@opentelemetry/sdk-metrics');
  const { PrometheusExporter } = await import('@opentelemetry/exporter-prometheus');
  const { registerInstrumentations } = await import('@opentelemetry/instrumentation');
  const { OpenAIInstrumentation } = await import('@opentelemetry/instrumentation-openai');
  const reader = new PrometheusExporter({ preventServerStart: true });
  const meterProvider = new MeterProvider({ readers: [reader] });
  registerInstrumentations({ instrumentations: [new OpenAIInstrumentation()], meterProvider });
  otel = {
    // The calls gen_ai.client.operation.duration counted: proof the instrumentation patched this copy.
    collect: async () => {
      const { resourceMetrics } = await reader.collect();
      for (const sm of resourceMetrics.scopeMetrics)
        for (const m of sm.metrics)
          if (m.descriptor.name === 'gen_ai.client.operation.duration')
            return m.dataPoints.reduce((n, p) => n + ((p.value as { count?: number }).count ?? 0), 0);
      return 0;
    },
    shutdown: () => meterProvider.shutdown(),
  };
}

const require = createRequire(join(modules, 'index.js'));
const { default: OpenAIClass } = require('openai') as { default: typeof OpenAI };
const { VERSION } = require('openai/version') as { VERSION: string };
if (`openai${VERSION.split('.')[0]}` !== sdk) throw new Error(`bench: ${modules} holds openai ${VERSION}, not ${sdk}`);

let monitor: import('../src/monitor.ts').TokenMonitor | undefined;
const dir = mkdtempSync(join(tmpdir(), 'tm-bench-wrap-'));
if (subject === 'tokenmeter' || subject === 'tokenmeter-noledger') {
  const { TokenMonitor } = await import('../src/index.ts');
  // The default config (SQLite ledger in `dir`, metrics with their Prometheus endpoint), on a port
  // the OS picks so that runs side by side do not collide; or the same without the ledger.
  monitor = new TokenMonitor({
    dir,
    loadConfig: false,
    metrics: { prometheus: { port: 0 } },
    ...(subject === 'tokenmeter-noledger' ? { ledger: false as const } : {}),
  });
}

const answer = kind === 'stream' ? sse : completion;
const type = kind === 'stream' ? 'text/event-stream' : 'application/json';
const respond = () => new Response(answer, { headers: { 'content-type': type } });
const fetchLocal: typeof fetch =
  when === 'turn'
    ? async () => {
        await nextTurn();
        return respond();
      }
    : async () => respond();
let client = new OpenAIClass({
  apiKey: 'sk-bench-not-a-real-key-0000',
  baseURL: 'http://bench.invalid/v1',
  fetch: fetchLocal,
  maxRetries: 0,
});
if (monitor !== undefined) client = monitor.instrument(client);

const body = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'Hi' }] };
const call =
  kind === 'stream'
    ? async () => {
        const s = await client.chat.completions.create({ ...body, stream: true });
        for await (const _ of s) {
          // read every chunk, as a caller would
        }
      }
    : async () => {
        await client.chat.completions.create(body);
      };

for (let i = 0; i < warmup; i++) await call();
const means: number[] = [];
const main0 = process.threadCpuUsage();
const cpu0 = process.cpuUsage();
for (let b = 0; b < batches; b++) {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < batch; i++) await call();
  means.push(Number(process.hrtime.bigint() - t0) / batch);
}
const main = process.threadCpuUsage(main0);
const cpu = process.cpuUsage(cpu0);
const calls = warmup + batches * batch;
let observed = calls;
if (monitor !== undefined) {
  await monitor.flush();
  const h = monitor.health();
  if (subject === 'tokenmeter' && (h.ledger?.written ?? 0) !== calls) observed = h.ledger?.written ?? 0;
  const summary = monitor.usageSummary('openai') as { requests: number };
  if (summary.requests !== calls) observed = summary.requests;
  await monitor.close();
}
if (otel !== undefined) {
  observed = await otel.collect();
  await otel.shutdown();
}
rmSync(dir, { recursive: true, force: true });
process.stdout.write(
  `${JSON.stringify({
    means,
    mainCpuNs: ((main.user + main.system) * 1000) / (batches * batch),
    cpuNs: ((cpu.user + cpu.system) * 1000) / (batches * batch),
    calls,
    observed,
    appObjects: appState.length,
  })}\n`,
);
