import type { ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { usd } from '../src/reports/format.ts';
import {
  colouredPixels,
  decodePng,
  launchBrowser,
  pageLoadRequests,
  pushOverBudget,
  screenshot,
  seed,
  serve,
  stop,
} from './helpers/page.ts';

// The built-in page as a user sees it: `tokenmeter serve` over a ledger of three weeks of varied
// usage with budgets, opened in Debian's chromium. Every number on the page is checked against
// the REST API's answer for the same view (and the CLI's for the default one).
const DAY = 86_400_000;
const CLI = join(import.meta.dirname, '..', 'src', 'cli', 'index.ts');
const TOKEN = 'page-test-token-7f3a';
const dir = mkdtempSync(join(tmpdir(), 'tm-page-'));
let open: { proc: ChildProcess; url: string };
let guarded: { proc: ChildProcess; url: string };
let browser: Browser;

interface Totals {
  requests: number;
  errors: number;
  costUsd: number;
  costPicoUsd: string;
}
interface Summary {
  total: Totals;
  rows: (Totals & { key: string | null })[];
}

beforeAll(async () => {
  await seed(dir);
  open = await serve(dir);
  // The same ledger behind a token, as when bound off loopback.
  guarded = await serve(dir, ['--token', TOKEN]);
  // Live traffic through the open server: user dave's daily budget warns, then is exceeded.
  await pushOverBudget(open.url);
  // Alertmanager's webhook, as its shipped receiver posts it: one alert firing, one resolved.
  const alert = (name: string, status: string, severity: string) => ({
    status,
    labels: { alertname: name, severity, scope: 'user', scope_id: 'dave' },
    annotations: { summary: `${name} for dave` },
    startsAt: new Date(Date.now() - 600_000).toISOString(),
    endsAt: status === 'resolved' ? new Date().toISOString() : '0001-01-01T00:00:00Z',
    generatorURL: 'http://prometheus:9090/graph',
    fingerprint: `fp-${name}`,
  });
  const am = await fetch(`${open.url}/v1/alertmanager`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      version: '4',
      receiver: 'tokenmeter',
      status: 'firing',
      groupKey: '{}:{}',
      truncatedAlerts: 0,
      groupLabels: {},
      commonLabels: {},
      commonAnnotations: {},
      externalURL: 'http://alertmanager:9093',
      alerts: [alert('TokenmeterBudgetExceeded', 'firing', 'critical'), alert('TokenmeterBudgetWarning', 'resolved', 'warning')],
    }),
  });
  expect(am.status).toBe(200);
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await stop(open.proc);
  await stop(guarded.proc);
  rmSync(dir, { recursive: true, force: true });
});

async function api<T>(path: string, params: Record<string, string> = {}, base = open.url): Promise<T> {
  const qs = new URLSearchParams(params).toString();
  const r = await fetch(`${base}${path}${qs === '' ? '' : `?${qs}`}`, { headers: { authorization: `Bearer ${TOKEN}` } });
  expect(r.status, `${path}?${qs}`).toBe(200);
  return (await r.json()) as T;
}

/** A page on `url` that records console errors and warnings, failed requests and every URL it asked for. */
async function openPage(url: string): Promise<{ page: Page; problems: string[]; requests: string[]; statuses: Map<string, number> }> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const problems: string[] = [];
  const requests: string[] = [];
  const statuses = new Map<string, number>();
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`failed: ${r.url()}`));
  page.on('request', (r) => requests.push(r.url()));
  page.on('response', (r) => statuses.set(new URL(r.url()).pathname + new URL(r.url()).search, r.status()));
  await page.goto(url);
  return { page, problems, requests, statuses };
}

/** Waits until the page has drawn the view whose data requests carry `query` (range and filters). */
async function drawn(page: Page, query: Record<string, string>): Promise<void> {
  const q = new URLSearchParams(query).toString();
  await page.waitForSelector(`body[data-query="${q}"]`, { timeout: 20_000 });
}

const text = async (page: Page, selector: string) => ((await page.locator(selector).textContent()) ?? '').trim();

/** The rows of a table on the page, as their cells' text. */
const rows = (page: Page, id: string) =>
  page.locator(`#${id} tbody tr`).evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')));

