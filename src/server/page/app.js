// tokenmeter's built-in page. It reads everything from the REST API (/v1) of the server that
// serves it, with the token kept for this tab, and draws with uPlot (loaded before this module).
// No data is in the page's files; every number comes from the same report functions as the CLI.

/* global uPlot */

const TOKEN_KEY = 'tokenmeter.token';
const DAY_MS = 86_400_000;
const PICO = 1_000_000_000_000n;
const COLORS = ['#1f6feb', '#e36209', '#2da44e', '#a371f7', '#cf222e', '#bf8700', '#0598bc', '#8c959f'];
/** Lines a stacked chart draws; the rest are added up as "other". */
const MAX_SERIES = 7;
const LEVELS = ['ok', 'warning', 'critical', 'exceeded'];

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

/** A 401 from the API: the page asks for the token. */
class Unauthorized extends Error {}

/** USD as the CLI writes it (src/reports/format.ts usd): four decimals, thousands separators. */
function usd(value) {
  if (!Number.isFinite(value)) return 'n/a';
  if (value > 0 && value < 0.00005) return '<$0.0001';
  const s = Math.abs(value).toLocaleString('en-US', { minimumFractionDigits: 4, maximumFractionDigits: 4 });
  return `${value < 0 ? '-' : ''}$${s}`;
}

/** USD of an exact picodollar sum, as the server's bigPicoToUsd: the double nearest the exact decimal. */
function picoUsd(pico) {
  const abs = pico < 0n ? -pico : pico;
  return Number(`${pico < 0n ? '-' : ''}${abs / PICO}.${(abs % PICO).toString().padStart(12, '0')}`);
}

const num = (v) => Number(v).toLocaleString('en-US', { maximumFractionDigits: 0 });
const pct = (share) => `${(share * 100).toFixed(1)}%`;
const utcDay = (ms) => new Date(Math.floor(ms / DAY_MS) * DAY_MS).toISOString().slice(0, 10);
const shortTime = (iso) => `${iso.slice(0, 10)} ${iso.slice(11, 19)}`;

/** What the page shows: range, filters and split, kept in the URL so a view can be shared or reloaded. */
const state = { range: '30', since: '', until: '', provider: '', user: '', agent: '', split: 'provider' };
for (const [k, v] of new URLSearchParams(location.search)) if (k in state && v !== '') state[k] = v;

/** Values seen for each filter, so that choosing one keeps the others on offer. */
const seen = { provider: new Set(), user: new Set(), agent: new Set() };

/** The range as the API's parameters: `days`, or `since`/`until` (whole UTC days, `until` inclusive on the page). */
function rangeParams() {
  if (state.range !== 'custom') return { days: state.range };
  const p = {};
  if (state.since !== '') p.since = state.since;
  if (state.until !== '') p.until = utcDay(Date.parse(`${state.until}T00:00:00Z`) + DAY_MS);
  return p;
}

function filterParams() {
  const p = {};
  for (const k of ['provider', 'user', 'agent']) if (state[k] !== '') p[k] = state[k];
  return p;
}

/** One GET of the API with the tab's token; a 401 throws Unauthorized, any other failure its message. */
async function api(path, params = {}) {
  const query = new URLSearchParams(params).toString();
  const token = sessionStorage.getItem(TOKEN_KEY);
  const res = await fetch(`${path}${query === '' ? '' : `?${query}`}`, {
    headers: token === null ? {} : { authorization: `Bearer ${token}` },
    cache: 'no-store',
  });
  if (res.status === 401) throw new Unauthorized(path);
  const body = await res.json().catch(() => null);
  if (!res.ok) throw new Error(`${path} answered ${res.status}: ${body?.error?.message ?? res.statusText}`);
  return body;
}

/** Replaces a table's content: a header row, then one row per item (cells are text, never HTML). */
function fillTable(id, head, rows, numeric = [], empty = 'Nothing in this range.') {
  const t = $(id);
  t.replaceChildren();
  const thead = t.createTHead().insertRow();
  head.forEach((h, i) => {
    const th = document.createElement('th');
    th.textContent = h;
    if (numeric.includes(i)) th.className = 'num';
    thead.append(th);
  });
  const body = t.createTBody();
  if (rows.length === 0) {
    const td = body.insertRow().insertCell();
    td.colSpan = head.length;
    td.className = 'empty';
    td.textContent = empty;
  }
  for (const r of rows) {
    const tr = body.insertRow();
    r.cells.forEach((c, i) => {
      const td = tr.insertCell();
      td.textContent = c;
      if (numeric.includes(i)) td.className = 'num';
    });
    if (r.className) tr.className = r.className;
  }
}

