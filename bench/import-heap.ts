/**
 * MB of heap an app holds for tokenmeter once it is imported and its monitor made (the default
 * config), beside what @opentelemetry/instrumentation-openai's setup holds (metrics with a
 * Prometheus reader, as the wrap benchmarks' `otel` subject): each the median of five fresh
 * processes, less a bare process's heap. What an app holds at start-up also sets how big V8 grows
 * its young generation, and so what each call's garbage costs (see docs/scaling.md).
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import type { Result } from './harness.ts';

const child = join(import.meta.dirname, 'import-heap-child.ts');

function heapBytes(subject: string): number {
  const runs: number[] = [];
  for (let i = 0; i < 5; i++)
    runs.push(Number(execFileSync(process.execPath, ['--expose-gc', child, subject], { encoding: 'utf8' }).trim()));
  runs.sort((a, b) => a - b);
  return runs[2] as number;
}

export async function benchImportHeap(): Promise<Result[]> {
  const bare = heapBytes('bare');
  const mb = (b: number) => Math.round(((b - bare) / 1e6) * 100) / 100;
  const tokenmeter = mb(heapBytes('tokenmeter'));
  const otel = mb(heapBytes('otel'));
  return [
    {
      name: 'import-heap',
      value: tokenmeter,
      unit: 'MB',
      baseline: 'import-heap-otel',
      baselineValue: otel,
      ratio: Math.round((tokenmeter / otel) * 1000) / 1000,
    },
    { name: 'import-heap-otel', value: otel, unit: 'MB' },
  ];
}
