/**
 * A fresh process for test/footprint.test.ts: records every module it loads (module.registerHooks),
 * imports tokenmeter, makes a monitor with the default config in `dir` (argv[2]), records one call,
 * and prints JSON: the modules of interest it loaded, and the call's cost (so a config file's
 * prices can be seen applied).
 */
import { registerHooks } from 'node:module';

const loaded: string[] = [];
registerHooks({
  resolve(specifier, context, next) {
    const r = next(specifier, context);
    loaded.push(r.url);
    return r;
  },
});
const dir = process.argv[2] as string;
const { TokenMonitor } = await import('../../src/index.ts');
const monitor = new TokenMonitor({ dir, metrics: { prometheus: false } });
const r = monitor.record({ provider: 'openai', model: 'gpt-4o-mini', inputTokens: 1000, outputTokens: 100 });
await monitor.close();
const of = (part: string) => loaded.some((u) => u.includes(part));
process.stdout.write(
  `${JSON.stringify({
    zod: of('/node_modules/zod/'),
    server: of('/src/server/api.ts') || of('/src/server/route-table.ts') || of('/src/server/schemas.ts'),
    serverFiles: loaded.filter((u) => u.includes('/src/server/')).map((u) => u.replace(/.*\/src\//, '')),
    otlp: of('exporter-metrics-otlp'),
    sdkMetrics: of('/@opentelemetry/sdk-metrics/'),
    costUsd: r.costUsd,
  })}\n`,
);