function showError(message) {
  const e = $('error');
  e.textContent = message;
  e.hidden = message === '';
}

function showAuth(message) {
  $('auth').hidden = message === '';
  $('auth-message').textContent = message;
  $('content').classList.toggle('locked', message !== '');
  if (message !== '') $('token').focus();
}

/** The budget a card compares with: the filter's scope (one filter, or none for global), the window, in USD. */
function budgetFor(statuses, window) {
  const f = Object.entries(filterParams());
  if (f.length > 1) return undefined;
  const [scope, id] = f.length === 0 ? ['global', '*'] : f[0];
  return statuses.find((b) => b.unit === 'usd' && b.window === window && b.scope === scope && (scope === 'global' || b.scopeId === id));
}

/** A spend card: the spend since the window's start (the budget's own when there is one) and the budget's use. */
function card(id, dayRows, budget, defaultStart) {
  const el = $(id);
  const start = budget === undefined ? defaultStart : budget.windowStart.slice(0, 10);
  let pico = 0n;
  for (const r of dayRows) if (r.key >= start) pico += BigInt(r.costPicoUsd);
  const spent = el.querySelector('.usd');
  spent.textContent = usd(picoUsd(pico));
  spent.dataset.pico = String(pico);
  const line = el.querySelector('.budget');
  const bar = el.querySelector('.meter > div');
  el.dataset.level = budget?.level ?? 'none';
  if (budget === undefined) {
    line.textContent = `since ${start} · no budget for this view`;
    bar.parentElement.hidden = true;
    return;
  }
  line.textContent = `of ${usd(budget.limit)} ${budget.window} budget (${budget.scope}${budget.scope === 'global' ? '' : ` ${budget.scopeId}`}) · ${budget.percentUsed}% · ${budget.level}`;
  bar.parentElement.hidden = false;
  bar.style.width = `${Math.min(100, budget.percentUsed)}%`;
}

let chart;

/** The daily breakdown as stacked bars: each series drawn as the sum of itself and those below it, largest first. */
function drawChart(daily) {
  const keep = daily.series.slice(0, MAX_SERIES);
  const rest = daily.series.slice(MAX_SERIES);
  const lines = keep.map((s) => ({ name: s.key ?? '(none)', cost: s.costUsd, total: s.total.costUsd }));
  if (rest.length > 0) {
    lines.push({
      name: `${rest.length} other${rest.length === 1 ? '' : 's'}`,
      cost: daily.days.map((_, i) => rest.reduce((a, s) => a + (s.costUsd[i] ?? 0), 0)),
      total: rest.reduce((a, s) => a + s.total.costUsd, 0),
    });
  }
  const xs = daily.days.map((d) => Date.parse(`${d}T00:00:00Z`) / 1000);
  const stacked = [];
  let below = daily.days.map(() => 0);
  for (const l of lines) {
    below = below.map((v, i) => v + (l.cost[i] ?? 0));
    stacked.push(below);
  }
  // uPlot draws in order: the tallest (the whole stack) first, each lower part over it.
  const order = lines.map((_, i) => i).reverse();
  const bars = uPlot.paths.bars({ size: [0.7, 48], align: 0 });
  const opts = {
    width: $('chart').clientWidth,
    height: 280,
    legend: { show: false },
    cursor: { drag: { x: false, y: false } },
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
    // Half a day of room at each end: the first and last days' bars whole.
    scales: {
      x: { time: true, range: (_u, min, max) => [min - 43_200, max + 43_200] },
      y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.05 : 1] },
    },
    axes: [{}, { size: 70, values: (_u, vals) => vals.map((v) => `$${v.toLocaleString('en-US', { maximumFractionDigits: 4 })}`) }],
    series: [
      {},
      ...order.map((i) => ({
        label: lines[i].name,
        stroke: COLORS[i % COLORS.length],
        fill: COLORS[i % COLORS.length],
        width: 0,
        paths: bars,
        points: { show: false },
      })),
    ],
  };
  const data = [xs, ...order.map((i) => stacked[i])];
  chart?.destroy();
  $('chart').replaceChildren();
  chart = new uPlot(opts, data, $('chart'));
  chart.root.dataset.days = String(xs.length);
  $('legend').replaceChildren(
    ...lines.map((l, i) => {
      const li = document.createElement('li');
      const swatch = document.createElement('span');
      swatch.className = `swatch c${i % COLORS.length}`;
      li.append(swatch, `${l.name} ${usd(l.total)}`);
      return li;
    }),
  );
}

