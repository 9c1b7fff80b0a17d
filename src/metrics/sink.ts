import type { PricedRecord, RecordSink } from '../record-sink.ts';
import type { Aggregator } from './aggregator.ts';
import type { Series } from './series.ts';

/**
 * Metrics as a sink of the recording pipeline: each record added to its label set's running
 * totals, then handed to the user's MeterProvider when metrics go there (attach mode). A failure
 * of that MeterProvider is reported apart (`export`): the call is still counted everywhere else.
 */
export class MetricsSink implements RecordSink {
  readonly name = 'metrics';
  readonly #agg: Aggregator;
  readonly #exporter: ((s: Series, r: PricedRecord) => void) | undefined;
  readonly #exportFailed: (error: unknown) => void;

  constructor(agg: Aggregator, exporter: ((s: Series, r: PricedRecord) => void) | undefined, exportFailed: (error: unknown) => void) {
    this.#agg = agg;
    this.#exporter = exporter;
    this.#exportFailed = exportFailed;
  }

  accept(r: PricedRecord): void {
    const s = this.#agg.seriesFor(r);
    this.#agg.add(s, r, r.costPicoUsd);
    if (this.#exporter !== undefined) {
      try {
        this.#exporter(s, r);
      } catch (error) {
        this.#exportFailed(error);
      }
    }
  }
}