/** Checks every total on the page against the API's answers for the same range and filters. */
async function agrees(page: Page, range: Record<string, string>, filters: Record<string, string>): Promise<Summary> {
  const q = { ...range, ...filters };
  const total = await api<Summary>('/v1/summary', { ...q, by: 'provider' });
  expect(await text(page, '#total-usd')).toBe(usd(total.total.costUsd));
  expect(await page.locator('#total-usd').getAttribute('data-pico')).toBe(String(total.total.costPicoUsd));
  expect(await text(page, '#total-detail')).toContain(`${total.total.requests.toLocaleString('en-US')} calls`);
  for (const dim of ['model', 'agent', 'userId', 'operation']) {
    const s = await api<Summary>('/v1/summary', { ...q, by: dim });
    const shown = await rows(page, `top-${dim}`);
    const expected = s.rows.slice(0, 10).map((r) => [r.key ?? '(none)', usd(r.costUsd)]);
    expect(
      shown.map((r) => [r[0], r[3]]),
      dim,
    ).toEqual(expected.length === 0 ? [['Nothing in this range.', undefined]] : expected);
  }
  // The chart's legend: each provider's total over the range, as the summary has it.
  const daily = await api<{ series: { key: string; total: Totals }[] }>('/v1/daily', { ...q, by: 'provider' });
  const legend = await page.locator('#legend li').allTextContents();
  expect(legend).toEqual(daily.series.slice(0, 7).map((s) => `${s.key} ${usd(s.total.costUsd)}`));
  expect(daily.series.map((s) => [s.key, s.total.costPicoUsd])).toEqual(total.rows.map((r) => [r.key, r.costPicoUsd]));
  // Today, the last 7 days and this month (UTC), each from the ledger since its window's start.
  const now = Date.now();
  const starts = {
    today: new Date(Math.floor(now / DAY) * DAY),
    week: new Date(Math.floor(now / DAY) * DAY - 6 * DAY),
    month: new Date(`${new Date(now).toISOString().slice(0, 7)}-01T00:00:00Z`),
  };
  for (const [card, since] of Object.entries(starts)) {
    const s = await api<Summary>('/v1/summary', { ...filters, since: since.toISOString() });
    expect(await page.locator(`#card-${card} .usd`).getAttribute('data-pico'), card).toBe(String(s.total.costPicoUsd));
    expect(await text(page, `#card-${card} .usd`), card).toBe(usd(s.total.costUsd));
  }
  // The recent errors are the API's newest failed calls of the view.
  const errors = await api<{ timestamp: number; model: string; error: boolean }[]>('/v1/records', { ...q, errors: 'true', limit: '10' });
  const shownErrors = await rows(page, 'errors');
  expect(shownErrors.map((r) => [r[0], r[2]])).toEqual(
    errors.length === 0
      ? [['No failed call in this range.', undefined]]
      : errors.map((e) => [new Date(e.timestamp).toISOString().slice(0, 19).replace('T', ' '), e.model]),
  );
  return total;
}

