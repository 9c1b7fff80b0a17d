/**
 * One fresh process of the `import-heap` benchmark (bench/import-heap.ts runs it, with --expose-gc):
 *   node --expose-gc bench/import-heap-child.ts <bare|tokenmeter|otel>
 * sets its subject up as an app does at start-up, lets it settle, collects garbage, and prints the
 * bytes of heap in use.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getHeapStatistics } from 'node:v8';

const subject = process.argv[2] ?? 'bare';
const dir = mkdtempSync(join(tmpdir(), 'tm-bench-heap-'));
let close = async () => {};
if (subject === 'tokenmeter') {
  // The default config: the SQLite ledger (its writer thread), metrics and their Prometheus endpoint.
  const { TokenMonitor } = await import('../src/index.ts');
  const monitor = new TokenMonitor({ dir, loadConfig: false, metrics: { prometheus: { port: 0 } } });
  await monitor.ready();
  close = () => monitor.close();
} else if (subject === 'otel') {
  // What bench/wrap-loop.ts's `otel` subject sets up: metrics with a Prometheus reader, the OpenAI instrumentation.
  const { MeterProvider } = await import('@opentelemetry/sdk-metrics');
  const { PrometheusExporter } = await import('@opentelemetry/exporter-prometheus');
  const { registerInstrumentations } = await import('@opentelemetry/instrumentation');
  const { OpenAIInstrumentation } = await import('@opentelemetry/instrumentation-openai');
  const meterProvider = new MeterProvider({ readers: [new PrometheusExporter({ preventServerStart: true })] });
  registerInstrumentations({ instrumentations: [new OpenAIInstrumentation()], meterProvider });
  close = () => meterProvider.shutdown();
}
await new Promise((r) => setTimeout(r, 200));
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('bench: run with --expose-gc');
gc();
gc();
process.stdout.write(`${getHeapStatistics().used_heap_size}\n`);
await close();
rmSync(dir, { recursive: true, force: true });
