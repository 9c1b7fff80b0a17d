import { describe, expect, it } from 'vitest';
import { SecretKeys } from '../logger.ts';
import { Aggregator } from '../metrics/aggregator.ts';
import { CARDINALITY_DEFAULTS } from '../metrics/cardinality.ts';
import { PriceBook } from '../pricing/price-book.ts';
import { PriceCache } from '../pricing/price-cache.ts';
import type { PricedRecord, RecordSink, SinkAnswer } from '../record-sink.ts';
import { RecordPipeline } from './pipeline.ts';

/** A pipeline over `sinks`, its internal errors counted by a real aggregator (as the monitor wires it). */
function pipelineOf(sinks: RecordSink[]) {
  const agg = new Aggregator({ semconv: false, labels: {}, cardinality: { ...CARDINALITY_DEFAULTS }, onCap: () => {} });
  const logged: string[] = [];
  const pipeline = new RecordPipeline({
    sinks,
    prices: new PriceCache(new PriceBook()),
    hooks: {
      internalError: (component, error) => {
        agg.internalError(component);
        logged.push(`${component}: ${(error as Error).message}`);
      },
      warnOnce: () => {},
    },
    keyIdOf: (k) => `id-${k.length}`,
    secrets: new SecretKeys(),
  });
  return { pipeline, agg, logged };
}

/** A sink that keeps what it is given, in a shared log of calls. */
function keeper(name: string, calls: [string, PricedRecord][], answer?: (a: SinkAnswer) => void): RecordSink {
  return {
    name,
    accept(r, a) {
      calls.push([name, r]);
      answer?.(a);
    },
  };
}

const call = { provider: 'openai', model: 'gpt-4o', inputTokens: 1000, outputTokens: 100 };

