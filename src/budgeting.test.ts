import { describe, expect, it } from 'vitest';
import { isBudgetExceededError, isValidationError } from './errors.ts';
import { estimateInputTokens } from './instrument/hold-estimate.ts';
import { TokenMonitor } from './monitor.ts';

function monitor(limit: number) {
  return new TokenMonitor({
    loadConfig: false,
    ledger: false,
    metrics: false,
    budgets: [{ scope: 'global', limit, enforce: true }],
  });
}

const admitError = (m: TokenMonitor, body: unknown) => {
  try {
    m.settle(m.admit('openai', body, undefined, undefined));
    return undefined;
  } catch (e) {
    return e;
  }
};

describe('enforcement estimates', () => {
  // gpt-4o: $2.50 per 1M input tokens, $10 per 1M output tokens.
  it("reserves the request's estimated input plus its max_tokens at the model's price", () => {
    const body = (maxTokens: number) => ({
      model: 'gpt-4o',
      max_tokens: maxTokens,
      messages: [{ role: 'user', content: 'Summarise the attached quarterly report in three short bullet points. '.repeat(6) }],
    });
    const input = estimateInputTokens('openai', 'gpt-4o', body(0));
    // Exactly the hold of 480 output tokens fits; one more output token does not.
    const m = monitor((input * 2.5 + 480 * 10) / 1e6);
    expect(admitError(m, body(480))).toBeUndefined();
    expect(isBudgetExceededError(admitError(m, body(481)))).toBe(true);
    // Other providers' names for the output bound are read too.
    const small = monitor(0.0051);
    expect(isBudgetExceededError(admitError(small, { model: 'gpt-4o', max_completion_tokens: 520, messages: [] }))).toBe(true);
    expect(isBudgetExceededError(admitError(small, { model: 'gpt-4o', config: { maxOutputTokens: 520 }, contents: 'hi' }))).toBe(true);
    expect(isBudgetExceededError(admitError(small, { model: 'gpt-4o', max_gen_len: 520, prompt: 'hi' }))).toBe(true);
  });

  it("says a budget at 90% refuses a call because the call's estimate would take it past the limit, not that it is spent", () => {
    const m = monitor(1);
    // $0.90 of $1 spent: 90%, not spent.
    m.record({ provider: 'openai', model: 'gpt-4o', inputTokens: 360_000, outputTokens: 0 });
    const body = { model: 'gpt-4o', max_tokens: 20_000, messages: [{ role: 'user', content: 'hi' }] };
    const e = admitError(m, body) as Error & { used: number; limit: number; estimate: number };
    expect(isBudgetExceededError(e)).toBe(true);
    expect(e.used).toBeCloseTo(0.9, 12);
    // 20,000 output tokens at $10 per 1M, plus the few input tokens.
    expect(e.estimate).toBeGreaterThan(0.2);
    expect(e.estimate).toBeLessThan(0.201);
    expect(e.message).not.toMatch(/is spent/);
    expect(e.message).toMatch(
      /^monthly usd budget of global all has no room for the openai gpt-4o call: \$0\.9000 used, plus its estimate of \$0\.20\d\d, would take it past its limit of \$1\.0000; the openai gpt-4o call was not sent$/,
    );
    // Once it is spent, it says so.
    m.record({ provider: 'openai', model: 'gpt-4o', inputTokens: 40_000, outputTokens: 0 });
    expect((admitError(m, body) as Error).message).toMatch(/^monthly usd budget of global all is spent: \$1\.0000 used of \$1\.0000;/);
  });

  it('does not count an inline image as text', () => {
    const m = monitor(0.02);
    const image = `data:image/png;base64,${'iVBORw0KGgo'.repeat(100_000)}`;
    const raw = 'iVBORw0KGgo'.repeat(100_000);
    const body = (url: string) => ({
      model: 'gpt-4o',
      max_tokens: 100,
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is in this picture?' },
            { type: 'image_url', image_url: { url } },
          ],
        },
      ],
    });
    expect(admitError(m, body(image))).toBeUndefined();
    expect(admitError(m, body(raw))).toBeUndefined();
  });
});

describe('a budget set in code', () => {
  const refusal = (cycle: unknown) => {
    try {
      new TokenMonitor({
        loadConfig: false,
        ledger: false,
        metrics: false,
        budgets: [{ scope: 'global', limit: 100, unit: 'tokens', cycle: cycle as never }],
      });
      return undefined;
    } catch (e) {
      return isValidationError(e) ? [e.field, e.value] : e;
    }
  };

  it('is refused with the cycle field named when its cycle cannot make a window', () => {
    expect(refusal({ kind: 'monthly' })).toEqual(['budget.cycle.resetDay', undefined]);
    expect(refusal({ kind: 'monthly', resetDay: 31 })).toEqual(['budget.cycle.resetDay', 31]);
    expect(refusal({ kind: 'rolling', days: 0 })).toEqual(['budget.cycle.days', 0]);
    expect(refusal({ kind: 'weekly' })).toEqual(['budget.cycle.kind', 'weekly']);
    expect(refusal({ kind: 'monthly', resetDay: 15 })).toBeUndefined();
    expect(refusal({ kind: 'rolling', days: 7 })).toBeUndefined();
  });
});
