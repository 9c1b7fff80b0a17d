import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROVIDER_IDS } from '../src/providers/registry.ts';

const cli = join(import.meta.dirname, '..', 'src', 'cli', 'index.ts');
function run(args: string[], env: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'tm-cli-'));
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...process.env, TOKENMETER_DIR: dir, ...env } });
  return { code: r.status, out: r.stdout, err: r.stderr, dir };
}

describe('tokenmeter pricing <model>', () => {
  it('shows the price used and where it came from', () => {
    const r = run(['pricing', 'gpt-4o-2024-08-06', '-p', 'openai']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('matched as     gpt-4o');
    expect(r.out).toMatch(/input\s+\$2\.50 \/ 1M tokens/);
    expect(r.out).toMatch(/cached input\s+\$1\.25 \/ 1M tokens/);
    expect(r.out).toMatch(/output\s+\$10\.00 \/ 1M tokens/);
    expect(r.out).toMatch(/source\s+genai-prices \d+\.\d+\.\d+: openai\/gpt-4o, https:\/\//);
  });

  it('shows long-context tiers and rerank prices, and prints JSON when asked', () => {
    expect(run(['pricing', 'gemini-2.5-pro']).out).toContain("$2.50 / 1M tokens when a call's input exceeds 200,000 tokens");
    const rerank = JSON.parse(run(['pricing', 'rerank-v3.5', '--provider', 'cohere', '--json']).out);
    expect(rerank).toMatchObject({ provider: 'cohere', source: 'rerank-table', usdPerSearchUnit: 0.002 });
    expect(rerank.sourceDetail).toContain('https://cohere.com/pricing');
  });

  it('reads prices from config.json in the storage dir', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tm-cli-'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ pricing: { 'house-model': { input: 1.5, output: 4 } } }));
    const r = run(['pricing', 'house-model', '--json'], { TOKENMETER_DIR: dir });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ source: 'config', input: { usdPerMillion: 1.5 }, output: { usdPerMillion: 4 } });
  });

  it('shows audio rates for the models that have them, from genai-prices or config.json', () => {
    const r = run(['pricing', 'gpt-realtime', '-p', 'openai']);
    expect(r.out).toMatch(/audio input\s+\$32\.00 \/ 1M tokens/);
    expect(r.out).toMatch(/cached audio\s+\$0\.40 \/ 1M tokens/);
    expect(r.out).toMatch(/audio output\s+\$64\.00 \/ 1M tokens/);
    expect(run(['pricing', 'gpt-4o', '-p', 'openai']).out).not.toContain('audio');
    const dir = mkdtempSync(join(tmpdir(), 'tm-cli-'));
    const pricing = { 'house-voice': { input: 1, output: 2, input_audio: 8, cached_audio: 0.5, output_audio: 16 } };
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ pricing }));
    expect(JSON.parse(run(['pricing', 'house-voice', '--json'], { TOKENMETER_DIR: dir }).out)).toMatchObject({
      source: 'config',
      audioInput: { usdPerMillion: 8 },
      cachedAudioInput: { usdPerMillion: 0.5 },
      audioOutput: { usdPerMillion: 16 },
    });
  });

  it('says when a model has no price (exit 1) and rejects bad arguments (exit 2)', () => {
    const unknown = run(['pricing', 'no-such-model-xyz']);
    expect(unknown.code).toBe(1);
    expect(unknown.out).toContain('No price known for "no-such-model-xyz"');
    const missing = run(['pricing']);
    expect(missing.code).toBe(2);
    expect(missing.err).toContain('name a model (tokenmeter pricing gpt-4o), or fetch current prices with --refresh');
    expect(run(['pricing', 'gpt-4o', '--bogus']).code).toBe(2);
    expect(run(['no-such-command']).code).toBe(2);
  });

  it('names the bad key of a broken config file (exit 2)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tm-cli-'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ pricing: { m: { output: -3 } } }));
    const r = run(['pricing', 'm'], { TOKENMETER_DIR: dir });
    expect(r.code).toBe(2);
    expect(r.err).toContain('pricing.m.output: -3');
  });
});