describe('the built-in page', () => {
  it('serves its files from the package with a strict CSP, content types and cache headers', async () => {
    const page = await fetch(`${open.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    expect(page.headers.get('cache-control')).toBe('no-cache');
    const html = await page.text();
    // No inline script or style, nothing from another host.
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(html).not.toMatch(/<style|style=/);
    expect(html).not.toMatch(/https?:\/\//);
    const links = [...html.matchAll(/(?:src|href)="(\/page\/[^"]+)"/g)].map((m) => m[1] as string);
    expect(links.map((l) => l.replace(/\?.*/, '')).sort()).toEqual(
      ['/page/app.js', '/page/favicon.svg', '/page/style.css', '/page/uplot.css', '/page/uplot.js'].sort(),
    );
    const uplot = createRequire(import.meta.url).resolve('uplot/dist/uPlot.iife.min.js');
    for (const link of links) {
      const r = await fetch(`${open.url}${link}`);
      expect(r.status, link).toBe(200);
      // Linked by their content's hash: kept for good, and a new version is a new URL.
      expect(r.headers.get('cache-control'), link).toBe('public, max-age=31536000, immutable');
      const type = r.headers.get('content-type');
      if (link.includes('.js')) expect(type).toBe('text/javascript; charset=utf-8');
      if (link.includes('.css')) expect(type).toBe('text/css; charset=utf-8');
      if (link.startsWith('/page/uplot.js')) expect(Buffer.from(await r.arrayBuffer()).equals(readFileSync(uplot))).toBe(true);
      const again = await fetch(`${open.url}${link}`, { headers: { 'if-none-match': r.headers.get('etag') ?? '' } });
      expect(again.status).toBe(304);
    }
    // Without the hash, a file is revalidated instead.
    expect((await fetch(`${open.url}/page/app.js`)).headers.get('cache-control')).toBe('no-cache');
    expect((await fetch(`${open.url}/page/nothing.js`)).status).toBe(404);
    // The files hold no data: open without the token; the data is not.
    expect((await fetch(`${guarded.url}/`)).status).toBe(200);
    expect((await fetch(`${guarded.url}/page/app.js`)).status).toBe(200);
    expect((await fetch(`${guarded.url}/v1/summary`)).status).toBe(401);
  });

  it('loads with no console error, draws the chart, and every total equals the API and the CLI', async () => {
    const { page, problems, requests } = await openPage(open.url);
    await drawn(page, { days: '30' });
    const total = await agrees(page, { days: '30' }, {});
    // `tokenmeter summary` (30 days by default) over the same ledger.
    const cli = JSON.parse(execFileSync(process.execPath, [CLI, 'summary', '--dir', dir, '--json'], { encoding: 'utf8' })) as Summary;
    expect(await text(page, '#total-usd')).toBe(usd(cli.total.costUsd));
    expect(cli.total.costPicoUsd).toBe(total.total.costPicoUsd);
    // The bars drew: the chart's canvas, as the screen shows it, has thousands of coloured pixels.
    const canvas = page.locator('#chart canvas');
    const box = await canvas.boundingBox();
    const coloured = colouredPixels(await canvas.screenshot());
    expect(coloured).toBeGreaterThan(((box?.width ?? 0) * (box?.height ?? 0)) / 50);
    // The budgets and the alerts that fired.
    const budgets = await rows(page, 'budgets');
    expect(budgets.find((r) => r[0] === 'user' && r[1] === 'dave')?.[6]).toBe('exceeded');
    const status = await api<{ scope: string; scopeId: string; window: string; level: string }[]>('/v1/status');
    expect(budgets.map((r) => `${r[0]} ${r[1]} ${r[2]} ${r[6]}`).sort()).toEqual(
      status.map((b) => `${b.scope} ${b.scopeId} ${b.window} ${b.level}`).sort(),
    );
    // Newest first; how many levels dave's budget went through depends on what today held before.
    const alerts = await rows(page, 'alerts');
    const fired = await api<{ alerts: { level: string; budget: { scope: string; scopeId: string; window: string } }[] }>('/v1/alerts', {
      limit: '20',
    });
    expect(alerts.map((r) => [r[1], r[2]])).toEqual(
      fired.alerts.map((a) => [a.level, `${a.budget.scope} ${a.budget.scopeId} ${a.budget.window}`]),
    );
    expect(alerts[0]?.slice(1, 3)).toEqual(['exceeded', 'user dave daily']);
    // What Alertmanager sent, as /v1/alertmanager/alerts answers it.
    const received = await api<{ alerts: { status: string; alertname: string; summary: string }[] }>('/v1/alertmanager/alerts', {
      days: '7',
      limit: '20',
    });
    expect(received.alerts).toHaveLength(2);
    expect((await rows(page, 'alertmanager')).map((r) => [r[1], r[3], r[4]])).toEqual(
      received.alerts.map((a) => [a.status, a.alertname, a.summary]),
    );
    // The month card against the global monthly budget.
    expect(await text(page, '#card-month .budget')).toMatch(/^of \$500\.0000 monthly budget \(global\) · [\d.]+% · ok$/);
    // Everything came from this server, nothing from a CDN; its data requests are the ones the benchmark times.
    expect(requests.filter((u) => !u.startsWith(open.url))).toEqual([]);
    const expected = pageLoadRequests();
    const data = requests.filter((u) => u.includes('/v1/')).map((u) => u.slice(open.url.length));
    expect(data.slice(0, expected.length).sort()).toEqual(expected.sort());
    expect(problems).toEqual([]);
    await page.close();
  });

  it('changes every number to what the API says when a filter or the range changes', async () => {
    const { page, problems } = await openPage(open.url);
    await drawn(page, { days: '30' });
    await page.selectOption('#provider', 'anthropic');
    await drawn(page, { days: '30', provider: 'anthropic' });
    const anthropic = await agrees(page, { days: '30' }, { provider: 'anthropic' });
    expect(anthropic.rows.map((r) => r.key)).toEqual(['anthropic']);
    expect(new URL(page.url()).search).toBe('?provider=anthropic');

    await page.selectOption('#provider', '');
    await page.selectOption('#user', 'alice');
    await drawn(page, { days: '30', user: 'alice' });
    await agrees(page, { days: '30' }, { user: 'alice' });

    await page.selectOption('#user', '');
    await page.selectOption('#agent', 'researcher');
    await page.selectOption('#range', '7');
    await drawn(page, { days: '7', agent: 'researcher' });
    await agrees(page, { days: '7' }, { agent: 'researcher' });

    // Filtered to openai, the week card compares with openai's 7-day budget: the ledger's spend in
    // the budget's window is the budget's own count.
    await page.selectOption('#agent', '');
    await page.selectOption('#provider', 'openai');
    await drawn(page, { days: '7', provider: 'openai' });
    await agrees(page, { days: '7' }, { provider: 'openai' });
    const week = (await api<{ scope: string; scopeId: string; used: number }[]>('/v1/status')).find(
      (b) => b.scope === 'provider' && b.scopeId === 'openai',
    );
    expect(await text(page, '#card-week .budget')).toContain('of $40.0000 rolling_7d budget (provider openai)');
    expect(await text(page, '#card-week .usd')).toBe(usd(week?.used ?? Number.NaN));

    // Dates: the chart has a bar slot for each day of the range.
    const until = new Date(Date.now() - 2 * DAY).toISOString().slice(0, 10);
    const since = new Date(Date.now() - 12 * DAY).toISOString().slice(0, 10);
    await page.selectOption('#provider', '');
    await page.selectOption('#range', 'custom');
    await page.fill('#since', since);
    await page.fill('#until', until);
    await page.locator('#until').dispatchEvent('change');
    const end = new Date(Date.parse(`${until}T00:00:00Z`) + DAY).toISOString().slice(0, 10);
    await drawn(page, { since, until: end });
    await agrees(page, { since, until: end }, {});
    expect(await page.locator('#chart .uplot').getAttribute('data-days')).toBe('11');
    expect(problems).toEqual([]);
    await page.close();
  });

  it('draws the README’s picture (scripts/page-screenshot.ts) of the first screen, chart included', async () => {
    const png = await screenshot(browser, open.url);
    const { width, height } = decodePng(png);
    expect([width, height]).toEqual([1280, 860]);
    expect(colouredPixels(png)).toBeGreaterThan(20_000);
  });

  it('asks for the token when the API answers 401, says so, and works once given it', async () => {
    const { page, statuses } = await openPage(guarded.url);
    await page.waitForSelector('body[data-failed]');
    expect(await page.locator('#auth').isVisible()).toBe(true);
    expect(await text(page, '#auth-message')).toContain('401 Unauthorized');
    // Playwright reports a response after the page may already have acted on it: wait for the report.
    await expect.poll(() => statuses.get('/v1/status')).toBe(401);
    expect(await text(page, '#total-usd')).toBe('–');

    // A wrong token is refused, and the page says that too.
    await page.fill('#token', 'not-the-token');
    await page.click('#auth-form button');
    await page.waitForSelector('body[data-failed="2"]');
    expect(await text(page, '#auth-message')).toContain('refused the token (401 Unauthorized)');

    await page.fill('#token', TOKEN);
    await page.click('#auth-form button');
    await drawn(page, { days: '30' });
    expect(await page.locator('#auth').isHidden()).toBe(true);
    await expect.poll(() => statuses.get('/v1/status')).toBe(200);
    const total = await api<Summary>('/v1/summary', { days: '30' }, guarded.url);
    expect(await text(page, '#total-usd')).toBe(usd(total.total.costUsd));
    // Kept for this tab: a reload does not ask again.
    await page.reload();
    await drawn(page, { days: '30' });
    expect(await page.locator('#auth').isHidden()).toBe(true);
    await page.close();
  });
});
