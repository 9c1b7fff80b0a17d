import type { RecordResult, TokenMonitor } from '../../src/index.ts';

/** The validated records a monitor keeps from now on, as `record()` and `recordUsage()` return them (instrumented calls too). */
export function recorded(monitor: TokenMonitor): NonNullable<RecordResult['record']>[] {
  const out: NonNullable<RecordResult['record']>[] = [];
  const keep = (r: RecordResult | undefined) => {
    if (r?.record !== null && r?.record !== undefined) out.push(r.record);
    return r;
  };
  const record = monitor.record.bind(monitor);
  monitor.record = (input) => keep(record(input)) as RecordResult;
  const recordUsage = monitor.recordUsage.bind(monitor);
  monitor.recordUsage = (usage, facts) => keep(recordUsage(usage, facts));
  // Instrumented clients and integrations meter (no result built): recorded here as recordUsage would.
  monitor.meterUsage = (usage, facts) => void keep(recordUsage(usage, facts));
  return out;
}

/** A stream's items, each as JSON, to compare what two clients handed their callers. */
export async function collectJson<T>(stream: AsyncIterable<T>): Promise<string[]> {
  const out: string[] = [];
  for await (const c of stream) out.push(JSON.stringify(c));
  return out;
}