describe('tokenmeter inspect <file> --provider <id>', () => {
  const fixtures = join(import.meta.dirname, 'fixtures');
  it('prints what it reads from a saved response and what it would cost', () => {
    const r = run(['inspect', join(fixtures, 'anthropic-message-cache.json'), '--provider', 'anthropic']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/input tokens\s+188,107/);
    expect(r.out).toMatch(/cache write\s+188,086/);
    // 21×3 + 188,086×3.75 + 393×15 per 1M = $0.7112805
    expect(r.out).toMatch(/cost\s+\$0\.7112805\n/);
    expect(r.out).toContain('price from      genai-prices');
  });

  it('shows the audio tokens of an audio call, priced at the audio rates', () => {
    const r = run(['inspect', join(fixtures, 'openai-chat-audio.json'), '-p', 'openai']);
    expect(r.out).toMatch(/input tokens\s+64\n\s+cached\s+0\n\s+cache write\s+unknown\n\s+audio\s+44\n/);
    expect(r.out).toMatch(/output tokens\s+56\n\s+reasoning\s+0\n\s+audio\s+47\n/);
    // gpt-audio per 1M: 20 text in at $2.50, 44 audio in at $32, 9 text out at $10, 47 audio out at $64
    expect(r.out).toMatch(/cost\s+\$0\.004556\n/);
    expect(run(['inspect', join(fixtures, 'openai-chat-stream.sse'), '-p', 'openai']).out).not.toContain('audio');
  });

  it('reads SSE streams (LF or CRLF) and says when usage is missing', () => {
    const r = run(['inspect', join(fixtures, 'openai-chat-stream.sse'), '-p', 'openai', '--json']);
    expect(JSON.parse(r.out)).toMatchObject({ inputTokens: 9, outputTokens: 2, usageSource: 'reported', costUsd: 0.00000255 });
    const missing = run(['inspect', join(fixtures, 'openai-chat-stream-no-usage.sse'), '-p', 'openai']);
    expect(missing.out).toMatch(/usage\s+missing/);
    expect(missing.out).toMatch(/cost\s+unknown/);
  });

  it('names a file it cannot read (exit 2) and needs a provider (exit 2)', () => {
    const r = run(['inspect', '/no/such/file.json', '-p', 'openai']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('Invalid file: "/no/such/file.json"');
    expect(run(['inspect', join(fixtures, 'openai-embeddings.json')]).code).toBe(2);
  });
});

describe('tokenmeter providers', () => {
  it('lists the provider ids it knows, with their SDK clients and price source, as a table or JSON', () => {
    const r = run(['providers']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(
      /aws_bedrock\s+│ Amazon Bedrock\s+│ llm, embedding\s+│ @aws-sdk\/client-bedrock-runtime, @anthropic-ai\/sdk\s+│ aws/,
    );
    const rows = JSON.parse(run(['providers', '--json']).out) as { id: string; prices: string }[];
    expect(rows.map((p) => p.id)).toEqual([...PROVIDER_IDS]);
    expect(rows.find((p) => p.id === 'ollama')?.prices).toBe('local');
    expect(run(['inspect', '--help']).out).toMatch(/`tokenmeter providers`\s+lists\s+them/);
  });
});

describe('the command as people pipe and run it', () => {
  const bin = join(import.meta.dirname, '..', 'src', 'cli', 'bin.ts');

  it('ends quietly with 0 when its reader stops early (`tokenmeter records | head -1`)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tm-cli-pipe-'));
    const { TokenMonitor } = await import('../src/index.ts');
    const m = new TokenMonitor({ dir, metrics: false, loadConfig: false });
    for (let i = 0; i < 2_000; i++)
      m.record({ provider: 'openai', model: 'gpt-4o', inputTokens: 10, outputTokens: 5, timestamp: Date.now() - i });
    await m.close();
    // The shell's `| head -1`: the reader takes one line and closes the pipe while the command still writes.
    const r = spawnSync(
      'bash',
      ['-c', `"${process.execPath}" "${bin}" records --limit 2000 --dir "${dir}" | head -1; echo "status \${PIPESTATUS[0]}" >&2`],
      { encoding: 'utf8' },
    );
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).not.toMatch(/EPIPE| {4}at /);
    expect(r.stderr.trim()).toBe('status 0');
  }, 60_000);

  it('says which Node it needs, in one line with exit 2, on a Node older than 22.12', async () => {
    const { nodeTooOld } = await import('../src/cli/node-version.ts');
    expect(nodeTooOld('20.20.2', '/usr/bin/node')).toMatch(
      /^tokenmeter: needs Node\.js 22\.12 or later, and this is Node\.js 20\.20\.2 \(\/usr\/bin\/node\)/,
    );
    expect(nodeTooOld('22.11.0')).toMatch(/needs Node\.js 22\.12 or later, and this is Node\.js 22\.11\.0/);
    expect(nodeTooOld('22.12.0')).toBeUndefined();
    expect(nodeTooOld('23.0.1')).toBeUndefined();
    expect(nodeTooOld('24.22.3')).toBeUndefined();
  });
});
