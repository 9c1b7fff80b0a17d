import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type PostgresServer, startPostgres } from '../../test/helpers/postgres.ts';
import { MAX_ALERTS_PER_NOTIFICATION, MAX_KEPT_ALERTS, type ReceivedAlert } from '../ledger/notifications.ts';
import { PostgresStore } from '../ledger/postgres.ts';
import { SqliteStore } from '../ledger/sqlite.ts';
import type { LedgerStore } from '../ledger/types.ts';
import { TokenMonitor } from '../monitor.ts';
import { type ApiServer, startApiServer } from './api.ts';

const TOKEN = 'test-token-0123456789';
const dirs: string[] = [];
const servers: ApiServer[] = [];
const monitors: TokenMonitor[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
  for (const m of monitors.splice(0)) await m.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

let pgServer: PostgresServer;
beforeAll(async () => {
  pgServer = await startPostgres();
});
afterAll(async () => {
  await pgServer?.remove();
});

/** The two stores every test here runs against: a SQLite file, a PostgreSQL database. */
const STORES = ['sqlite', 'postgres'] as const;
type Kind = (typeof STORES)[number];

/** A fresh ledger of `kind`: where it is, and a store reading it (for any other reader: the CLI). */
async function ledgerOf(
  kind: Kind,
): Promise<{ ledger: { dir: string } | { url: string }; open: () => LedgerStore & { close(): Promise<void> } }> {
  const dir = mkdtempSync(join(tmpdir(), 'tokenmeter-am-'));
  dirs.push(dir);
  if (kind === 'sqlite') return { ledger: { dir }, open: () => new SqliteStore(join(dir, 'ledger.db')) };
  const url = await pgServer.database();
  return { ledger: { url }, open: () => new PostgresStore(url) };
}

async function start(kind: Kind): Promise<{ url: string; open: () => LedgerStore }> {
  const { ledger, open } = await ledgerOf(kind);
  const monitor = new TokenMonitor({
    ...('dir' in ledger ? { dir: ledger.dir } : { ledger: { url: ledger.url } }),
    metrics: { prometheus: { serve: false } },
    loadConfig: false,
    logLevel: 'silent',
  });
  monitors.push(monitor);
  const server = await startApiServer(monitor, { port: 0, token: TOKEN });
  servers.push(server);
  return { url: server.url, open };
}

/** An alert as Alertmanager 0.25 writes it into a webhook payload. */
function alert(name: string, status: 'firing' | 'resolved', extra: Record<string, unknown> = {}) {
  return {
    status,
    labels: { alertname: name, severity: 'critical', scope: 'user', scope_id: 'alice' },
    annotations: { summary: `${name} for alice`, description: 'Used $10.50 of $10.00' },
    startsAt: '2026-05-01T10:00:00.123456789Z',
    endsAt: status === 'resolved' ? '2026-05-01T10:05:00Z' : '0001-01-01T00:00:00Z',
    generatorURL: 'http://prometheus:9090/graph?g0.expr=x',
    fingerprint: `fp-${name}`,
    ...extra,
  };
}

function payload(alerts: unknown[], extra: Record<string, unknown> = {}) {
  return {
    receiver: 'tokenmeter-critical',
    status: 'firing',
    alerts,
    groupLabels: { alertname: 'TokenmeterBudgetExceeded' },
    commonLabels: { severity: 'critical' },
    commonAnnotations: {},
    externalURL: 'http://alertmanager:9093',
    version: '4',
    groupKey: '{}/{severity="critical"}:{alertname="TokenmeterBudgetExceeded"}',
    truncatedAlerts: 0,
    ...extra,
  };
}

const post = (url: string, body: unknown, token: string | null = TOKEN) =>
  fetch(`${url}/v1/alertmanager`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token === null ? {} : { authorization: `Bearer ${token}` }) },
    body: JSON.stringify(body),
  });

async function alerts(url: string, query = ''): Promise<ReceivedAlert[]> {
  const res = await fetch(`${url}/v1/alertmanager/alerts${query}`, { headers: { authorization: `Bearer ${TOKEN}` } });
  expect(res.status).toBe(200);
  return ((await res.json()) as { alerts: ReceivedAlert[] }).alerts;
}