function remember(kind, rows) {
  for (const r of rows) if (r.key !== null) seen[kind].add(r.key);
}

/** Refills a filter's options: every value seen, the chosen one kept. */
function fillFilter(kind) {
  const select = /** @type {HTMLSelectElement} */ ($(kind));
  const values = [...seen[kind]].sort();
  if (state[kind] !== '' && !seen[kind].has(state[kind])) values.unshift(state[kind]);
  const all = document.createElement('option');
  all.value = '';
  all.textContent = 'all';
  select.replaceChildren(
    all,
    ...values.map((v) => {
      const o = document.createElement('option');
      o.value = v;
      o.textContent = v;
      return o;
    }),
  );
  select.value = state[kind];
}

function topTable(dim, breakdown) {
  const rows = breakdown.slice(0, 10).map((r) => ({
    cells: [r.key ?? '(none)', num(r.requests), num(r.totalTokens), usd(r.costUsd), pct(r.share)],
  }));
  fillTable(`top-${dim}`, [dim === 'userId' ? 'user' : dim, 'calls', 'tokens', 'cost', 'share'], rows, [1, 2, 3, 4]);
}

function rangeTitle(summary) {
  if (state.range !== 'custom') return state.range === '1' ? 'Last 24 hours' : `Last ${state.range} days`;
  return `${summary.period.since?.slice(0, 10) ?? 'start'} to ${state.until || 'now'}`;
}

/** Which advice request is the latest: an older answer arriving late is dropped. */
let adviceSeq = 0;
/** The view the advice shown is for, and when it was asked: the 30 s refresh asks again only every 5 minutes. */
let adviceFor = { query: null, at: 0 };
const ADVICE_EVERY_MS = 300_000;

/**
 * The advice for the view (GET /v1/advice), asked after the rest is drawn: it scans the ledger,
 * so the page does not wait for it. Each item's dollars, where, and what to do, largest first.
 */
async function loadAdvice(q) {
  const query = new URLSearchParams(q).toString();
  if (adviceFor.query === query && Date.now() - adviceFor.at < ADVICE_EVERY_MS) return;
  adviceFor = { query, at: Date.now() };
  const seq = ++adviceSeq;
  let advice;
  try {
    advice = await api('/v1/advice', q);
  } catch (e) {
    if (seq !== adviceSeq) return;
    adviceFor = { query: null, at: 0 };
    $('advice-note').textContent = `Could not load the advice: ${e instanceof Error ? e.message : String(e)}`;
    fillTable('advice', ['over the range', 'a month', 'advice', 'where', 'what the ledger shows · what to do'], [], [0, 1], '–');
    document.body.dataset.advice = query;
    return;
  }
  if (seq !== adviceSeq) return;
  const notes = [`From ${num(advice.calls)} calls (${usd(advice.costUsd)}) over ${advice.period.days} days.`];
  if (advice.thin !== null) notes.push(advice.thin);
  if (advice.omitted.items > 0)
    notes.push(
      `${num(advice.omitted.items)} item${advice.omitted.items === 1 ? '' : 's'} under ${usd(advice.minUsd)} left out (${usd(advice.omitted.usd)} in all).`,
    );
  if (advice.items.some((i) => i.estimate))
    notes.push('≈ marks a what-if resting on an assumption (a share cached, another model, quality aside).');
  if (advice.items.length > 1) notes.push('Items overlap: they do not add up.');
  $('advice-note').textContent = notes.join(' ');
  const money = (item, v) => `${item.estimate ? '≈ ' : ''}${usd(v)}`;
  fillTable(
    'advice',
    ['over the range', 'a month', 'advice', 'where', 'what the ledger shows · what to do'],
    advice.items.map((i) => ({
      cells: [
        money(i, i.usd),
        money(i, i.usdPerMonth),
        i.title,
        [i.where.provider, i.where.model, i.where.operation, ...i.where.agents.filter((a) => a !== null)].join(' · '),
        `${i.summary} ${i.action}`,
      ],
      className: `advice-${i.kind}`,
    })),
    [0, 1],
    advice.thin ?? 'Nothing to save that the ledger can show in this range.',
  );
  // What the tests wait for: the advice drawn for this view.
  document.body.dataset.advice = query;
}

