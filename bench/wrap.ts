/**
 * The time `monitor.instrument()` adds to an OpenAI call, against an in-process fetch that answers
 * at once, so the network is out of the figure. Two methods:
 *
 * - As users pay it (`wrap-openai6-chat`, `wrap-openai-chat`, `-stream`, `-noledger`): the mean
 *   wall time per call over batches of BATCH calls, in a fresh process per configuration after
 *   WARMUP calls, so that garbage collection of what each call allocates and the ledger's writes
 *   count; ROUNDS rounds, the configurations interleaved (their order reversed every other round).
 *   Each figure is the added time, the configuration's mean minus the bare client's of the same
 *   round, averaged over the rounds; `rounds` lists the per-round figures (the spread).
 *   Configurations: the bare openai 6 and 7 clients; tokenmeter's wrapper on each, with the
 *   default config (SQLite ledger in a temp dir, metrics and their endpoint on) and with
 *   `ledger: false`; and @opentelemetry/instrumentation-openai on openai 6 (metrics on, a
 *   MeterProvider with a Prometheus reader, no tracer provider), the baseline of the openai 6
 *   figures: ratio = tokenmeter's added time / the instrumentation's. It does not patch openai 7,
 *   so the openai 7 figures stand beside the bare openai 7 call.
 * - The same in an app of realistic size (`-app`: openai 6 chat, bare, OpenTelemetry, tokenmeter
 *   and `ledger: false`): each process first builds APP_MB MB of live objects of its own, as an app
 *   holds after start-up. The bare client of the figures above lives in a process of about 11 MB,
 *   where V8 keeps its young generation at 8 MB; past about 8 MB more of anything (an app's state,
 *   or a library: tokenmeter, the OpenTelemetry SDK) V8 grows it to 32-64 MB, and then its
 *   allocation-site pretenuring moves the SDK's own per-call objects to the old generation (measured:
 *   ~2.5% of what a call allocates survives each scavenge, against ~0.1%, whichever library is
 *   loaded, and none with --no-allocation-site-pretenuring). The toy-sized bare client is spared a
 *   cost every real app pays, and which the figures above charge to the library loaded; these
 *   figures put every configuration in the same, realistic regime.
 * - With a turn of the event loop per call (`-turn`: openai 6 chat, bare, OpenTelemetry,
 *   tokenmeter and `ledger: false`): the in-process fetch answers after `setImmediate`, as a
 *   response over the network comes in a later turn. tokenmeter records an instrumented call at
 *   the next turn, in one pass with the calls that ended meanwhile (src/pipeline/later.ts): with
 *   an in-process fetch that never lets the loop turn, a pass takes up to 64 calls, warm; here,
 *   one call at a time, as a sequential caller over a network gets it.
 * - Paired medians (`-paired-median`, see paired.ts): batches of bare and wrapped calls back to
 *   back in one process, the median of the per-pair differences. It leaves out what the mean of
 *   long batches in fresh processes catches (GC, the ledger's work off the call's path), and is far
 *   less noisy. openai 7 (`wrap-openai-*-paired-median`): in this process, metrics on, no ledger,
 *   no endpoint. openai 6 (`wrap-openai6-*-paired-median`, `-noledger-`, `-otel-`): tokenmeter
 *   (default config, and `ledger: false`) and @opentelemetry/instrumentation-openai each in fresh
 *   processes (bench/wrap-paired-child.ts), the ratio against the instrumentation's figure.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, linkSync, mkdirSync, mkdtempSync, readdirSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { TokenMonitor } from '../src/index.ts';
import { type Result, round } from './harness.ts';
import { pairedMedian } from './paired.ts';
import { completion, sse } from './wrap-fixtures.ts';

/** Calls before the measured batches, in each fresh process (the wrapper's code reaches V8's top tier after 10,000 to 25,000). */
const WARMUP = 15_000;
/** Calls per measured batch. */
const BATCH = 1_000;
/**
 * Measured batches per process: the figure is their mean. Twelve (some 0.8-1 s of calls), not
 * four: a full garbage collection comes about every 1.5 s in these processes (its incremental
 * marking slows the calls around it), and four batches (0.3 s) caught one in some processes and
 * not in others, by chance, so the figures swung by more than the differences they measure
 * (seen in --trace-gc: the slow second and third batches were those under incremental marking).
 */
