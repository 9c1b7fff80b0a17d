/**
 * A small benchmark harness: subjects are measured in interleaved rounds (a batch of each in turn),
 * so that a busy moment on a shared machine hits them all alike, and each figure is the median of
 * its batches.
 */
export interface Result {
  name: string;
  value: number;
  unit: string;
  baseline?: string;
  baselineValue?: number;
  ratio?: number;
  /** The figure of each round, where it is a mean over rounds (the spread). */
  rounds?: number[];
  /** Main-thread CPU time per call added (same unit as value), where measured. */
  mainThreadCpu?: number;
  /** MB of live objects of its own the measured process held (the `-app` figures). */
  appHeapMb?: number;
}

export interface Subject {
  name: string;
  /** Runs the operation `n` times. */
  run: (n: number) => void;
  /** The subject this one is compared with. */
  baseline?: string;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** Median nanoseconds per operation of each subject, measured in `rounds` interleaved batches. */
export function measureNs(subjects: Subject[], options: { batch?: number; rounds?: number; warmup?: number } = {}): Result[] {
  const batch = options.batch ?? 20_000;
  const rounds = options.rounds ?? 40;
  for (const s of subjects) s.run(options.warmup ?? batch * 5);
  const samples = new Map<string, number[]>(subjects.map((s) => [s.name, []]));
  for (let r = 0; r < rounds; r++) {
    for (const s of subjects) {
      const t0 = process.hrtime.bigint();
      s.run(batch);
      const dt = Number(process.hrtime.bigint() - t0);
      samples.get(s.name)?.push(dt / batch);
    }
  }
  const values = new Map(subjects.map((s) => [s.name, median(samples.get(s.name) ?? [])]));
  return subjects.map((s) => withBaseline({ name: s.name, value: round(values.get(s.name) ?? 0), unit: 'ns/op' }, s.baseline, values));
}

export function withBaseline(r: Result, baseline: string | undefined, values: Map<string, number>): Result {
  if (baseline === undefined) return r;
  const b = values.get(baseline);
  if (b === undefined) return r;
  return { ...r, baseline, baselineValue: round(b), ratio: Math.round((r.value / b) * 1000) / 1000 };
}

export function round(v: number): number {
  return Math.round(v * 10) / 10;
}