describe.each(STORES)('POST /v1/alertmanager, %s ledger', (kind) => {
  it('keeps each alert once by fingerprint and start, updated by the notifications that repeat and resolve it', async () => {
    const { url, open } = await start(kind);
    const firing = await post(url, payload([alert('TokenmeterBudgetExceeded', 'firing'), alert('TokenmeterBudgetCritical', 'firing')]));
    expect(firing.status).toBe(200);
    expect(await firing.json()).toEqual({ kept: 2, truncatedAlerts: 0 });
    const first = await alerts(url);
    expect(first).toHaveLength(2);
    const exceeded = first.find((a) => a.alertname === 'TokenmeterBudgetExceeded');
    expect(exceeded).toMatchObject({
      fingerprint: 'fp-TokenmeterBudgetExceeded',
      status: 'firing',
      severity: 'critical',
      summary: 'TokenmeterBudgetExceeded for alice',
      labels: { alertname: 'TokenmeterBudgetExceeded', severity: 'critical', scope: 'user', scope_id: 'alice' },
      startsAt: '2026-05-01T10:00:00.123Z',
      endsAt: null,
      receiver: 'tokenmeter-critical',
      notifications: 1,
    });

    // The resolution: the same alert, updated, not a second one.
    const resolved = await post(url, payload([alert('TokenmeterBudgetExceeded', 'resolved')], { status: 'resolved' }));
    expect(resolved.status).toBe(200);
    const after = await alerts(url);
    expect(after).toHaveLength(2);
    expect(after[0]).toMatchObject({
      alertname: 'TokenmeterBudgetExceeded',
      status: 'resolved',
      endsAt: '2026-05-01T10:05:00.000Z',
      notifications: 2,
      firstReceivedAt: exceeded?.firstReceivedAt,
    });
    expect(Date.parse(after[0]?.lastReceivedAt as string)).toBeGreaterThanOrEqual(Date.parse(exceeded?.lastReceivedAt as string));
    expect((await alerts(url, '?status=firing')).map((a) => a.alertname)).toEqual(['TokenmeterBudgetCritical']);
    expect(await alerts(url, '?limit=1')).toHaveLength(1);

    // In the ledger, for any other reader (the CLI).
    await Promise.all(servers.splice(0).map((s) => s.close()));
    for (const m of monitors.splice(0)) await m.close();
    const store = open();
    try {
      expect(((await store.receivedAlerts?.()) ?? []).map((a) => [a.alertname, a.status])).toEqual([
        ['TokenmeterBudgetExceeded', 'resolved'],
        ['TokenmeterBudgetCritical', 'firing'],
      ]);
    } finally {
      await store.close();
    }
  });

  it('counts an alert a notification carries twice as two notifications of one alert, as both stores do', async () => {
    const { url } = await start(kind);
    const twice = await post(url, payload([alert('A', 'firing'), alert('A', 'resolved')]));
    expect(await twice.json()).toEqual({ kept: 2, truncatedAlerts: 0 });
    expect(await alerts(url)).toMatchObject([{ alertname: 'A', status: 'resolved', notifications: 2 }]);
  });

  it('needs the bearer token, as every /v1 route', async () => {
    const { url } = await start(kind);
    expect((await post(url, payload([alert('A', 'firing')]), null)).status).toBe(401);
    expect((await post(url, payload([alert('A', 'firing')]), 'wrong')).status).toBe(401);
    expect((await fetch(`${url}/v1/alertmanager/alerts`)).status).toBe(401);
    expect(await alerts(url)).toEqual([]);
  });

  it.each([
    ['a version other than 4', payload([], { version: '3' }), 'version', '3'],
    ['no receiver', { ...payload([]), receiver: undefined }, 'receiver', null],
    ['a status that is neither firing nor resolved', payload([], { status: 'pending' }), 'status', 'pending'],
    ['alerts that is not an array', payload([], { alerts: {} }), 'alerts', '{}'],
    [
      'a start that is not RFC 3339',
      payload([alert('A', 'firing'), alert('B', 'firing', { startsAt: 'yesterday' })]),
      'alerts[1].startsAt',
      'yesterday',
    ],
    [
      'a label value that is not a string',
      payload([alert('A', 'firing', { labels: { alertname: 'A', severity: 3 } })]),
      'alerts[0].labels.severity',
      3,
    ],
    ['an empty fingerprint', payload([alert('A', 'firing', { fingerprint: '' })]), 'alerts[0].fingerprint', ''],
    ['a negative truncatedAlerts', payload([], { truncatedAlerts: -1 }), 'truncatedAlerts', -1],
    ['groupLabels that are not an object', payload([], { groupLabels: 'x' }), 'groupLabels', 'x'],
    ['an array', [payload([])], 'body', expect.stringMatching(/^\[\{"receiver":"tokenmeter-critical",.*…$/)],
  ])('answers 400 naming the field for %s, and keeps nothing', async (_, body, field, value) => {
    const { url } = await start(kind);
    const res = await post(url, body);
    expect(res.status).toBe(400);
    const error = ((await res.json()) as { error: { type: string; field: string; value: unknown; message: string } }).error;
    expect(error.type).toBe('validation_error');
    expect(error.field).toBe(field);
    expect(error.value).toEqual(value);
    expect(error.message).toContain(`Invalid ${field}`);
    expect(await alerts(url)).toEqual([]);
  });

  it('keeps at most MAX_ALERTS_PER_NOTIFICATION alerts of one request, counting the rest as truncated', async () => {
    const { url } = await start(kind);
    const many = Array.from({ length: MAX_ALERTS_PER_NOTIFICATION + 200 }, (_, i) => alert(`A${i}`, 'firing'));
    const res = await post(url, payload(many, { truncatedAlerts: 5 }));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ kept: MAX_ALERTS_PER_NOTIFICATION, truncatedAlerts: 205 });
    expect(await alerts(url, '?limit=10000')).toHaveLength(MAX_ALERTS_PER_NOTIFICATION);
    // Not silent: counted where tokenmeter counts what it could not keep.
    expect(await (await fetch(`${url}/metrics`)).text()).toMatch(/^tokenmeter_internal_errors_total\{component="alertmanager"\} 1$/m);
  });

  it('answers 400 for a bad query of GET /v1/alertmanager/alerts', async () => {
    const { url } = await start(kind);
    for (const [q, field] of [
      ['?status=pending', 'status'],
      ['?limit=0', 'limit'],
      ['?user=alice', 'user'],
    ] as const) {
      const res = await fetch(`${url}/v1/alertmanager/alerts${q}`, { headers: { authorization: `Bearer ${TOKEN}` } });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { field: string } }).error.field).toBe(field);
    }
  });
});

