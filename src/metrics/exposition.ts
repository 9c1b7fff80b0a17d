/**
 * The Prometheus text exposition of the aggregates, written straight from them in chunks.
 *
 * @opentelemetry/exporter-prometheus builds the whole page as one string from per-point attribute
 * objects, escaping and sanitising every label of every sample anew: about 10 µs a sample, the page
 * held several times over in memory (30,000 label sets: a 285 MB page, 21 s, 3.9 GB RSS; past some
 * 50,000 the string outgrows V8's limit and the process dies). Here each series keeps its labels as
 * exposition text, made once when the series is, and a scrape only joins those with the numbers,
 * handing the socket about 64 KB at a time and waiting for it to drain: time linear in the samples,
 * memory one chunk. The output is what exporter-prometheus writes for the same data (exposition.test.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Attributes } from '@opentelemetry/api';
import { defaultResource, type Resource } from '@opentelemetry/resources';
import type { Aggregator } from './aggregator.ts';
import { DESCRIPTION, LABEL, METRIC, TOKEN_TYPES } from './names.ts';
import { exportsTokens, type Hist, labelsText, labelText } from './series.ts';

type GenAi = ReturnType<Aggregator['genAiSeries']>[number];

/** The text format's content type (https://prometheus.io/docs/instrumenting/exposition_formats/). */
export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Characters gathered before a chunk is handed to the socket. */
const CHUNK = 64 * 1024;

function num(v: number): string {
  return v === Number.POSITIVE_INFINITY ? '+Inf' : v === Number.NEGATIVE_INFINITY ? '-Inf' : `${v}`;
}

function escapeHelp(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function header(name: string, help: string, type: string, unit = ''): string {
  return `# HELP ${name} ${escapeHelp(help)}\n${unit === '' ? '' : `# UNIT ${name} ${unit}\n`}# TYPE ${name} ${type}\n`;
}

const TOKEN_LABELS = TOKEN_TYPES.map((t) => `,${labelText(LABEL.tokenType, t)}`);
const STATUS_OK = `,${labelText(LABEL.status, 'ok')}`;
const STATUS_ERROR = `,${labelText(LABEL.status, 'error')}`;

/** `le` labels per boundary list, made once per list (the lists are the two shared constants). */
const leCache = new Map<readonly number[], string[]>();
function leLabels(boundaries: readonly number[]): string[] {
  let les = leCache.get(boundaries);
  if (les === undefined) {
    les = [...boundaries.map((b) => labelText('le', String(b))), labelText('le', '+Inf')];
    leCache.set(boundaries, les);
  }
  return les;
}

function histLines(name: string, h: Hist): string {
  const l = h.labels;
  const sep = l === '' ? '' : ',';
  let out = `${name}_count{${l}} ${num(h.count)}\n${name}_sum{${l}} ${num(h.sum)}\n`;
  const les = leLabels(h.boundaries);
  let cumulative = 0;
  for (let i = 0; i < h.counts.length; i++) {
    cumulative += h.counts[i] as number;
    out += `${name}_bucket{${l}${sep}${les[i]}} ${cumulative}\n`;
  }
  return out;
}

/**
 * Resource attributes as target_info's labels. Their names come from users (OTEL_RESOURCE_ATTRIBUTES,
 * metrics.resourceAttributes), and one invalid or repeated label name fails the whole scrape: as
 * OpenTelemetry's Prometheus compatibility spec says, a name starting with a digit gets `key_` in
 * front, and the values of names that become the same label are joined with `;` in key order.
 */
function targetLabels(attributes: Attributes): Record<string, string> {
  const byLabel = new Map<string, [key: string, value: string][]>();
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined) continue;
    let label = key.replace(/[^a-zA-Z0-9_]/g, '_').replace(/_{2,}/g, '_');
    if (/^[0-9]/.test(label)) label = `key_${label}`;
    byLabel.set(label, [...(byLabel.get(label) ?? []), [key, String(value)]]);
  }
  const out: Record<string, string> = {};
  for (const [label, values] of byLabel) {
    out[label] = values
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, v]) => v)
      .join(';');
  }
  return out;
}

const targetInfo = new WeakMap<Resource, string>();
/**
 * target_info from the monitor's resource (service.name, service.instance.id, telemetry.sdk.*),
 * as exporter-prometheus writes it: `* on (job, instance) group_left (service_instance_id) target_info`
 * joins it to the series Prometheus scraped from the same target.
 */
function target(resource: Resource): string {
  let text = targetInfo.get(resource);
  if (text === undefined) {
    text = `${header('target_info', 'Target metadata', 'gauge')}target_info{${labelsText(targetLabels(resource.attributes))}} 1\n`;
    targetInfo.set(resource, text);
  }
  return text;
}

/**
 * The exposition in chunks of about 64 KB. Each series' lines come from one synchronous read, so a
 * histogram's count, sum and buckets agree even when records arrive between chunks.
 */
