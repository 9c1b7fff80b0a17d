import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');

describe('what users deploy', () => {
  it('prometheus/prometheus.yml passes promtool and scrapes the port docker-compose.yml publishes', () => {
    const r = spawnSync('promtool', ['check', 'config', join(root, 'prometheus', 'prometheus.yml')], { encoding: 'utf8' });
    if (r.error) throw new Error(`promtool is not installed (run ./dev setup): ${r.error.message}`);
    expect(r.stdout + r.stderr).toContain('SUCCESS');
    expect(r.status).toBe(0);
    const compose = readFileSync(join(root, 'docker-compose.yml'), 'utf8');
    const port = /TOKENMETER_METRICS_PORT:\s*'(\d+)'/.exec(compose)?.[1];
    expect(port).toBeDefined();
    expect(readFileSync(join(root, 'prometheus', 'prometheus.yml'), 'utf8')).toContain(`'demo:${port}'`);
    expect(compose).toContain(`'${port}:${port}'`);
  });

  it('resolves each OpenTelemetry package to one copy', () => {
    const tree = JSON.parse(
      execFileSync('npm', ['ls', '--all', '--json'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }),
    );
    const versions = new Map<string, Set<string>>();
    const walk = (deps: Record<string, { version?: string; dependencies?: Record<string, unknown> }> | undefined) => {
      for (const [name, d] of Object.entries(deps ?? {})) {
        if (name.startsWith('@opentelemetry/') && d.version) {
          if (!versions.has(name)) versions.set(name, new Set());
          versions.get(name)?.add(d.version);
        }
        walk(d.dependencies as never);
      }
    };
    walk(tree.dependencies);
    expect(versions.size).toBeGreaterThan(5);
    const duplicated = [...versions].filter(([, v]) => v.size > 1).map(([n, v]) => `${n}@${[...v].join(',')}`);
    expect(duplicated).toEqual([]);
  });
});
