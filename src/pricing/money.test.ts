import { describe, expect, it } from 'vitest';
import { bigPicoToUsd } from '../ledger/rollup.ts';
import { CostSum, formatPico, perMillionToPico } from './money.ts';
import { costPico, PriceBook } from './price-book.ts';

// A deterministic generator, so the month is the same on every run.
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** USD-per-million decimal string → exact picodollars per token, without floats. */
function exactRate(perMillion: string): bigint {
  const [w, f = ''] = perMillion.split('.');
  return BigInt(w as string) * 1_000_000n + BigInt(f.padEnd(6, '0').slice(0, 6));
}

describe('money', () => {
  it('turns float prices into exact picodollars per token', () => {
    expect(perMillionToPico(2.5)).toBe(2_500_000);
    expect(perMillionToPico(0.075)).toBe(75_000);
    expect(perMillionToPico(0.0375)).toBe(37_500);
    // 1,000 gpt-4o input tokens, 200 of them cached: genai-prices' floats give 0.0022500000000000003.
    expect((800 * 2.5) / 1e6 + (200 * 1.25) / 1e6).not.toBe(0.00225);
    expect(800 * perMillionToPico(2.5) + 200 * perMillionToPico(1.25)).toBe(2_250_000_000);
  });

  it('adds a month of records up to the cent, exactly', () => {
    // 30 days × 40,000 calls over five models: 1.2 million records.
    const models = [
      { provider: 'openai', model: 'gpt-4o', input: '2.5', cached: '1.25', output: '10' },
      { provider: 'openai', model: 'gpt-4o-mini', input: '0.15', cached: '0.075', output: '0.6' },
      { provider: 'anthropic', model: 'claude-sonnet-4-5', input: '3', cached: '0.3', output: '15' },
      { provider: 'gemini', model: 'gemini-2.0-flash', input: '0.1', cached: '0.025', output: '0.4' },
      { provider: 'cohere', model: 'command-r7b', input: '0.0375', cached: '0.0375', output: '0.15' },
    ];
    const book = new PriceBook();
    const prices = models.map((m) => book.resolve(m.provider, m.model)!);
    const next = rng(42);
    const sum = new CostSum();
    let exact = 0n;
    let naive = 0;
    for (let i = 0; i < 1_200_000; i++) {
      const k = Math.floor(next() * models.length);
      const m = models[k]!;
      const input = 1 + Math.floor(next() * 20000);
      const cached = Math.floor(next() * input * 0.5);
      const output = Math.floor(next() * 2000);
      const c = costPico(prices[k]!, {
        inputTokens: input,
        cachedInputTokens: cached,
        outputTokens: output,
        cacheWriteTokens: null,
        totalTokens: null,
        searchUnits: null,
        error: false,
      })!;
      sum.add(c);
      naive += c / 1e12;
      exact += BigInt(input - cached) * exactRate(m.input) + BigInt(cached) * exactRate(m.cached) + BigInt(output) * exactRate(m.output);
    }
    expect(sum.toPicoBigInt()).toBe(exact);
    expect(sum.toDecimalString()).toBe(formatPico(exact));
    expect(sum.toCents()).toBe((exact + 5_000_000_000n) / 10_000_000_000n);
    // Summing floats instead drifts away from the exact figure.
    expect(naive).not.toBe(Number(exact) / 1e12);
  }, 60_000); // 1.2 million records: seconds on a busy machine; what is checked is the sum, not the time.

  it('carries picodollars into microdollars without loss', () => {
    const s = new CostSum();
    for (let i = 0; i < 3; i++) s.add(999_999);
    expect(s.micro).toBe(2);
    expect(s.pico).toBe(999_997);
    const t = new CostSum();
    t.add(2 ** 52);
    t.addSum(s);
    expect(t.toPicoBigInt()).toBe(2n ** 52n + 2_999_997n);
    expect(formatPico(12_345_000_000_000n)).toBe('12.345000000000');
  });

  it('gives sums as the double nearest the exact decimal, so JSON shows no float noise', () => {
    const s = new CostSum();
    s.add(1_000_007_000_001); // $1.000007000001: 1,000,007 micro and 1 pico
    expect(JSON.stringify({ costUsd: s.usd })).toBe('{"costUsd":1.000007000001}');
    expect(JSON.stringify({ costUsd: bigPicoToUsd(1_421_550_000_000n) })).toBe('{"costUsd":1.42155}');
    expect(bigPicoToUsd(-2_500_000_000n)).toBe(-0.0025);
  });

  it('gives the same usd below and above 2^53 picodollars as the exact decimal does', () => {
    let seed = 7;
    const next = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed;
    };
    const s = new CostSum();
    // Small costs, then sums crossing 2^53 pico (about $9,007), where the sum needs the exact path.
    for (let i = 0; i < 20_000; i++) {
      s.add(i < 10_000 ? next() % 5_000_000 : next() * 1_000_000 + (next() % 1_000_000));
      expect(s.usd).toBe(Number(s.toDecimalString()));
    }
    expect(s.toPicoBigInt() > 2n ** 53n).toBe(true);
  });
});
