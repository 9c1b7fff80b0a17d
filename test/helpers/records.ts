import type { RecordResult, TokenMonitor } from '../../src/index.ts';

/** The validated records a monitor keeps from now on, as `record()` returns them. */
export function recorded(monitor: TokenMonitor): NonNullable<RecordResult['record']>[] {
  const out: NonNullable<RecordResult['record']>[] = [];
  const record = monitor.record.bind(monitor);
  monitor.record = (input) => {
    const r = record(input);
    if (r.record !== null) out.push(r.record);
    return r;
  };
  return out;
}

/** A stream's items, each as JSON, to compare what two clients handed their callers. */
export async function collectJson<T>(stream: AsyncIterable<T>): Promise<string[]> {
  const out: string[] = [];
  for await (const c of stream) out.push(JSON.stringify(c));
  return out;
}
