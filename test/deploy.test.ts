import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MAX_ALERTS_PER_NOTIFICATION } from '../src/ledger/notifications.ts';

const root = join(import.meta.dirname, '..');

describe('what users deploy', () => {
  it('prometheus/prometheus.yml passes promtool and scrapes the port docker-compose.yml publishes', () => {
    const r = spawnSync('promtool', ['check', 'config', join(root, 'prometheus', 'prometheus.yml')], { encoding: 'utf8' });
    if (r.error) throw new Error(`promtool is not installed (run ./dev setup): ${r.error.message}`);
    expect(r.stdout + r.stderr).toContain('SUCCESS');
    expect(r.status).toBe(0);
    const compose = readFileSync(join(root, 'docker-compose.yml'), 'utf8');
    const port = /examples\/basic\.ts [^'\n]*--port (\d+)/.exec(compose)?.[1];
    expect(port).toBeDefined();
    expect(readFileSync(join(root, 'prometheus', 'prometheus.yml'), 'utf8')).toContain(`'demo:${port}'`);
    expect(compose).toContain(`'127.0.0.1:${port}:${port}'`);
  });

  it("prometheus/alertmanager.yml passes amtool and posts to the demo service's /v1/alertmanager with the token compose writes", () => {
    const file = join(root, 'prometheus', 'alertmanager.yml');
    const r = spawnSync('amtool', ['check-config', file], { encoding: 'utf8' });
    if (r.error) throw new Error(`amtool is not installed (run ./dev setup): ${r.error.message}`);
    expect(r.stdout + r.stderr).toContain('SUCCESS');
    expect(r.status).toBe(0);
    const yml = readFileSync(file, 'utf8');
    const compose = readFileSync(join(root, 'docker-compose.yml'), 'utf8');
    const port = /examples\/basic\.ts [^'\n]*--port (\d+)/.exec(compose)?.[1];
    // Every receiver's webhook: the compose service that runs the demo, its port, the route.
    const urls = [...yml.matchAll(/^\s*- url: '([^']+)'/gm)].map((m) => m[1]);
    expect(urls.length).toBe([...yml.matchAll(/^\s*- name: /gm)].length);
    for (const url of urls) expect(url).toBe(`http://demo:${port}/v1/alertmanager`);
    expect(compose).toMatch(/^ {2}demo:$/m);
    // The bearer token: the file each webhook reads is the one compose's entrypoint writes, from the
    // same variable the demo's serve reads.
    const files = [...yml.matchAll(/^\s*credentials_file: (\S+)$/gm)].map((m) => m[1]);
    expect(files.length).toBe(urls.length);
    for (const f of files) expect(compose).toContain(`> ${f} && exec /bin/alertmanager`);
    expect([...compose.matchAll(/^\s+TOKENMETER_API_TOKEN: \$\{TOKENMETER_API_TOKEN:\?/gm)]).toHaveLength(2);
    expect(yml).toMatch(/type: Bearer/);
    // Each notification within what one request to serve keeps.
    const maxAlerts = [...yml.matchAll(/^\s*max_alerts: (\d+)$/gm)].map((m) => Number(m[1]));
    expect(maxAlerts.length).toBe(urls.length);
    for (const n of maxAlerts) expect(n).toBeLessThanOrEqual(MAX_ALERTS_PER_NOTIFICATION);
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
