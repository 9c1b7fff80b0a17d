import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Provider, waitForUpdate } from '@pydantic/genai-prices';
import { beforeAll, describe, expect, it } from 'vitest';
import { isPricingError } from '../errors.ts';
import { GENAI_PRICES_PROVIDER, lookupGenaiPrice } from './genai-prices.ts';
import { PriceBook } from './price-book.ts';
import { loadPriceData, priceDataPath, readStoredPriceData, refreshPriceData } from './price-data.ts';
import type { PriceData, PriceDataOrigin } from './types.ts';

const DAY = 86_400_000;
let bundled: Provider[];

beforeAll(async () => {
  // The package's own bundled data, as its data file holds it.
  bundled = (await waitForUpdate()) as Provider[];
});

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'tm-prices-'));
}

/** The bundled data with gpt-4o's input price changed, as a refreshed file would carry it. */
function changedData(inputPerMillion: number): Provider[] {
  const data = structuredClone(bundled);
  const gpt4o = data.find((p) => p.id === 'openai')?.models.find((m) => m.id === 'gpt-4o');
  if (gpt4o === undefined || Array.isArray(gpt4o.prices)) throw new Error('bundled data changed shape: no flat gpt-4o price');
  gpt4o.prices.input_mtok = inputPerMillion;
  return data;
}

function refreshedOrigin(daysOld: number, now = Date.now()): PriceDataOrigin {
  const at = new Date(now - daysOld * DAY).toISOString();
  return {
    kind: 'refreshed',
    packageVersion: 'test',
    source: 'https://example.test/data.json',
    file: '/x/prices.json',
    fetchedAt: at,
    asOf: at,
  };
}

describe('prices from refreshed data', () => {
  it('are found as in the bundled data when the data is the same (every model, with fallbacks, Bedrock and LiteLLM names)', () => {
    const data: PriceData = { providers: bundled, origin: refreshedOrigin(0) };
    const at = new Date();
    const strip = (p: ReturnType<typeof lookupGenaiPrice>) =>
      p && { ...p, sourceDetail: p.sourceDetail.slice(p.sourceDetail.indexOf(': ')), data: undefined };
    // Our provider ids whose models live in several genai-prices providers (Azure falls back to OpenAI, Vertex AI to Anthropic).
    const ours = Object.keys(GENAI_PRICES_PROVIDER);
    let compared = 0;
    let priced = 0;
    for (const p of bundled) {
      for (const m of p.models) {
        const asked: [string, string][] = [
          [p.id, m.id],
          ['my-gateway', m.id],
        ];
        for (const id of ours)
          if (GENAI_PRICES_PROVIDER[id] === p.id || (id === 'azure_openai' && p.id === 'openai')) asked.push([id, m.id]);
        if (p.id === 'openai' || p.id === 'anthropic') asked.push(['litellm', `${p.id}/${m.id}`], ['vertex_ai', m.id]);
        for (const [provider, model] of asked) {
          const a = lookupGenaiPrice(provider, model, at);
          const b = lookupGenaiPrice(provider, model, at, data);
          expect(strip(b), `${provider} ${model}`).toEqual(strip(a));
          compared++;
          if (a !== undefined) priced++;
        }
      }
    }
    expect(compared).toBeGreaterThan(3000);
    expect(priced).toBeGreaterThan(2000);
  }, 60_000);

  it('apply the refreshed price, and say which data and date it came from', () => {
    const origin = refreshedOrigin(3);
    const book = new PriceBook({ data: { providers: changedData(1.23), origin } });
    const p = book.resolve('openai', 'gpt-4o-2024-08-06');
    expect(p?.input?.base).toBe(1_230_000);
    expect(p?.data).toEqual(origin);
    expect(p?.sourceDetail).toContain(
      `genai-prices data refreshed ${origin.fetchedAt?.slice(0, 10)} from https://example.test/data.json: openai/gpt-4o`,
    );
    // Azure's gpt-4o is OpenAI's (a fallback provider): it follows the refreshed data too.
    expect(book.resolve('azure_openai', 'gpt-4o')?.input?.base).toBe(1_230_000);
    const plain = new PriceBook().resolve('openai', 'gpt-4o');
    expect(plain?.input?.base).toBe(2_500_000);
    expect(plain?.data).toMatchObject({ kind: 'bundled', asOf: null });
  });
});

