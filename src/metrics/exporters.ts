import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Histogram as ApiHistogram, type MeterProvider as ApiMeterProvider, metrics, ValueType } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { MeterProvider, PushMetricExporter } from '@opentelemetry/sdk-metrics';
import type { Env } from '../logger.ts';
import type { ValidUsage } from '../usage.ts';
import type { Aggregator } from './aggregator.ts';
import { serveExposition } from './exposition.ts';
import { DESCRIPTION, INSTRUMENT, LABEL, OPERATION_DURATION_BUCKETS, TOKEN_TYPES, TOKEN_USAGE_BUCKETS } from './names.ts';
import { SCOPE, TokenmeterMetricProducer } from './producer.ts';
import { metricsResource, type ResourceOptions } from './resource.ts';
import { exportsTokens, type Series } from './series.ts';
import { DeltaConverter, sendsDelta, type TemporalityPreference, temporalityPreference } from './temporality.ts';

/** Where the Prometheus endpoint listens. */
export interface PrometheusOptions {
  /** @default $TOKENMETER_METRICS_HOST or '127.0.0.1' */
  host?: string;
  /** 0 lets the OS choose (see `monitor.metricsUrl`). @default $TOKENMETER_METRICS_PORT or 9464 */
  port?: number;
  /** @default '/metrics' */
  endpoint?: string;
  /** Start the endpoint's own server; false leaves serving to you (`monitor.handleMetrics(req, res)`, as `tokenmeter serve` does). @default true */
  serve?: boolean;
}

/** OTLP over HTTP to a Collector (or any OTLP receiver). */
export interface OtlpOptions {
  /** @default $OTEL_EXPORTER_OTLP_METRICS_ENDPOINT, else http://localhost:4318/v1/metrics */
  url?: string;
  headers?: Record<string, string>;
  /** @default 60000 */
  intervalMs?: number;
  /**
   * Cumulative totals (what Prometheus and the Collector's Prometheus exporters want) or deltas
   * since the last export (`delta`, `lowmemory`: for backends that ask for deltas).
   * @default $OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE, else 'cumulative'
   */
  temporality?: TemporalityPreference;
}

/** Where metrics go, and who they say reports them. */
export interface ExportOptions extends ResourceOptions {
  /** The built-in Prometheus endpoint; `false` turns it off. @default on, 127.0.0.1:9464/metrics */
  prometheus?: PrometheusOptions | false;
  /** Push OTLP over HTTP as well. @default off */
  otlp?: OtlpOptions;
  /**
   * Report through your own MeterProvider (or `'global'`, the one your NodeSDK registered) instead
   * of starting one; tokenmeter then starts no endpoint of its own. Counters are observable and
   * read tokenmeter's aggregates; the GenAI histograms are recorded per call.
   */
  meterProvider?: ApiMeterProvider | 'global';
}

export interface ExportHooks {
  log: (message: string) => void;
  info: (message: string) => void;
  internalError: (component: string) => void;
}

function envPort(env: Env): number {
  const raw = env.TOKENMETER_METRICS_PORT;
  const n = raw === undefined || raw === '' ? 9464 : Number(raw);
  return Number.isInteger(n) && n >= 0 && n < 65536 ? n : 9464;
}

/** Runs the exporters for one monitor. */
export class MetricsExport {
  readonly producer: TokenmeterMetricProducer;
  /** service.name, service.instance.id and the rest: on target_info and on every OTLP export (not used with `meterProvider`, whose own resource is). */
  readonly resource: Resource;
  readonly #agg: Aggregator;
  readonly #hooks: ExportHooks;
  #server: Server | undefined;
  #listening: Promise<void> = Promise.resolve();
  #endpoint = '/metrics';
  /** True when the Prometheus endpoint (own server or handleMetrics) is on. */
  #prometheus = false;
  #otlpReady: Promise<void> = Promise.resolve();
  #otlpProvider: MeterProvider | undefined;
  /** Called after each call is aggregated (attach mode: records the GenAI histograms). */
  sink: ((s: Series, u: ValidUsage) => void) | undefined;
  #closed = false;

  constructor(agg: Aggregator, options: ExportOptions, hooks: ExportHooks, env: Env = process.env) {
    this.resource = metricsResource(options, env, hooks.log);
    this.producer = new TokenmeterMetricProducer(agg, this.resource);
    this.#agg = agg;
    this.#hooks = hooks;
    if (options.meterProvider !== undefined) {
      const mp = options.meterProvider === 'global' ? metrics.getMeterProvider() : options.meterProvider;
      this.sink = attach(mp, agg);
      return;
    }
    if (options.prometheus !== false) {
      const p = options.prometheus ?? {};
      // Served by exposition.ts straight from the aggregates (no scope labels: they would put
      // tokenmeter's version on every series, breaking them on upgrade).
      this.#prometheus = true;
      this.#endpoint = p.endpoint ?? '/metrics';
      if (p.serve !== false) this.#serve(p.host ?? env.TOKENMETER_METRICS_HOST ?? '127.0.0.1', p.port ?? envPort(env), hooks);
    }
    if (options.otlp !== undefined) this.#otlpReady = this.#startOtlp(options.otlp, hooks, env);
  }