const BATCHES = 12;
/** Fresh processes per configuration, interleaved ($TOKENMETER_BENCH_WRAP_ROUNDS for a quicker look). */
const ROUNDS = Number(process.env.TOKENMETER_BENCH_WRAP_ROUNDS ?? 6);
/** MB of live objects of its own each process of the `-app` figures holds (see the file's comment). */
const APP_MB = 16;

type Sdk = 'openai6' | 'openai7';
type Subject = 'bare' | 'tokenmeter' | 'tokenmeter-noledger' | 'otel';
type Kind = 'chat' | 'stream';
/**
 * A kind of call, in a toy process (app 0) or one holding APP_MB MB of its own; with `turn`, each
 * call's response comes one turn of the event loop later, as over a network.
 */
type Variant = { kind: Kind; app: number; turn?: boolean };
/** The names' suffix of a variant. */
const suffixOf = (v: Variant) => (v.app > 0 ? '-app' : v.turn === true ? '-turn' : '');
interface Loop {
  means: number[];
  mainCpuNs: number;
  cpuNs: number;
  calls: number;
  observed: number;
}

const CONFIGS: readonly (readonly [Sdk, Subject])[] = [
  ['openai6', 'bare'],
  ['openai6', 'otel'],
  ['openai6', 'tokenmeter'],
  ['openai6', 'tokenmeter-noledger'],
  ['openai7', 'bare'],
  ['openai7', 'tokenmeter'],
  ['openai7', 'tokenmeter-noledger'],
];

/**
 * A copy of a package as `<dir>/node_modules/openai`, files hard-linked (copied where links fail):
 * @opentelemetry/instrumentation-openai finds `openai` by the package name in the module's path,
 * so the `openai-v6` alias would go unpatched. Every openai 6 configuration loads this same copy.
 */
function openaiCopy(pkg: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'tm-bench-openai-'));
  const copy = (from: string, to: string) => {
    mkdirSync(to, { recursive: true });
    for (const e of readdirSync(from, { withFileTypes: true })) {
      const a = join(from, e.name);
      const b = join(to, e.name);
      if (e.isDirectory()) copy(a, b);
      else {
        try {
          linkSync(a, b);
        } catch {
          copyFileSync(a, b);
        }
      }
    }
  };
  copy(realpathSync(join(import.meta.dirname, '..', 'node_modules', pkg)), join(dir, 'node_modules', 'openai'));
  return dir;
}

function loop(sdk: Sdk, subject: Subject, kind: Kind, modules: string, app: number, turn: boolean): Loop {
  const args = [
    join(import.meta.dirname, 'wrap-loop.ts'),
    sdk,
    subject,
    kind,
    String(WARMUP),
    String(BATCHES),
    String(BATCH),
    modules,
    String(app),
    turn ? 'turn' : 'now',
  ];
  const out = execFileSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 20 });
  const l = JSON.parse(out) as Loop;
  // The subject saw every call: the ledger's rows and the metrics' count (tokenmeter), the
  // gen_ai.client.operation.duration histogram's count (OpenTelemetry: it patched this copy).
  if (l.observed !== l.calls) throw new Error(`bench: ${sdk} ${subject} ${kind} observed ${l.observed} of ${l.calls} calls`);
  return l;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const us = (ns: number) => round(ns / 1000);