describe('RecordPipeline', () => {
  it('hands every sink the same priced record, in order, frozen when a sink keeps it', () => {
    const calls: [string, PricedRecord][] = [];
    const { pipeline } = pipelineOf([keeper('a', calls), { ...keeper('b', calls), keeps: true }, keeper('c', calls)]);
    const r = pipeline.record(call, undefined);
    expect(calls.map(([name]) => name)).toEqual(['a', 'b', 'c']);
    const [[, first]] = calls as [[string, PricedRecord]];
    for (const [, rec] of calls) expect(rec).toBe(first);
    expect(r.record).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    // gpt-4o: $2.50 / $10 per 1M tokens.
    expect(first.costPicoUsd).toBe(3_500_000_000);
    expect(r.costUsd).toBeCloseTo(0.0035, 12);
    expect(() => {
      (first as { inputTokens: number }).inputTokens = 1;
    }).toThrow(TypeError);
    // Without a sink that keeps records, none is frozen (read-only by type): a freeze costs more than the metrics path.
    const { pipeline: light } = pipelineOf([keeper('a', [])]);
    expect(Object.isFrozen(light.record(call, undefined).record)).toBe(false);
  });

  it('splits each priced record’s cost into its input and output sides; a cost the caller gave, or none, has no split', () => {
    const { pipeline } = pipelineOf([]);
    // gpt-4o: 1,000 in × $2.50 = $0.0025, 100 out × $10 = $0.001.
    const priced = pipeline.record(call, undefined).record;
    expect({ input: priced?.inputCostUsd, output: priced?.outputCostUsd, cost: priced?.costUsd }).toEqual({
      input: 0.0025,
      output: 0.001,
      cost: 0.0035,
    });
    const given = pipeline.record({ ...call, costUsd: 0.02 }, undefined).record;
    expect({ input: given?.inputCostUsd, output: given?.outputCostUsd, cost: given?.costUsd }).toEqual({
      input: null,
      output: null,
      cost: 0.02,
    });
    // The split of the call before does not carry over to a call whose cost is unknown.
    const unpriced = pipeline.record({ provider: 'openai', model: 'no-such-model', inputTokens: 5, outputTokens: 1 }, undefined).record;
    expect({ input: unpriced?.inputCostUsd, output: unpriced?.outputCostUsd, cost: unpriced?.costUsd }).toEqual({
      input: null,
      output: null,
      cost: null,
    });
  });

  it('counts and logs a sink that throws under its name; the sinks after it still get the record', () => {
    const calls: [string, PricedRecord][] = [];
    const boom: RecordSink = {
      name: 'boom',
      accept() {
        throw new Error('disk on fire');
      },
    };
    const { pipeline, agg, logged } = pipelineOf([keeper('a', calls), boom, keeper('c', calls)]);
    const r = pipeline.record(call, undefined);
    pipeline.record(call, undefined);
    expect(calls.map(([name]) => name)).toEqual(['a', 'c', 'a', 'c']);
    expect(agg.internalErrors.get('boom')).toBe(2);
    expect(logged[0]).toBe('boom: disk on fire');
    // The record is still recorded, and its result whole.
    expect(r).toMatchObject({ logged: true, usageSummary: { provider: 'openai', requests: 1 } });
  });

  it("gives back what sinks answer: the ledger's logged, the budgets' alerts", () => {
    const calls: [string, PricedRecord][] = [];
    const alert = { level: 'warning' };
    const { pipeline } = pipelineOf([
      keeper('budgets', calls, (a) => {
        a.alerts = [alert];
      }),
      keeper('ledger', calls, (a) => {
        a.logged = false;
      }),
    ]);
    expect(pipeline.record(call, undefined)).toMatchObject({ logged: false, alerts: [alert] });
  });

  it('validates once: recordValidated records what validate returned, never checking it again', () => {
    const calls: [string, PricedRecord][] = [];
    const { pipeline } = pipelineOf([keeper('a', calls)]);
    // Every read of a field is counted: one validation reads each field a fixed number of times.
    let reads = 0;
    const counted = {
      provider: 'openai',
      model: 'gpt-4o',
      get inputTokens() {
        reads++;
        return 10;
      },
    };
    const u = pipeline.validate(counted, undefined);
    const once = reads;
    expect(once).toBeGreaterThan(0);
    pipeline.recordValidated(u);
    expect(reads).toBe(once);
    expect(calls).toHaveLength(1);
    expect(() => pipeline.recordValidated(u)).toThrow(/validate\(\)/);
  });

  it('meters a call as record() records it, building no result: same record to each sink, totals, answers reset per call', () => {
    const calls: [string, PricedRecord][] = [];
    let n = 0;
    const { pipeline } = pipelineOf([
      keeper('a', calls, (a) => {
        // A sink sees a fresh answer each call, even though meter() reuses one.
        expect(a).toEqual({ logged: true, alerts: [] });
        a.alerts = [`alert ${++n}`];
      }),
      { ...keeper('ledger', calls), keeps: true },
    ]);
    expect(pipeline.meter(call, undefined)).toBeUndefined();
    pipeline.meter({ ...call, userId: 'u1' }, { agent: 'planner' });
    expect(calls.map(([name]) => name)).toEqual(['a', 'ledger', 'a', 'ledger']);
    const [, second] = calls[2] as [string, PricedRecord];
    expect(second).toMatchObject({ userId: 'u1', agent: 'planner', costPicoUsd: 3_500_000_000 });
    expect(Object.isFrozen(second)).toBe(true);
    // Counted in the running totals as record() counts.
    expect(pipeline.summary('openai')).toMatchObject({ requests: 2, inputTokens: 2000, outputTokens: 200, costUsd: 0.007 });
    expect(() => pipeline.meter({ ...call, inputTokens: -1 }, undefined)).toThrow(/inputTokens/);
    pipeline.close();
    pipeline.meter(call, undefined);
    expect(calls).toHaveLength(4);
  });

  it('keeps an unknown count out of the running totals: null when no record reported it, a lower bound saying how many did not', () => {
    const { pipeline } = pipelineOf([]);
    pipeline.record({ provider: 'voyage', model: 'voyage-3', serviceType: 'embedding' }, undefined);
    expect(pipeline.summary('voyage')).toMatchObject({ requests: 1, inputTokens: null, outputTokens: null, totalTokens: null });
    pipeline.record({ provider: 'voyage', model: 'voyage-3', serviceType: 'embedding', inputTokens: 40 }, undefined);
    const s = pipeline.summary('voyage');
    expect(s).toMatchObject({ requests: 2, inputTokens: 40, outputTokens: null, totalTokens: 40 });
    expect(s.unreported).toEqual({ inputTokens: 1, outputTokens: 2, cachedInputTokens: 2, totalTokens: 1 });
    // A provider with no records has nothing unknown: zeros.
    expect(pipeline.summary('openai')).toMatchObject({ requests: 0, inputTokens: 0, unreported: { inputTokens: 0 } });
  });
});
