/**
 * What the built-in page's browser test and the README screenshot share: a ledger of a few weeks
 * of varied usage with budgets, `tokenmeter serve` over it, Debian's chromium, and a PNG decoder to
 * count what a chart drew.
 */
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { type Browser, chromium } from 'playwright-core';
import { TokenMonitor } from '../../src/index.ts';
import type { UsageInput } from '../../src/usage.ts';
import { startServe } from './serve.ts';

const DAY = 86_400_000;

/** Provider, model and service type of the generated calls, most used first. */
const MODELS: [string, string, 'llm' | 'embedding'][] = [
  ['openai', 'gpt-4o', 'llm'],
  ['anthropic', 'claude-sonnet-4-20250514', 'llm'],
  ['openai', 'gpt-4o-mini', 'llm'],
  ['gemini', 'gemini-2.0-flash', 'llm'],
  ['anthropic', 'claude-3-5-haiku-20241022', 'llm'],
  ['mistral', 'mistral-large-latest', 'llm'],
  ['openai', 'text-embedding-3-small', 'embedding'],
];
const AGENTS = ['planner', 'researcher', 'writer', 'critic'];
const OPERATIONS = ['chat', 'plan', 'summarise', 'extract'];
export const USERS = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank'];

/**
 * The budgets the page compares with: this month's spend against the global budget, a week's
 * against openai's (filtered to openai), and user dave's day, which the test pushes over its limit.
 * (One budget per scope and id: a second global one would replace the first.)
 */
export const BUDGETS = [
  { scope: 'global', limit_usd: 500 },
  { scope: 'provider', id: 'openai', limit_usd: 40, billing_cycle: 'rolling', rolling_days: 7 },
  { scope: 'provider', id: 'anthropic', limit_usd: 20, billing_cycle: 'daily' },
  { scope: 'user', id: 'dave', limit_usd: 2, billing_cycle: 'daily' },
  { scope: 'agent', id: 'researcher', limit_tokens: 50_000_000 },
];

/** A small deterministic generator (so every run draws the same page). */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1_664_525) + 1_013_904_223) >>> 0;
    return s / 2 ** 32;
  };
}

/** `n` calls a day for `days` days up to `now` (today's spread between midnight and now), some failed. */
export function usage(now: number, days = 28, perDay = 160): UsageInput[] {
  const rand = lcg(14);
  const out: UsageInput[] = [];
  const today = Math.floor(now / DAY) * DAY;
  for (let d = days - 1; d >= 0; d--) {
    const start = today - d * DAY;
    const span = d === 0 ? Math.max(1, now - start - 1000) : DAY;
    // Weekdays busier than weekends, and a slow climb over the weeks.
    const weekday = new Date(start).getUTCDay() % 6 !== 0;
    const n = Math.round(perDay * (weekday ? 1 : 0.45) * (1 + (days - d) / days));
    for (let i = 0; i < n; i++) {
      const m = MODELS[Math.floor(rand() ** 1.6 * MODELS.length)] as [string, string, 'llm' | 'embedding'];
      const failed = rand() < 0.04;
      const input = 200 + Math.floor(rand() * 6000);
      const call: UsageInput = {
        provider: m[0],
        model: m[1],
        serviceType: m[2],
        operation: m[2] === 'embedding' ? 'embed' : (OPERATIONS[Math.floor(rand() * OPERATIONS.length)] as string),
        inputTokens: failed ? 0 : input,
        userId: USERS[Math.floor(rand() ** 1.3 * USERS.length)] as string,
        agent: AGENTS[Math.floor(rand() * AGENTS.length)] as string,
        threadId: `t-${d}-${Math.floor(i / 6)}`,
        durationMs: 200 + Math.floor(rand() * 4000),
        timestamp: start + Math.floor((span * (i + rand())) / n),
      };
      if (m[2] === 'llm') call.outputTokens = failed ? 0 : 50 + Math.floor(rand() * 1500);
      if (failed) {
        call.errorType = rand() < 0.6 ? 'rate_limit' : 'timeout';
        call.errorMessage = call.errorType === 'rate_limit' ? '429 Too Many Requests' : 'request timed out after 60 s';
      }
      out.push(call);
    }
  }
  return out;
}

/** Writes config.json with {@link BUDGETS} and the generated usage into the ledger in `dir`. */
export async function seed(dir: string, now = Date.now()): Promise<void> {
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ budgets: BUDGETS }, null, 2));
  const m = new TokenMonitor({ dir, loadConfig: false, metrics: { prometheus: false } });
  for (const call of usage(now)) m.record(call);
  await m.flush();
  await m.close();
}

/** `tokenmeter serve --port 0 --dir <dir> ...args`; resolves once it prints its URL. */
export function serve(dir: string, args: string[] = []): Promise<{ proc: ChildProcess; url: string }> {
  return startServe(['--dir', dir, ...args]);
}