/** The figures as users pay them, for the variants asked for. */
export async function usersPay(variants: Variant[]): Promise<Result[]> {
  const v6 = openaiCopy('openai-v6');
  const modules: Record<Sdk, string> = { openai6: v6, openai7: import.meta.dirname };
  const runs = new Map<string, Loop[]>();
  const key = (sdk: Sdk, subject: Subject, kind: Kind, app: number, turn: boolean) =>
    `${sdk} ${subject} ${kind}${app > 0 ? ` app ${app} MB` : ''}${turn ? ' a turn per call' : ''}`;
  try {
    for (let r = 0; r < ROUNDS; r++) {
      const order = variants.flatMap((v) =>
        CONFIGS.filter(([sdk]) => suffixOf(v) === '' || sdk === 'openai6').map(
          ([sdk, subject]) => [sdk, subject, v.kind, v.app, v.turn === true] as const,
        ),
      );
      if (r % 2 === 1) order.reverse();
      for (const [sdk, subject, kind, app, turn] of order) {
        const k = key(sdk, subject, kind, app, turn);
        const l = loop(sdk, subject, kind, modules[sdk], app, turn);
        runs.set(k, [...(runs.get(k) ?? []), l]);
        // Progress on stderr (stdout is the JSON): a run takes minutes.
        process.stderr.write(
          `wrap round ${r + 1}/${ROUNDS} ${k}: ${us(mean(l.means))} µs/call (batches ${l.means.map(us).join(', ')}; CPU main thread ${us(l.mainCpuNs)}, process ${us(l.cpuNs)})\n`,
        );
      }
    }
  } finally {
    rmSync(v6, { recursive: true, force: true });
  }
  const out: Result[] = [];
  for (const v of variants) {
    const { kind, app } = v;
    const of = (sdk: Sdk, subject: Subject) => runs.get(key(sdk, subject, kind, app, v.turn === true)) ?? [];
    const suffix = suffixOf(v);
    /** Per round: the subject's mean ns per call minus the bare client's. */
    const added = (sdk: Sdk, subject: Subject, f: (l: Loop) => number = (l) => mean(l.means)) => {
      const bare = of(sdk, 'bare');
      return of(sdk, subject).map((l, i) => f(l) - f(bare[i] as Loop));
    };
    const figure = (sdk: Sdk, subject: Subject) => ({
      value: mean(added(sdk, subject)),
      rounds: added(sdk, subject).map(us),
      mainThreadCpu: us(mean(added(sdk, subject, (l) => l.mainCpuNs))),
    });
    const bare6 = mean(of('openai6', 'bare').map((l) => mean(l.means)));
    const bare7 = mean(of('openai7', 'bare').map((l) => mean(l.means)));
    const otel = figure('openai6', 'otel');
    const unit = 'µs/call added';
    const name6 = `wrap-openai6-${kind}`;
    const name7 = `wrap-openai-${kind}`;
    const extra = app > 0 ? { appHeapMb: app } : v.turn === true ? { aTurnPerCall: true } : {};
    for (const [name, subject] of [
      [`${name6}${suffix}`, 'tokenmeter'],
      [`${name6}-noledger${suffix}`, 'tokenmeter-noledger'],
    ] as const) {
      const f = figure('openai6', subject);
      out.push({
        name,
        value: us(f.value),
        unit,
        baseline: `${name6}-otel${suffix}`,
        baselineValue: us(otel.value),
        ratio: Math.round((f.value / otel.value) * 1000) / 1000,
        rounds: f.rounds,
        mainThreadCpu: f.mainThreadCpu,
        ...extra,
      });
    }
    out.push(
      {
        name: `${name6}-otel${suffix}`,
        value: us(otel.value),
        unit,
        baseline: `bare-openai6-${kind}${suffix}`,
        baselineValue: us(bare6),
        ratio: Math.round((otel.value / bare6) * 1000) / 1000,
        rounds: otel.rounds,
        mainThreadCpu: otel.mainThreadCpu,
        ...extra,
      },
      {
        name: `bare-openai6-${kind}${suffix}`,
        value: us(bare6),
        unit: 'µs/call',
        rounds: of('openai6', 'bare').map((l) => us(mean(l.means))),
        ...extra,
      },
    );
    if (suffix !== '') continue;
    for (const [name, subject] of [
      [name7, 'tokenmeter'],
      [`${name7}-noledger`, 'tokenmeter-noledger'],
    ] as const) {
      const f = figure('openai7', subject);
      out.push({
        name,
        value: us(f.value),
        unit,
        baseline: `bare-openai-${kind}`,
        baselineValue: us(bare7),
        ratio: Math.round((f.value / bare7) * 1000) / 1000,
        rounds: f.rounds,
        mainThreadCpu: f.mainThreadCpu,
      });
    }
    out.push({
      name: `bare-openai-${kind}`,
      value: us(bare7),
      unit: 'µs/call',
      rounds: of('openai7', 'bare').map((l) => us(mean(l.means))),
    });
  }
  return out;
}