export function* expositionChunks(agg: Aggregator, resource: Resource = defaultResource()): Generator<string, void, undefined> {
  let buf = target(resource);
  const own = agg.ownSeries();
  // One pass per family: Prometheus wants a family's samples together.
  const families: [name: string, help: string, lines: (i: number) => string][] = [
    [
      METRIC.tokens,
      DESCRIPTION.tokens,
      (i) => {
        const s = own[i];
        if (s === undefined) return '';
        let out = '';
        for (let t = 0; t < TOKEN_TYPES.length; t++) {
          const v = s.tokens[t] as number;
          if (exportsTokens(s, t, v)) out += `${METRIC.tokens}{${s.labels}${TOKEN_LABELS[t]}} ${num(v)}\n`;
        }
        return out;
      },
    ],
    [METRIC.cost, DESCRIPTION.cost, (i) => (own[i] === undefined ? '' : `${METRIC.cost}{${own[i].labels}} ${num(own[i].costUsd)}\n`)],
    [
      METRIC.requests,
      DESCRIPTION.requests,
      (i) => {
        const s = own[i];
        if (s === undefined) return '';
        return `${s.ok > 0 ? `${METRIC.requests}{${s.labels}${STATUS_OK}} ${s.ok}\n` : ''}${s.errors > 0 ? `${METRIC.requests}{${s.labels}${STATUS_ERROR}} ${s.errors}\n` : ''}`;
      },
    ],
    [
      METRIC.unpriced,
      DESCRIPTION.unpriced,
      (i) => (own[i] === undefined || own[i].unpriced === 0 ? '' : `${METRIC.unpriced}{${own[i].labels}} ${own[i].unpriced}\n`),
    ],
  ];
  for (const [name, help, lines] of families) {
    let started = false;
    for (let i = 0; i < own.length; i++) {
      const text = lines(i);
      if (text === '') continue;
      if (!started) {
        buf += header(name, help, 'counter');
        started = true;
      }
      buf += text;
      if (buf.length >= CHUNK) {
        yield buf;
        buf = '';
      }
    }
  }
  // Read before the internal errors, which count the gauges it leaves out.
  const gauges = agg.uniqueBudgetGauges();
  buf += header(METRIC.internalErrors, DESCRIPTION.internalErrors, 'counter');
  for (const [component, n] of agg.internalErrors) buf += `${METRIC.internalErrors}{${labelText(LABEL.component, component)}} ${n}\n`;

  if (gauges.length > 0) {
    for (const [name, help, field] of [
      [METRIC.budgetLimit, DESCRIPTION.budgetLimit, 'limit'],
      [METRIC.budgetUsed, DESCRIPTION.budgetUsed, 'used'],
      [METRIC.budgetWarningRatio, DESCRIPTION.budgetWarningRatio, 'warning'],
      [METRIC.budgetCriticalRatio, DESCRIPTION.budgetCriticalRatio, 'critical'],
      [METRIC.budgetWindowEnd, DESCRIPTION.budgetWindowEnd, 'windowEnd'],
    ] as const) {
      let started = false;
      for (const { gauge, labels } of gauges) {
        const v = gauge[field];
        if (v === null) continue;
        if (!started) {
          buf += header(name, help, 'gauge');
          started = true;
        }
        buf += `${name}{${labels}} ${num(v)}\n`;
      }
    }
  }

  if (agg.semconv) {
    const genai = agg.genAiSeries();
    // One GenAI histogram family: the header before its first sample, then each series' histograms.
    const histograms = function* (name: string, help: string, unit: string, of: (g: GenAi) => Iterable<Hist>) {
      let started = false;
      for (const g of genai) {
        for (const h of of(g)) {
          if (h.count === 0) continue;
          if (!started) {
            buf += header(name, help, 'histogram', unit);
            started = true;
          }
          buf += histLines(name, h);
        }
        if (buf.length >= CHUNK) {
          yield buf;
          buf = '';
        }
      }
    };
    yield* histograms(METRIC.tokenUsage, DESCRIPTION.tokenUsage, '{token}', (g) => [g.input, g.output]);
    yield* histograms(METRIC.operationDuration, DESCRIPTION.operationDuration, 's', (g) =>
      g.errors === null ? [g.duration] : [g.duration, ...g.errors.values()],
    );
  }
  if (buf !== '') yield buf;
}

/**
 * Answers a scrape: the exposition, written as the socket takes it. A failure part way destroys the
 * response, so Prometheus records a failed scrape (up 0) rather than a page cut short.
 */
export function serveExposition(
  agg: Aggregator,
  req: IncomingMessage,
  res: ServerResponse,
  resource: Resource,
  onError: (error: unknown) => void,
): void {
  res.statusCode = 200;
  res.setHeader('content-type', CONTENT_TYPE);
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  const chunks = expositionChunks(agg, resource);
  let done = false;
  res.once('close', () => {
    if (!done) chunks.return(undefined);
  });
  const pump = (): void => {
    try {
      for (;;) {
        const next = chunks.next();
        if (next.done) {
          done = true;
          res.end();
          return;
        }
        if (!res.write(next.value)) {
          res.once('drain', pump);
          return;
        }
      }
    } catch (error) {
      done = true;
      onError(error);
      res.destroy(error as Error);
    }
  };
  pump();
}