export async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  await new Promise((resolve) => child.once('close', resolve));
}

/** Calls posted to a running server that take user dave's daily budget through warning and critical to exceeded. */
export async function pushOverBudget(url: string, token?: string): Promise<void> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  // gpt-4o: $2.50 per 1M input tokens; each call $0.25. The budget is $2 a day.
  for (let i = 0; i < 10; i++) {
    const r = await fetch(`${url}/v1/usage`, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        provider: 'openai',
        model: 'gpt-4o',
        inputTokens: 100_000,
        userId: 'dave',
        agent: 'writer',
        operation: 'chat',
      }),
    });
    if (r.status !== 201) throw new Error(`POST /v1/usage answered ${r.status}: ${await r.text()}`);
  }
}

/**
 * The data requests the page makes when it opens on its default view (the last 30 days, no
 * filter, cost split by provider), as app.js's load() makes them at `now`: the benchmark times
 * these, and the browser test checks that the page asks for exactly these.
 */
export function pageLoadRequests(now = Date.now()): string[] {
  const cardsSince = new Date(Math.floor((now - 31 * DAY) / DAY) * DAY).toISOString().slice(0, 10);
  return [
    '/v1/overview?days=30&split=provider',
    `/v1/summary?since=${cardsSince}&by=day`,
    '/v1/records?days=30&errors=true&limit=10',
    '/v1/status',
    '/v1/alerts?limit=20',
    '/v1/alertmanager/alerts?days=7&limit=20',
  ];
}

/** Debian's chromium, driven by playwright-core (no browser download). */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: process.env.TOKENMETER_CHROMIUM ?? '/usr/bin/chromium' });
}

/**
 * The README's picture: the page's first screen at 1280×860, once it has drawn `query` (its data
 * requests' range and filters), as a PNG.
 */
export async function screenshot(browser: Browser, url: string, query = 'days=30'): Promise<Buffer> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  try {
    await page.goto(url);
    await page.waitForSelector(`body[data-query="${query}"]`, { timeout: 20_000 });
    return await page.screenshot();
  } finally {
    await page.close();
  }
}

/** Decodes an 8-bit RGB or RGBA, non-interlaced PNG (what Chromium's screenshots are) into RGBA pixels. */
export function decodePng(png: Buffer): { width: number; height: number; rgba: Uint8Array } {
  if (png.readUInt32BE(0) !== 0x89504e47) throw new Error('not a PNG');
  let pos = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Buffer[] = [];
  while (pos < png.length) {
    const len = png.readUInt32BE(pos);
    const type = png.toString('latin1', pos + 4, pos + 8);
    const data = png.subarray(pos + 8, pos + 8 + len);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      const [depth, colour, , , interlace] = [data[8], data[9], data[10], data[11], data[12]];
      if (depth !== 8 || interlace !== 0 || (colour !== 2 && colour !== 6))
        throw new Error(`unsupported PNG: depth ${depth}, colour ${colour}`);
      channels = colour === 6 ? 4 : 3;
    } else if (type === 'IDAT') idat.push(data);
    pos += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const px = new Uint8Array(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)] as number;
    for (let x = 0; x < stride; x++) {
      const v = raw[y * (stride + 1) + 1 + x] as number;
      const a = x >= channels ? (px[y * stride + x - channels] as number) : 0;
      const b = y > 0 ? (px[(y - 1) * stride + x] as number) : 0;
      const c = x >= channels && y > 0 ? (px[(y - 1) * stride + x - channels] as number) : 0;
      let p: number;
      if (filter === 0) p = 0;
      else if (filter === 1) p = a;
      else if (filter === 2) p = b;
      else if (filter === 3) p = (a + b) >> 1;
      else {
        const e = a + b - c;
        const [da, db, dc] = [Math.abs(e - a), Math.abs(e - b), Math.abs(e - c)];
        p = da <= db && da <= dc ? a : db <= dc ? b : c;
      }
      px[y * stride + x] = (v + p) & 0xff;
    }
  }
  const rgba = new Uint8Array(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    rgba[i * 4] = px[i * channels] as number;
    rgba[i * 4 + 1] = px[i * channels + 1] as number;
    rgba[i * 4 + 2] = px[i * channels + 2] as number;
    rgba[i * 4 + 3] = channels === 4 ? (px[i * channels + 3] as number) : 255;
  }
  return { width, height, rgba };
}

/** Pixels of a screenshot in colour (not white, grey or black): what bars drew, not the axes' text or the background. */
export function colouredPixels(png: Buffer): number {
  const { width, height, rgba } = decodePng(png);
  let n = 0;
  for (let i = 0; i < width * height; i++) {
    const [r, g, b] = [rgba[i * 4] as number, rgba[i * 4 + 1] as number, rgba[i * 4 + 2] as number];
    if (Math.max(r, g, b) - Math.min(r, g, b) > 60) n++;
  }
  return n;
}
