// Budget and alert changes made to config.json take effect in a running monitor (no restart),
// within ledger.syncIntervalMs; a broken file keeps the budgets it last set, and says so in
// health(), tokenmeter_internal_errors_total{component="config"} and the log.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isBudgetExceededError, TokenMonitor } from '../src/index.ts';
import { parseExposition, sample, waitFor } from './helpers/prometheus.ts';

/** Waits (polling) until `cond` holds. */
const until = (what: string, cond: () => boolean) => waitFor(what, 5000, () => (cond() ? true : undefined));

import { chatCompletion } from './helpers/chat-completion.ts';
import { type ReplayServer, replayServer } from './helpers/replay-server.ts';

let replay: ReplayServer;
const dirs: string[] = [];

beforeAll(async () => {
  replay = await replayServer(() => ({
    json: chatCompletion('chatcmpl-reload'),
  }));
});

afterAll(async () => {
  await replay?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('config.json changes without a restart', () => {
  it('applies new limits, thresholds, added and removed budgets; keeps the last good ones while the file is broken', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tm-reload-'));
    dirs.push(dir);
    const file = join(dir, 'config.json');
    const write = (config: unknown) => writeFileSync(file, typeof config === 'string' ? config : JSON.stringify(config));
    write({ budgets: [{ scope: 'global', limit_usd: 1, enforce: true }] });
    const errors: string[] = [];
    const monitor = new TokenMonitor({
      dir,
      logger: { debug: () => {}, info: () => {}, warn: () => {}, error: (m) => errors.push(m) },
      metrics: { prometheus: { port: 0 } },
      ledger: { syncIntervalMs: 100 },
    });
    const openai = monitor.instrument(new OpenAI({ apiKey: 'sk-test-reload-0000', baseURL: `${replay.url}/v1`, maxRetries: 0 }));
    const ask = () =>
      openai.chat.completions.create({ model: 'gpt-4o', max_tokens: 200, messages: [{ role: 'user', content: 'Say ok.' }] });
    const global = () => monitor.status().find((s) => s.scope === 'global');
    const alerts: string[] = [];
    monitor.on('alert', (a) => alerts.push(`${a.level} ${a.budget.scope} ${a.limit}`));
    try {
      // $0.0045 a call: ten calls are $0.045 of $1.
      for (let i = 0; i < 10; i++) await ask();
      expect(global()).toMatchObject({ limit: 1, level: 'ok', source: 'config' });
      expect(global()?.used).toBeCloseTo(0.045, 6);

      // A lower limit and other thresholds: the spending so far stays counted against them.
      write({ alerts: { warning_threshold: 0.5 }, budgets: [{ scope: 'global', limit_usd: 0.08, enforce: true }] });
      await until('the new limit', () => global()?.limit === 0.08);
      expect(global()).toMatchObject({ level: 'warning', warningThreshold: 0.5 });
      expect(global()?.used).toBeCloseTo(0.045, 6);
      // The crossing the change made is alerted (at the next sync), not taken as already said.
      await until('the warning alerted', () => alerts.length > 0);
      expect(alerts).toEqual(['warning global 0.08']);
      // And it is enforced: the eighth call more passes $0.08 (its estimate fitted), the ninth is refused.
      let blocked = 0;
      for (let i = 0; i < 10; i++) {
        try {
          await ask();
        } catch (error) {
          if (!isBudgetExceededError(error)) throw error;
          blocked++;
        }
      }
      expect(blocked).toBe(2);
      expect(global()?.used).toBeCloseTo(0.081, 6);

      // A budget added, the global one removed: calls run again.
      write({ budgets: [{ scope: 'provider', id: 'anthropic', limit_usd: 5 }] });
      await until('the global budget removed', () => global() === undefined);
      expect(monitor.status().map((s) => `${s.scope}:${s.scopeId}:${s.limit}`)).toEqual(['provider:anthropic:5']);
      await ask();

      // A broken file: the budgets it set before stay, and it is reported.
      write('{ "budgets": [ { "scope": "global", ');
      await until('health to say the file is broken', () => monitor.health().config?.ok === false);
      // Nothing is lost: the monitor stays healthy (a liveness probe must not restart it into a file it cannot start with).
      expect(monitor.health()).toMatchObject({ ok: true, config: { ok: false, file } });
      expect(monitor.health().config?.lastError).toMatch(/not valid JSON/);
      expect(errors.join('\n')).toMatch(/config\.json.*is not valid JSON.*stay in force/);
      expect(monitor.status().map((s) => `${s.scope}:${s.scopeId}:${s.limit}`)).toEqual(['provider:anthropic:5']);
      const scrape = parseExposition(await (await fetch(monitor.metricsUrl as string)).text());
      expect(sample(scrape, 'tokenmeter_internal_errors_total', { component: 'config' })).toBe(1);
      // A file that parses but says something wrong is refused the same way, naming the field.
      write({ budgets: [{ scope: 'global', limit_usd: -3 }] });
      await until('the bad limit refused', () => errors.some((m) => /limit_usd/.test(m)));
      expect(monitor.status().map((s) => `${s.scope}:${s.scopeId}:${s.limit}`)).toEqual(['provider:anthropic:5']);

      // Fixed: applied, and health is good again.
      write({ budgets: [{ scope: 'provider', id: 'anthropic', limit_usd: 6 }] });
      await until('health to be good again', () => monitor.health().config?.ok === true);
      expect(monitor.status().map((s) => `${s.scope}:${s.scopeId}:${s.limit}`)).toEqual(['provider:anthropic:6']);
      expect(monitor.health().config).toMatchObject({ ok: true, lastError: undefined });
    } finally {
      await monitor.close();
    }
  });

  it('leaves budgets set in code alone, and reads config.json once with ledger.syncIntervalMs 0', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tm-reload-'));
    dirs.push(dir);
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ budgets: [{ scope: 'global', limit_usd: 1 }] }));
    const watched = new TokenMonitor({
      dir,
      logLevel: 'silent',
      metrics: false,
      ledger: { syncIntervalMs: 100 },
      budgets: [{ scope: 'user', scopeId: 'ann', limit: 2 }],
    });
    const fixed = new TokenMonitor({ dir, logLevel: 'silent', metrics: false, ledger: { syncIntervalMs: 0 } });
    try {
      writeFileSync(file, JSON.stringify({ budgets: [] }));
      await until('the global budget removed', () => watched.status().every((s) => s.scope !== 'global'));
      expect(watched.status().map((s) => `${s.scope}:${s.scopeId}:${s.source}`)).toEqual(['user:ann:code']);
      expect(fixed.status().map((s) => `${s.scope}:${s.limit}`)).toEqual(['global:1']);
    } finally {
      await watched.close();
      await fixed.close();
    }
  });
});
