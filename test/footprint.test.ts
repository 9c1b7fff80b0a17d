import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

const child = join(import.meta.dirname, 'helpers', 'footprint-child.ts');
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function run(config?: object): { zod: boolean; server: boolean; otlp: boolean; sdkMetrics: boolean; costUsd: number | null } {
  const dir = mkdtempSync(join(tmpdir(), 'tm-footprint-'));
  dirs.push(dir);
  if (config !== undefined) writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  const r = spawnSync(process.execPath, [child, dir], { encoding: 'utf8', env: { ...process.env, TOKENMETER_DIR: dir } });
  if (r.status !== 0) throw new Error(`footprint child failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop() as string);
}

describe("what an app's heap holds of tokenmeter", () => {
  it('loads neither zod, the REST server nor the OpenTelemetry SDK to meter calls without a config file (some 6 MB of heap)', () => {
    const r = run();
    expect(r).toMatchObject({ zod: false, server: false, otlp: false, sdkMetrics: false });
    // gpt-4o-mini at $0.15 / $0.60 per 1M tokens: the call was priced from the bundled table.
    expect(r.costUsd).toBeCloseTo(0.00021, 10);
  }, 60_000);

  it("loads the config file's schema, synchronously, when there is a config file, and applies its prices", () => {
    const r = run({ pricing: { 'gpt-4o-mini': { input: 1, output: 2 } } });
    expect(r).toMatchObject({ zod: true, server: false });
    // $1 and $2 per 1M tokens from config.json: 1,000 × 1e-6 + 100 × 2e-6.
    expect(r.costUsd).toBeCloseTo(0.0012, 10);
  }, 60_000);

  it('a bad config file is still refused at start, naming the field', () => {
    expect(() => run({ pricing: { 'gpt-4o-mini': { input: -1 } } })).toThrow(/pricing.*gpt-4o-mini.*input|input.*-1/s);
  }, 60_000);
});