const fetchJson: typeof fetch = async () => new Response(completion, { headers: { 'content-type': 'application/json' } });
const fetchSse: typeof fetch = async () => new Response(sse, { headers: { 'content-type': 'text/event-stream' } });

function client(f: typeof fetch): OpenAI {
  return new OpenAI({ apiKey: 'sk-bench-not-a-real-key-0000', baseURL: 'http://bench.invalid/v1', fetch: f, maxRetries: 0 });
}

export async function benchWrap(wanted: (name: string) => boolean = () => true): Promise<Result[]> {
  const all: Variant[] = [
    { kind: 'chat', app: 0 },
    { kind: 'stream', app: 0 },
    { kind: 'chat', app: APP_MB },
    { kind: 'chat', app: 0, turn: true },
  ];
  const variants = all.filter((v) =>
    WRAP_NAMES.some(
      (n) =>
        n.includes(`-${v.kind}`) &&
        !n.includes('paired') &&
        (suffixOf(v) === '' ? !n.endsWith('-app') && !n.endsWith('-turn') : n.endsWith(suffixOf(v))) &&
        wanted(n),
    ),
  );
  const results = variants.length > 0 ? await usersPay(variants) : [];
  const paired6 = (['chat', 'stream'] as const).filter((k) =>
    WRAP_NAMES.some((n) => n.startsWith(`wrap-openai6-${k}`) && n.endsWith('paired-median') && wanted(n)),
  );
  if (paired6.length > 0) results.push(...(await pairedAgainstOtel(paired6)));
  if (WRAP_NAMES.some((n) => n.includes('-openai-') && n.includes('paired') && wanted(n))) results.push(...(await pairedMedians()));
  return results;
}

/** Fresh processes per subject for the openai 6 paired-median figures, interleaved. */
const PAIRED_ROUNDS = 2;

/**
 * The openai 6 paired-median figures (see paired.ts): tokenmeter's wrapper (default config and
 * `ledger: false`) and @opentelemetry/instrumentation-openai, each in fresh processes
 * (bench/wrap-paired-child.ts) against a bare openai 6 client in the same process; each figure is
 * the mean of its processes' medians. Less noisy than the figures as users pay them, and labelled
 * apart: they leave out garbage collection and the ledger's work off the call's path.
 */
async function pairedAgainstOtel(kinds: readonly Kind[]): Promise<Result[]> {
  const v6 = openaiCopy('openai-v6');
  const out: Result[] = [];
  try {
    for (const kind of kinds) {
      const subjects = ['otel', 'tokenmeter', 'tokenmeter-noledger'] as const;
      const figures = new Map<string, { added: number; bare: number }[]>();
      for (let r = 0; r < PAIRED_ROUNDS; r++) {
        for (const subject of r % 2 === 0 ? subjects : [...subjects].reverse()) {
          const args = [join(import.meta.dirname, 'wrap-paired-child.ts'), subject, kind, v6];
          const f = JSON.parse(execFileSync(process.execPath, args, { encoding: 'utf8' })) as { added: number; bare: number };
          figures.set(subject, [...(figures.get(subject) ?? []), f]);
          process.stderr.write(
            `wrap paired ${r + 1}/${PAIRED_ROUNDS} openai6 ${subject} ${kind}: +${us(f.added)} µs on ${us(f.bare)} µs\n`,
          );
        }
      }
      const added = (subject: string) => mean((figures.get(subject) ?? []).map((f) => f.added));
      const otel = added('otel');
      const bare = mean(subjects.flatMap((s) => (figures.get(s) ?? []).map((f) => f.bare)));
      const base = `wrap-openai6-${kind}-otel-paired-median`;
      for (const [name, subject] of [
        [`wrap-openai6-${kind}-paired-median`, 'tokenmeter'],
        [`wrap-openai6-${kind}-noledger-paired-median`, 'tokenmeter-noledger'],
      ] as const) {
        const a = added(subject);
        out.push({
          name,
          value: round(a),
          unit: 'ns/call added',
          baseline: base,
          baselineValue: round(otel),
          ratio: Math.round((a / otel) * 1000) / 1000,
        });
      }
      out.push(
        {
          name: base,
          value: round(otel),
          unit: 'ns/call added',
          baseline: `bare-openai6-${kind}-paired-median`,
          baselineValue: round(bare),
          ratio: Math.round((otel / bare) * 10000) / 10000,
        },
        { name: `bare-openai6-${kind}-paired-median`, value: round(bare), unit: 'ns/op' },
      );
    }
  } finally {
    rmSync(v6, { recursive: true, force: true });
  }
  return out;
}

