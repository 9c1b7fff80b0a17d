import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import type { AlertmanagerNotification } from './notifications.ts';
import { SqliteStore } from './sqlite.ts';
import { MIGRATIONS } from './sqlite-migrations.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const notification: AlertmanagerNotification = {
  receiver: 'tokenmeter-warning',
  status: 'firing',
  groupLabels: { alertname: 'TokenmeterBudgetWarning' },
  commonLabels: {},
  commonAnnotations: {},
  externalURL: 'http://alertmanager:9093',
  groupKey: '{}:{alertname="TokenmeterBudgetWarning"}',
  truncatedAlerts: 0,
  alerts: [
    {
      status: 'firing',
      labels: { alertname: 'TokenmeterBudgetWarning', severity: 'warning' },
      annotations: { summary: 'warned' },
      startsAt: Date.UTC(2026, 4, 1),
      endsAt: null,
      generatorURL: '',
      fingerprint: 'f1',
    },
  ],
};

describe('Alertmanager notifications in a ledger written by an older tokenmeter', () => {
  it('read as none from a schema 4 ledger opened read-only (the CLI), and kept once the ledger is migrated to 5', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tm-notifications-'));
    dirs.push(dir);
    const file = join(dir, 'ledger.db');
    const v4 = new Database(file);
    for (const m of MIGRATIONS.slice(0, 4)) v4.exec(m);
    v4.pragma('user_version = 4');
    v4.close();

    const reader = new SqliteStore(file, { readonly: true });
    try {
      expect(reader.receivedAlerts()).toEqual([]);
    } finally {
      reader.closeSync();
    }

    const writer = new SqliteStore(file);
    try {
      expect(writer.keepNotification(notification, Date.UTC(2026, 4, 1, 0, 1))).toEqual({ alerts: 1, truncatedAlerts: 0 });
      expect(writer.receivedAlerts()).toMatchObject([
        { alertname: 'TokenmeterBudgetWarning', status: 'firing', summary: 'warned', lastReceivedAt: '2026-05-01T00:01:00.000Z' },
      ]);
    } finally {
      writer.closeSync();
    }
    const db = new Database(file, { readonly: true });
    expect(db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
    expect(db.prepare('SELECT receiver, alerts FROM alertmanager_notifications').all()).toEqual([
      { receiver: 'tokenmeter-warning', alerts: 1 },
    ]);
    db.close();
  });
});