describe.each(STORES)('the %s ledger keeps a bounded number of received alerts', (kind) => {
  it('drops those least recently notified past MAX_KEPT_ALERTS', async () => {
    const store = (await ledgerOf(kind)).open();
    try {
      const batches = Math.ceil(MAX_KEPT_ALERTS / MAX_ALERTS_PER_NOTIFICATION) + 1;
      for (let b = 0; b < batches; b++) {
        const n = {
          receiver: 'r',
          status: 'firing' as const,
          groupLabels: {},
          commonLabels: {},
          commonAnnotations: {},
          externalURL: '',
          groupKey: `g${b}`,
          truncatedAlerts: 0,
          alerts: Array.from({ length: MAX_ALERTS_PER_NOTIFICATION }, (_, i) => ({
            status: 'firing' as const,
            labels: { alertname: `b${b}-${i}` },
            annotations: {},
            startsAt: 0,
            endsAt: null,
            generatorURL: '',
            fingerprint: `b${b}-${i}`,
          })),
        };
        await store.keepNotification?.(n, 1_000_000 + b);
      }
      const kept = (await store.receivedAlerts?.({ limit: 100_000 })) ?? [];
      expect(kept.length).toBeLessThanOrEqual(MAX_KEPT_ALERTS);
      expect(kept.length).toBeGreaterThan(MAX_KEPT_ALERTS - MAX_ALERTS_PER_NOTIFICATION);
      // The newest notification's alerts are all there; the oldest's are gone.
      expect(kept.filter((a) => a.alertname?.startsWith(`b${batches - 1}-`))).toHaveLength(MAX_ALERTS_PER_NOTIFICATION);
      expect(kept.filter((a) => a.alertname?.startsWith('b0-'))).toHaveLength(0);
    } finally {
      await store.close();
    }
  });
});