/** Every result benchWrap gives. */
export const WRAP_NAMES = (['chat', 'stream'] as const).flatMap((k) => [
  `wrap-openai6-${k}`,
  `wrap-openai6-${k}-noledger`,
  `wrap-openai6-${k}-otel`,
  `bare-openai6-${k}`,
  `wrap-openai-${k}`,
  `wrap-openai-${k}-noledger`,
  `bare-openai-${k}`,
  `wrap-openai-${k}-paired-median`,
  `bare-openai-${k}-paired-median`,
  `wrap-openai6-${k}-paired-median`,
  `wrap-openai6-${k}-noledger-paired-median`,
  `wrap-openai6-${k}-otel-paired-median`,
  `bare-openai6-${k}-paired-median`,
  ...(k === 'chat'
    ? ['app', 'turn'].flatMap((s) => [
        `wrap-openai6-${k}-${s}`,
        `wrap-openai6-${k}-noledger-${s}`,
        `wrap-openai6-${k}-otel-${s}`,
        `bare-openai6-${k}-${s}`,
      ])
    : []),
]);

/** The paired-median figures, in this process (see the file's comment). */
async function pairedMedians(): Promise<Result[]> {
  const monitor = new TokenMonitor({ loadConfig: false, ledger: false, metrics: { prometheus: false } });
  const bare = client(fetchJson);
  const wrapped = monitor.instrument(client(fetchJson));
  const bareStream = client(fetchSse);
  const wrappedStream = monitor.instrument(client(fetchSse));
  const body = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'Hi' }] };
  const drain = async (c: OpenAI) => {
    const s = await c.chat.completions.create({ ...body, stream: true });
    for await (const _ of s) {
      // read every chunk, as a caller would
    }
  };
  const chatOnce = (c: OpenAI) => async (n: number) => {
    for (let i = 0; i < n; i++) await c.chat.completions.create(body);
  };
  const streamOnce = (c: OpenAI) => async (n: number) => {
    for (let i = 0; i < n; i++) await drain(c);
  };
  const results = [
    ...(await paired('wrap-openai-chat-paired-median', 'bare-openai-chat-paired-median', chatOnce(bare), chatOnce(wrapped))),
    ...(await paired(
      'wrap-openai-stream-paired-median',
      'bare-openai-stream-paired-median',
      streamOnce(bareStream),
      streamOnce(wrappedStream),
    )),
  ];
  await monitor.close();
  return results;
}

/** A paired-median figure (see paired.ts) and its baseline, the bare call's median. */
async function paired(
  name: string,
  baseline: string,
  bare: (n: number) => Promise<void>,
  wrapped: (n: number) => Promise<void>,
): Promise<Result[]> {
  const { added, bare: b } = await pairedMedian(bare, wrapped);
  return [
    { name, value: round(added), unit: 'ns/call added', baseline, baselineValue: round(b), ratio: Math.round((added / b) * 10000) / 10000 },
    { name: baseline, value: round(b), unit: 'ns/op' },
  ];
}