describe('the age warning', () => {
  it('comes once, when data older than the limit is first used, and again after a refresh to old data', () => {
    const warnings: string[] = [];
    const book = new PriceBook({ data: { providers: bundled, origin: refreshedOrigin(90) }, warn: (m) => warnings.push(m) });
    for (const model of ['gpt-4o', 'gpt-4o-mini', 'gpt-4o', 'claude-sonnet-4-0']) book.resolve('auto', model);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(
      /price data in use is 90 days old \(\/x\/prices\.json, fetched .* from https:\/\/example\.test\/data\.json\), older than price_data\.max_age_days \(60\)/,
    );
    book.setData({ providers: bundled, origin: refreshedOrigin(70) });
    book.resolve('openai', 'gpt-4o');
    book.resolve('openai', 'gpt-4o-mini');
    expect(warnings).toHaveLength(2);
  });

  it('follows the configured age, never comes for fresh data, and not for the bundled data, whose date is not known', () => {
    const warnings: string[] = [];
    const warn = (m: string) => warnings.push(m);
    new PriceBook({ data: { providers: bundled, origin: refreshedOrigin(30) }, warn }).resolve('openai', 'gpt-4o');
    new PriceBook({ data: { providers: bundled, origin: refreshedOrigin(90) }, warn, maxAgeDays: 120 }).resolve('openai', 'gpt-4o');
    new PriceBook({ warn, maxAgeDays: 1 }).resolve('openai', 'gpt-4o');
    expect(warnings).toEqual([]);
    new PriceBook({ data: { providers: bundled, origin: refreshedOrigin(30) }, warn, maxAgeDays: 20 }).resolve('openai', 'gpt-4o');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('30 days old');
  });

  it('reads the age from the clock it is given', () => {
    const warnings: string[] = [];
    const origin = refreshedOrigin(0, Date.UTC(2026, 0, 1));
    const book = new PriceBook({ data: { providers: bundled, origin }, warn: (m) => warnings.push(m), now: () => Date.UTC(2026, 3, 1) });
    book.resolve('openai', 'gpt-4o');
    expect(warnings[0]).toContain('90 days old');
  });
});