  async #startOtlp(o: OtlpOptions, hooks: ExportHooks, env: Env): Promise<void> {
    try {
      // Loaded only when asked for, so users of the Prometheus endpoint never load it (nor the SDK).
      const { OTLPMetricExporter, AggregationTemporalityPreference: P } = await import('@opentelemetry/exporter-metrics-otlp-http');
      const { MeterProvider, PeriodicExportingMetricReader } = await import('@opentelemetry/sdk-metrics');
      const PREFERENCE = { cumulative: P.CUMULATIVE, delta: P.DELTA, lowmemory: P.LOWMEMORY } as const;
      const preference = temporalityPreference(o.temporality, env, hooks.log);
      // The producer's data is cumulative whatever the exporter prefers: deltas are made here.
      const delta = sendsDelta(preference) ? new DeltaConverter() : undefined;
      const exporter = new OTLPMetricExporter({
        ...(o.url === undefined ? {} : { url: o.url }),
        ...(o.headers === undefined ? {} : { headers: o.headers }),
        temporalityPreference: PREFERENCE[preference],
      });
      const url = o.url ?? '(the OTLP endpoint its environment sets)';
      // The SDK reports a failed export only to its diag logger, which is silent unless set up: a
      // refused push (a Collector's 413 past its max_request_body_size, a 400, a dead endpoint)
      // would lose that interval's data unseen. It is counted and logged here.
      const counted: PushMetricExporter = {
        export: (cumulative, done) => {
          const { metrics, rollback } = delta === undefined ? { metrics: cumulative, rollback: () => {} } : delta.convert(cumulative);
          exporter.export(metrics, (result) => {
            if (result.code !== ExportResultCode.SUCCESS) {
              rollback();
              hooks.internalError('otlp');
              hooks.log(
                `OTLP export to ${url} failed: ${result.error?.message ?? 'unknown error'} (it is sent again at the next interval)`,
              );
            }
            done(result);
          });
        },
        forceFlush: () => exporter.forceFlush(),
        shutdown: () => exporter.shutdown(),
        selectAggregationTemporality: (kind) => exporter.selectAggregationTemporality(kind),
      };
      const reader = new PeriodicExportingMetricReader({
        exporter: counted,
        exportIntervalMillis: o.intervalMs ?? 60_000,
        metricProducers: [this.producer],
      });
      // Loaded after the Prometheus reader's provider was built, so it gets a provider of its own.
      this.#otlpProvider = new MeterProvider({ readers: [reader], resource: this.resource });
    } catch (error) {
      hooks.internalError('otlp');
      hooks.log(`OTLP exporter could not start: ${(error as Error).message}`);
    }
  }

  #serve(host: string, port: number, hooks: ExportHooks): void {
    const endpoint = this.#endpoint;
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (path === endpoint && (req.method === 'GET' || req.method === 'HEAD')) {
        this.#scrape(req, res);
        return;
      }
      res.statusCode = 404;
      res.setHeader('content-type', 'text/plain');
      res.end(`Not found: tokenmeter serves metrics at ${endpoint}\n`);
    });
    this.#server = server;
    this.#listening = new Promise<void>((resolve) => {
      server.once('listening', () => {
        hooks.info(`Prometheus endpoint listening on ${this.url}`);
        resolve();
      });
      server.once('error', (error) => {
        hooks.internalError('prometheus_endpoint');
        hooks.log(
          `Prometheus endpoint could not listen on ${host}:${port}: ${error.message} (set metrics.prometheus.port, or false to turn it off)`,
        );
        resolve();
      });
    });
    server.listen(port, host);
    // The endpoint must not keep the user's process alive.
    server.unref();
  }

  /** Answers a scrape with the Prometheus exposition; false when Prometheus export is off. */
  handleMetrics(req: IncomingMessage, res: ServerResponse): boolean {
    if (!this.#prometheus) return false;
    this.#scrape(req, res);
    return true;
  }

  #scrape(req: IncomingMessage, res: ServerResponse): void {
    serveExposition(this.#agg, req, res, this.resource, (error) => {
      this.#hooks.internalError('collect');
      this.#hooks.log(`metrics scrape failed part way (the scrape is reported failed): ${(error as Error)?.message ?? String(error)}`);
    });
  }

  /** Resolves once the endpoint listens (or failed to, which is logged) and OTLP has loaded. */
  async ready(): Promise<void> {
    await Promise.all([this.#listening, this.#otlpReady]);
  }

  /** The endpoint's URL, once listening; undefined when it is off or failed. */
  get url(): string | undefined {
    const addr = this.#server?.listening ? (this.#server.address() as AddressInfo | null) : null;
    if (!addr) return undefined;
    const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    return `http://${host}:${addr.port}${this.#endpoint}`;
  }

  /** Pushes OTLP now (and flushes any extra readers). */
  async forceFlush(): Promise<void> {
    await this.#otlpReady;
    await this.#otlpProvider?.forceFlush();
  }

  /** Stops the endpoint and readers; safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#otlpReady;
    const server = this.#server;
    await Promise.all([
      server === undefined ? undefined : new Promise<void>((resolve) => server.close(() => resolve())),
      this.#otlpProvider?.shutdown().catch(() => undefined),
    ]);
  }
}

/**
 * Reports through a user's MeterProvider: observable counters read the aggregates at collection
 * time; the GenAI histograms are recorded per call (the API has no observable histogram).
 */
function attach(mp: ApiMeterProvider, agg: Aggregator): ((s: Series, u: ValidUsage) => void) | undefined {
  const meter = mp.getMeter(SCOPE.name, SCOPE.version);
  const tokens = meter.createObservableCounter(INSTRUMENT.tokens, { description: DESCRIPTION.tokens, valueType: ValueType.INT });
  const cost = meter.createObservableCounter(INSTRUMENT.cost, { description: DESCRIPTION.cost, valueType: ValueType.DOUBLE });
  const requests = meter.createObservableCounter(INSTRUMENT.requests, { description: DESCRIPTION.requests, valueType: ValueType.INT });
  const unpriced = meter.createObservableCounter(INSTRUMENT.unpriced, { description: DESCRIPTION.unpriced, valueType: ValueType.INT });
  const internal = meter.createObservableCounter(INSTRUMENT.internalErrors, {
    description: DESCRIPTION.internalErrors,
    valueType: ValueType.INT,
  });
  meter.addBatchObservableCallback(
    (result) => {
      for (const s of agg.ownSeries()) {
        for (let i = 0; i < TOKEN_TYPES.length; i++) {
          const v = s.tokens[i] as number;
          if (exportsTokens(s, i, v)) result.observe(tokens, v, s.tokenAttributes[i]);
        }
        result.observe(cost, s.costUsd, s.attributes);
        if (s.ok > 0) result.observe(requests, s.ok, s.statusAttributes[0]);
        if (s.errors > 0) result.observe(requests, s.errors, s.statusAttributes[1]);
        if (s.unpriced > 0) result.observe(unpriced, s.unpriced, s.attributes);
      }
      for (const [component, n] of agg.internalErrors) result.observe(internal, n, { [LABEL.component]: component });
    },
    [tokens, cost, requests, unpriced, internal],
  );
  const gauges = [
    ['limit', INSTRUMENT.budgetLimit, DESCRIPTION.budgetLimit],
    ['used', INSTRUMENT.budgetUsed, DESCRIPTION.budgetUsed],
    ['warning', INSTRUMENT.budgetWarningRatio, DESCRIPTION.budgetWarningRatio],
    ['critical', INSTRUMENT.budgetCriticalRatio, DESCRIPTION.budgetCriticalRatio],
    ['windowEnd', INSTRUMENT.budgetWindowEnd, DESCRIPTION.budgetWindowEnd],
  ] as const;
  const observables = gauges.map(([, name, description]) => meter.createObservableGauge(name, { description }));
  meter.addBatchObservableCallback((result) => {
    for (const { gauge: g } of agg.uniqueBudgetGauges()) {
      gauges.forEach(([field], i) => {
        const v = g[field];
        if (v !== null) result.observe(observables[i] as (typeof observables)[number], v, g.attributes);
      });
    }
  }, observables);
  if (!agg.semconv) return undefined;
  const usage: ApiHistogram = meter.createHistogram(INSTRUMENT.tokenUsage, {
    description: DESCRIPTION.tokenUsage,
    unit: '{token}',
    valueType: ValueType.INT,
    advice: { explicitBucketBoundaries: [...TOKEN_USAGE_BUCKETS] },
  });
  const duration: ApiHistogram = meter.createHistogram(INSTRUMENT.operationDuration, {
    description: DESCRIPTION.operationDuration,
    unit: 's',
    advice: { explicitBucketBoundaries: [...OPERATION_DURATION_BUCKETS] },
  });
  return (s, u) => {
    const g = s.genai;
    if (g === null) return;
    if (u.inputTokens !== null) usage.record(u.inputTokens, g.input.attributes);
    if (u.outputTokens !== null) usage.record(u.outputTokens, g.output.attributes);
    if (u.durationMs !== null) {
      // A failure whose error type is past the cap is recorded under `_other`, as the aggregate has it
      // (errorHist folds it, whether or not the aggregate has seen this call yet).
      const h = u.error ? g.errorHist(u.errorType ?? 'error') : g.duration;
      duration.record(u.durationMs / 1000, h.attributes);
    }
  };
}