let loading = false;
/** The view changed while a load was under way: load again once it ends, so the last choice wins. */
let again = false;

/** Every request the page makes, at once; then everything is drawn from their answers. */
async function load() {
  if (loading) {
    again = true;
    return;
  }
  loading = true;
  const t0 = performance.now();
  const range = rangeParams();
  const filters = filterParams();
  const q = { ...range, ...filters };
  // Whole UTC days from 31 days back: every day-aligned budget window of a month or less starts in them.
  const cardsSince = utcDay(Date.now() - 31 * DAY_MS);
  try {
    const [overview, days, errors, status, alerts, received] = await Promise.all([
      api('/v1/overview', { ...q, split: state.split }),
      api('/v1/summary', { ...filters, since: cardsSince, by: 'day' }),
      api('/v1/records', { ...q, errors: 'true', limit: '10' }),
      api('/v1/status'),
      api('/v1/alerts', { limit: '20' }),
      api('/v1/alertmanager/alerts', { days: '7', limit: '20' }),
    ]);
    showAuth('');
    showError('');
    const total = overview.total;
    $('range-title').textContent = rangeTitle(overview);
    $('total-usd').textContent = usd(total.costUsd);
    $('total-usd').dataset.pico = String(total.costPicoUsd);
    $('total-detail').textContent =
      `${num(total.requests)} calls · ${num(total.totalTokens)} tokens · ${num(total.errors)} errors` +
      (total.unpricedRequests > 0 ? ` · ${num(total.unpricedRequests)} unpriced` : '');
    const now = Date.now();
    const monthStart = `${utcDay(now).slice(0, 8)}01`;
    card('card-today', days.rows, budgetFor(status, 'daily'), utcDay(now));
    card('card-week', days.rows, budgetFor(status, 'rolling_7d'), utcDay(now - 6 * DAY_MS));
    card('card-month', days.rows, budgetFor(status, 'monthly'), monthStart);
    drawChart(overview.daily);
    for (const dim of ['model', 'agent', 'userId', 'operation']) topTable(dim, overview.breakdowns[dim]);
    if (Object.keys(filters).length === 0) {
      remember('provider', overview.breakdowns.provider);
      remember('user', overview.breakdowns.userId);
      remember('agent', overview.breakdowns.agent);
    }
    for (const k of ['provider', 'user', 'agent']) fillFilter(k);
    fillTable(
      'budgets',
      ['scope', 'id', 'window', 'used', 'limit', 'used %', 'level', 'resets (UTC)'],
      status
        .slice()
        .sort((a, b) => LEVELS.indexOf(b.level) - LEVELS.indexOf(a.level) || b.percentUsed - a.percentUsed)
        .map((b) => ({
          cells: [
            b.scope,
            b.scopeId,
            b.window,
            b.unit === 'usd' ? usd(b.used) : num(b.used),
            b.unit === 'usd' ? usd(b.limit) : `${num(b.limit)} tokens`,
            `${b.percentUsed}%`,
            b.level,
            b.resetsAt === null ? '–' : shortTime(b.resetsAt),
          ],
          className: `level-${b.level}`,
        })),
      [3, 4, 5],
      'No budgets: set them in config.json (see the README).',
    );
    fillTable(
      'alerts',
      ['time (UTC)', 'level', 'budget', 'used %', 'message'],
      // Newest first, from the ledger.
      alerts.alerts.map((a) => ({
        cells: [shortTime(a.at), a.level, `${a.budget.scope} ${a.budget.scopeId} ${a.budget.window}`, `${a.percentUsed}%`, a.message],
        className: `level-${a.level}`,
      })),
      [3],
      'No budget alert raised (the ledger keeps each one).',
    );
    fillTable(
      'alertmanager',
      ['last received (UTC)', 'status', 'severity', 'alert', 'summary', 'notifications'],
      received.alerts.map((a) => ({
        cells: [shortTime(a.lastReceivedAt), a.status, a.severity ?? '–', a.alertname ?? '–', a.summary ?? '', num(a.notifications)],
        className: a.status === 'firing' ? `level-${a.severity === 'warning' ? 'warning' : 'exceeded'}` : '',
      })),
      [5],
      'No notification from Alertmanager in 7 days (its webhook: POST /v1/alertmanager).',
    );
    fillTable(
      'errors',
      ['time (UTC)', 'provider', 'model', 'operation', 'user', 'agent', 'error'],
      errors.map((r) => ({
        cells: [
          shortTime(new Date(r.timestamp).toISOString()),
          r.provider,
          r.model,
          r.operation,
          r.userId ?? '–',
          r.agent ?? '–',
          [r.errorType, r.errorMessage].filter((x) => x).join(': ') || 'error',
        ],
      })),
      [],
      'No failed call in this range.',
    );
    loadAdvice(q);
    $('updated').textContent = `Updated ${new Date().toISOString().slice(11, 19)} UTC in ${Math.round(performance.now() - t0)} ms`;
    // What the tests wait for: the view drawn, by the query its numbers answer.
    document.body.dataset.query = new URLSearchParams(q).toString();
    document.body.dataset.loaded = String(Number(document.body.dataset.loaded ?? 0) + 1);
  } catch (e) {
    if (e instanceof Unauthorized) {
      const had = sessionStorage.getItem(TOKEN_KEY) !== null;
      showAuth(
        had
          ? 'The server refused the token (401 Unauthorized). Enter the right one: the one `tokenmeter serve` was given (--token or TOKENMETER_API_TOKEN).'
          : 'This server needs an API token: its data requests were answered 401 Unauthorized. Enter the token `tokenmeter serve` was given (--token or TOKENMETER_API_TOKEN); it is kept for this tab only.',
      );
    } else showError(`Could not load the data: ${e instanceof Error ? e.message : String(e)}`);
    document.body.dataset.failed = String(Number(document.body.dataset.failed ?? 0) + 1);
  } finally {
    loading = false;
    if (again) {
      again = false;
      load();
    }
  }
}

