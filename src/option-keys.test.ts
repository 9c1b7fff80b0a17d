import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ValidationError } from './errors.ts';
import { closeTokenMonitor, getTokenMonitor, track, trackEmbeddingUsage, trackLlmUsage } from './global.ts';
import { tokenmeterMiddleware } from './integrations/ai-sdk.ts';
import { attachTokenTracking, trackEmbeddings } from './integrations/langchain.ts';
import { TokenMonitor, type TokenMonitorOptions } from './monitor.ts';
import { startApiServer } from './server/api.ts';

// Every option object: an unknown key is a ValidationError naming it and the key meant, never a
// silent default (a misspelt `enforce` would leave a budget unenforced).
const monitors: TokenMonitor[] = [];
afterEach(async () => {
  await Promise.all(monitors.splice(0).map((m) => m.close()));
  await closeTokenMonitor();
});

function monitor(options: TokenMonitorOptions = {}): TokenMonitor {
  const m = new TokenMonitor({ loadConfig: false, ledger: false, metrics: { prometheus: false }, ...options });
  monitors.push(m);
  return m;
}

function thrown(fn: () => unknown): ValidationError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ValidationError) return e;
    throw e;
  }
  throw new Error('expected a ValidationError');
}

describe('TokenMonitor options', () => {
  it('refuse an unknown key at any depth, naming it and the key meant', () => {
    const cases: [Record<string, unknown>, string, string][] = [
      [{ directory: '/tmp/x' }, 'directory', 'Unknown key directory in TokenMonitor options'],
      [{ disable: true }, 'disable', 'did you mean disabled?'],
      [{ storage_dir: '/tmp/x' }, 'storage_dir', 'Unknown key storage_dir in TokenMonitor options'],
      [{ metrics: { prometheus: { prot: 0 } } }, 'metrics.prometheus.prot', 'did you mean port?'],
      [{ metrics: { labels: { userID: true } } }, 'metrics.labels.userID', 'did you mean userId?'],
      [{ metrics: { maxLabelSet: 10 } }, 'metrics.maxLabelSet', 'did you mean maxLabelSets?'],
      [{ ledger: { batch_size: 10 } }, 'ledger.batch_size', 'did you mean batchSize?'],
      [{ budgets: [{ scope: 'global', limit: 1, enforced: true }] }, 'budgets[0].enforced', 'did you mean enforce?'],
    ];
    for (const [options, field, said] of cases) {
      const e = thrown(() => new TokenMonitor({ loadConfig: false, ledger: false, metrics: false, ...options } as TokenMonitorOptions));
      expect(e.field).toBe(field);
      expect(e.message).toContain(said);
    }
  });
});

describe('method options', () => {
  it('setBudget, setLimit and session refuse unknown keys, and set nothing', () => {
    const m = monitor();
    expect(thrown(() => m.setBudget({ scope: 'user', scopeId: 'u1', limit: 1, enforced: true } as never)).message).toBe(
      'Unknown key enforced in a budget: did you mean enforce?',
    );
    expect(thrown(() => m.setBudget({ scope: 'global', limit: 1, cycle: { kind: 'monthly', reset_day: 5 } } as never)).field).toBe(
      'cycle.reset_day',
    );
    expect(thrown(() => m.setBudget({ scope: 'global', limit: 1, thresholds: { warn: 0.5 } } as never)).message).toContain(
      'thresholds.warn',
    );
    expect(thrown(() => m.setLimit('openai', 'monthly_limit', 5, { warning_threshold: 0.5 } as never)).message).toBe(
      'Unknown key warning_threshold in setLimit options: did you mean warningThreshold?',
    );
    expect(thrown(() => m.session({ budget_usd: 0.5 } as never)).message).toContain('did you mean budgetUsd?');
    expect(m.budgetStatus()).toEqual([]);
  });

  it('withContext, instrument and track refuse unknown keys', () => {
    const m = monitor();
    expect(thrown(() => m.withContext({ user_id: 'u1' } as never, () => 1)).message).toBe(
      'Unknown key user_id in a call context: did you mean userId?',
    );
    expect(thrown(() => m.instrument({}, { agnet: 'a' } as never)).message).toContain('did you mean agent?');
    expect(thrown(() => m.track(() => 1, { provider: 'openai', modle: 'gpt-4o' } as never)).message).toContain('did you mean model?');
    getTokenMonitor({ loadConfig: false, ledger: false, metrics: false });
    expect(thrown(() => track(() => 1, { provider: 'openai', operation_name: 'x' } as never)).field).toBe('operation_name');
    expect(thrown(() => trackLlmUsage({ provider: 'openai', Model: 'gpt-4o' } as never)).message).toBe(
      'Unknown key Model in trackLlmUsage options: did you mean model?',
    );
    expect(thrown(() => trackEmbeddingUsage({ provider: 'openai', serviceType: 'llm' } as never)).field).toBe('serviceType');
  });

  it('the LangChain and AI SDK integrations refuse unknown keys (ASTRA’s agent_name included)', () => {
    const m = monitor();
    expect(thrown(() => attachTokenTracking({}, { agent_name: 'domain_agent' } as never, m)).message).toBe(
      'Unknown key agent_name in LangChain tracking options: did you mean agentName?',
    );
    expect(thrown(() => attachTokenTracking({}, { agent: 'domain_agent' } as never, m)).message).toContain('did you mean agentName?');
    expect(thrown(() => trackEmbeddings({}, { user: 'u1' } as never, m)).field).toBe('user');
    expect(thrown(() => tokenmeterMiddleware({ agentName: 'a' } as never, m)).message).toBe(
      'Unknown key agentName in tokenmeterMiddleware options: did you mean agent?',
    );
    expect(attachTokenTracking({}, { agentName: 'domain_agent', userId: 'u1' }, m).callbacks).toHaveLength(1);
  });

  it('startApiServer refuses an unknown option before it listens', async () => {
    const m = monitor();
    await expect(startApiServer(m, { port: 0, max_body_bytes: 10 } as never)).rejects.toThrow(
      'Unknown key max_body_bytes in startApiServer options: did you mean maxBodyBytes?',
    );
  });

  it('report queries refuse unknown filters, which would answer for everything', async () => {
    const m = new TokenMonitor({ dir: mkdtempSync(join(tmpdir(), 'tm-opt-')), loadConfig: false, metrics: false });
    monitors.push(m);
    m.record({ provider: 'openai', model: 'gpt-4o', inputTokens: 1, userId: 'u1' });
    await expect(m.records({ user: 'u2' } as never)).rejects.toThrow('Unknown key user in a records query: did you mean userId?');
    await expect(m.summary({ by: 'model', day: 1 } as never)).rejects.toThrow('did you mean days?');
    await expect(m.report({ Provider: 'openai' } as never)).rejects.toThrow('did you mean provider?');
    await expect(m.cleanup({ day: 3 } as never)).rejects.toThrow('did you mean days?');
    expect(await m.records({ userId: 'u1', limit: 5 })).toHaveLength(1);
  });
});