describe('refreshPriceData from a file', () => {
  const broken: [string, string, RegExp][] = [
    ['empty', '', /it is empty/],
    ['blank', ' \n', /it is empty/],
    ['HTML', '<!doctype html><html><body>Rate limited</body></html>', /it is HTML or XML, not JSON/],
    ['cut short', '', /it is not valid JSON, cut short or damaged/],
    ['an object', '{"openai": {"gpt-4o": 2.5}}', /it is not a list of providers \(the top level is an object\)/],
    ['an empty list', '[]', /it is an empty list of providers/],
    ['a provider without id', '[{"models": []}]', /providers\[0\] has no id/],
  ];

  it.each(broken)('refuses %s data, naming the file, and keeps the prices in force', async (_, text, reason) => {
    const dir = tmp();
    const good = join(dir, 'good.json');
    writeFileSync(good, JSON.stringify(changedData(1.23)));
    await refreshPriceData({ dir, source: good });
    const before = readFileSync(priceDataPath(dir), 'utf8');
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, text === '' && reason.source.includes('cut short') ? JSON.stringify(bundled).slice(0, 100_000) : text);
    const error = await refreshPriceData({ dir, source: bad }).catch((e: unknown) => e);
    expect(isPricingError(error)).toBe(true);
    expect((error as Error).message).toContain(`Refused the price data from ${bad}:`);
    expect((error as Error).message).toMatch(reason);
    expect((error as Error).message).toContain(`Still in force: the prices in ${priceDataPath(dir)}`);
    expect(readFileSync(priceDataPath(dir), 'utf8')).toBe(before);
    expect(readdirSync(dir).sort()).toEqual(['bad.json', 'good.json', 'prices.json']);
    expect(
      readStoredPriceData(dir)
        ?.providers.find((p) => p.id === 'openai')
        ?.models.find((m) => m.id === 'gpt-4o')?.prices,
    ).toMatchObject({
      input_mtok: 1.23,
    });
  });

  const wrongShapes: [string, (d: Provider[]) => void, RegExp][] = [
    [
      'a negative price',
      (d) => Object.assign(model(d, 'openai', 'gpt-4o').prices, { input_mtok: -1 }),
      /model "gpt-4o" prices\.input_mtok is not a price: -1/,
    ],
    [
      'a price as text',
      (d) => Object.assign(model(d, 'openai', 'gpt-4o').prices, { output_mtok: '10' }),
      /output_mtok is not a price: "10"/,
    ],
    [
      'a model without prices',
      (d) => delete (model(d, 'anthropic', 'claude-sonnet-4-0') as { prices?: unknown }).prices,
      /model "claude-sonnet-4-0" has no prices/,
    ],
    [
      'a model without match rule',
      (d) => delete (model(d, 'openai', 'gpt-4o') as { match?: unknown }).match,
      /model "gpt-4o" match is not a match rule/,
    ],
    [
      'a bad regex',
      (d) => Object.assign(model(d, 'openai', 'gpt-4o'), { match: { regex: '(' } }),
      /match\.regex is not a regular expression/,
    ],
    [
      'a bad price date',
      (d) => Object.assign(model(d, 'openai', 'gpt-4o'), { prices: [{ constraint: { start_date: 'soon' }, prices: {} }] }),
      /constraint is neither/,
    ],
    [
      'a provider missing',
      (d) =>
        d.splice(
          d.findIndex((p) => p.id === 'anthropic'),
          1,
        ),
      /lacks the providers anthropic/,
    ],
    ['providers without models', (d) => d.splice(0, d.length, ...d.map((p) => ({ ...p, models: [] }))), /prices no model/],
  ];

  it.each(wrongShapes)('refuses data with %s, and writes nothing when nothing was kept before', async (_, spoil, reason) => {
    const dir = tmp();
    const data = structuredClone(bundled);
    spoil(data);
    const bad = join(dir, 'data.json');
    writeFileSync(bad, JSON.stringify(data));
    const error = await refreshPriceData({ dir, source: bad }).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(reason);
    expect((error as Error).message).toContain('Still in force: the prices bundled with genai-prices');
    expect(existsSync(priceDataPath(dir))).toBe(false);
  });

  it('keeps good data with its source, fetch time and the file date, and says what changed', async () => {
    const dir = tmp();
    const source = join(dir, 'data.json');
    writeFileSync(source, JSON.stringify(changedData(1.23)));
    const now = Date.UTC(2026, 5, 1);
    const result = await refreshPriceData({ dir, source, now: () => now });
    expect(result).toMatchObject({ providers: bundled.length, changed: ['openai/gpt-4o'], added: [], removed: [] });
    expect(result.origin).toMatchObject({ kind: 'refreshed', source, file: priceDataPath(dir), fetchedAt: new Date(now).toISOString() });
    // A file's date is its modification time, and the age counts from it.
    expect(result.origin.asOf).toBe(result.origin.sourceDate);
    expect(Math.abs(Date.parse(result.origin.sourceDate as string) - Date.now())).toBeLessThan(60_000);
  });
});

describe('loadPriceData', () => {
  it('uses the bundled data when the kept file is damaged, saying so once, and says when a source is set but never fetched', () => {
    const dir = tmp();
    const warnings: string[] = [];
    expect(loadPriceData(dir, (m) => warnings.push(m))).toBeUndefined();
    expect(warnings).toEqual([]);
    expect(loadPriceData(dir, (m) => warnings.push(m), 'https://example.test/data.json')).toBeUndefined();
    expect(warnings[0]).toContain(`price data source https://example.test/data.json is set but not fetched yet (no ${priceDataPath(dir)})`);
    writeFileSync(priceDataPath(dir), '{"tokenmeter_price_data": 1, "providers": [');
    expect(loadPriceData(dir, (m) => warnings.push(m))).toBeUndefined();
    expect(warnings[1]).toMatch(/prices\.json is not valid JSON .*: using the prices bundled with genai-prices \S+ instead/);
    writeFileSync(priceDataPath(dir), JSON.stringify(bundled));
    expect(loadPriceData(dir, (m) => warnings.push(m))).toBeUndefined();
    expect(warnings[2]).toContain('is not a tokenmeter price data file');
  });
});

function model(data: Provider[], provider: string, id: string): Provider['models'][number] {
  const m = data.find((p) => p.id === provider)?.models.find((x) => x.id === id);
  if (m === undefined) throw new Error(`no ${provider}/${id} in the bundled data`);
  return m;
}