function syncControls() {
  /** @type {HTMLSelectElement} */ ($('range')).value = state.range;
  $('custom-range').hidden = state.range !== 'custom';
  /** @type {HTMLInputElement} */ ($('since')).value = state.since;
  /** @type {HTMLInputElement} */ ($('until')).value = state.until;
  /** @type {HTMLSelectElement} */ ($('split')).value = state.split;
  for (const k of ['provider', 'user', 'agent']) fillFilter(k);
}

/** Reads the controls into the state and the URL, then loads. */
function apply() {
  for (const k of ['range', 'since', 'until', 'provider', 'user', 'agent', 'split'])
    state[k] = /** @type {HTMLInputElement} */ ($(k)).value;
  $('custom-range').hidden = state.range !== 'custom';
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(state))
    if (v !== '' && !(k === 'range' && v === '30') && !(k === 'split' && v === 'provider')) p.set(k, v);
  const search = p.toString();
  history.replaceState(null, '', search === '' ? location.pathname : `?${search}`);
  if (state.range === 'custom' && state.since === '') return;
  load();
}

$('controls').addEventListener('change', apply);
$('split').addEventListener('change', apply);
$('controls').addEventListener('submit', (e) => {
  e.preventDefault();
  apply();
});
$('auth-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const token = /** @type {HTMLInputElement} */ ($('token')).value.trim();
  if (token === '') sessionStorage.removeItem(TOKEN_KEY);
  else sessionStorage.setItem(TOKEN_KEY, token);
  /** @type {HTMLInputElement} */ ($('token')).value = '';
  load();
});
window.addEventListener('resize', () => chart?.setSize({ width: $('chart').clientWidth, height: 280 }));
setInterval(() => {
  if (/** @type {HTMLInputElement} */ ($('auto')).checked && document.visibilityState === 'visible' && $('auth').hidden) load();
}, 30_000);

syncControls();
load();
