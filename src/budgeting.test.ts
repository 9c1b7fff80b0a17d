import { describe, expect, it } from 'vitest';
import { isBudgetExceededError } from './errors.ts';
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
  it("reserves the request's text at about four characters a token plus its max_tokens at the model's price", () => {
    const m = monitor(0.0051);
    // 400 characters ≈ 100 input tokens ($0.00025) + 480 output tokens ($0.0048) = $0.00505: fits.
    expect(admitError(m, { model: 'gpt-4o', max_tokens: 480, messages: [{ role: 'user', content: 'x'.repeat(400) }] })).toBeUndefined();
    // 520 output tokens ($0.0052) does not.
    const e = admitError(m, { model: 'gpt-4o', max_tokens: 520, messages: [{ role: 'user', content: 'x'.repeat(400) }] });
    expect(isBudgetExceededError(e)).toBe(true);
    // Other providers' names for the output bound are read too.
    expect(isBudgetExceededError(admitError(m, { model: 'gpt-4o', max_completion_tokens: 520, messages: [] }))).toBe(true);
    expect(isBudgetExceededError(admitError(m, { model: 'gpt-4o', config: { maxOutputTokens: 520 }, contents: 'hi' }))).toBe(true);
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
