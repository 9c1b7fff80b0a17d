import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MAX_ALERTS_PER_NOTIFICATION } from '../src/ledger/notifications.ts';

const root = join(import.meta.dirname, '..');

/** A service of docker-compose.yml: the few keys these tests read, each list item and map entry unquoted. */
interface Service {
  image: string;
  command: string;
  ports: string[];
  volumes: string[];
  environment: Record<string, string>;
}

const unquote = (v: string) =>
  v
    .trim()
    .replace(/^'(.*)'$/, '$1')
    .replace(/^"(.*)"$/, '$1');

/** Reads the services of docker-compose.yml (two-space indents, block lists and maps, as the file is written). */
function composeServices(text: string): Map<string, Service> {
  const out = new Map<string, Service>();
  const body = /^services:\n([\s\S]*?)(?=^\S|(?![\s\S]))/m.exec(text)?.[1] ?? '';
  for (const block of body.split(/^(?= {2}[\w-]+:\s*$)/m)) {
    const name = /^ {2}([\w-]+):/.exec(block)?.[1];
    if (name === undefined) continue;
    const s: Service = { image: '', command: '', ports: [], volumes: [], environment: {} };
    let key = '';
    for (const line of block.split('\n').slice(1)) {
      if (/^\s*(#.*)?$/.test(line)) continue;
      const field = /^ {4}(\w+):\s*(.*)$/.exec(line);
      if (field) {
        key = field[1] as string;
        if (key === 'image') s.image = unquote(field[2] as string);
        if (key === 'command') s.command = field[2] as string;
        continue;
      }
      const item = /^ {6}- (.*)$/.exec(line);
      if (item && (key === 'ports' || key === 'volumes')) s[key].push(unquote(item[1] as string));
      const entry = /^ {6}(\w+):\s*(.*)$/.exec(line);
      if (entry && key === 'environment') s.environment[entry[1] as string] = unquote(entry[2] as string);
    }
    out.set(name, s);
  }
  return out;
}

/** `value` of `key:` in a YAML file written one key a line (the provisioning files). */
function yamlValue(text: string, key: string): string | undefined {
  const m = new RegExp(`^\\s*(?:- )?${key}:\\s*(.*?)\\s*$`, 'm').exec(text);
  return m === null ? undefined : unquote(m[1] as string);
}

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
    expect(composeServices(compose).get('demo')?.ports).toContain(`127.0.0.1:${port}:${port}`);
  });

  it('docker-compose.yml: pinned images, ports on 127.0.0.1, mounts that exist, and the URLs it names are its ports', () => {
    const compose = readFileSync(join(root, 'docker-compose.yml'), 'utf8');
    const services = composeServices(compose);
    expect([...services.keys()].sort()).toEqual(['alertmanager', 'demo', 'grafana', 'prometheus']);
    const published = new Map<number, string>();
    for (const [name, s] of services) {
      // An official image at a fixed version (no `latest`, no bare name).
      expect(s.image, `${name} image`).toMatch(/^[\w./-]+:v?\d+(\.\d+)*(-[\w.]+)?$/);
      expect(s.ports.length, `${name} publishes a port`).toBeGreaterThan(0);
      for (const p of s.ports) {
        const m = /^127\.0\.0\.1:(\d+):(\d+)$/.exec(p);
        expect(m, `${name} port ${p} binds 127.0.0.1`).not.toBeNull();
        published.set(Number(m?.[1]), name);
      }
      for (const v of s.volumes) {
        const [source] = v.split(':');
        if (source?.startsWith('.')) expect(existsSync(join(root, source)), `${name} mounts ${source}`).toBe(true);
      }
    }
    // The URLs the header tells users to open are the published ports of the services it names.
    const urls = [...compose.matchAll(/http:\/\/localhost:(\d+)/g)].map((m) => Number(m[1]));
    expect(urls.length).toBeGreaterThanOrEqual(3);
    for (const port of urls) expect(published.get(port), `http://localhost:${port}`).toBeDefined();
    expect(published.get(3000)).toBe('grafana');
    expect(published.get(9090)).toBe('prometheus');
    expect(published.get(9093)).toBe('alertmanager');
    // Prometheus sends alerts to the alertmanager service on the port it listens on.
    expect(readFileSync(join(root, 'prometheus', 'prometheus.yml'), 'utf8')).toContain("'alertmanager:9093'");
    expect(services.get('alertmanager')?.ports).toContain('127.0.0.1:9093:9093');
  });

  it('Grafana is provisioned from grafana/: the data source is the compose Prometheus, the dashboards the generated ones', () => {
    const grafana = composeServices(readFileSync(join(root, 'docker-compose.yml'), 'utf8')).get('grafana');
    if (grafana === undefined) throw new Error('docker-compose.yml has no grafana service');
    expect(grafana.image).toMatch(/^grafana\/grafana:\d+\.\d+\.\d+$/);
    const mounts = new Map(grafana.volumes.map((v) => [v.split(':')[0] as string, v.split(':')[1] as string]));
    expect(mounts.get('./grafana/provisioning')).toBe('/etc/grafana/provisioning');
    const dashboardsPath = mounts.get('./grafana/dashboards');
    expect(dashboardsPath).toBeDefined();

    // The data source: Prometheus's compose service, on the port it listens on (its default 9090,
    // which compose publishes), scraped at prometheus.yml's interval.
    const ds = readFileSync(join(root, 'grafana', 'provisioning', 'datasources', 'prometheus.yml'), 'utf8');
    expect(yamlValue(ds, 'type')).toBe('prometheus');
    const url = new URL(yamlValue(ds, 'url') ?? '');
    expect(url.hostname).toBe('prometheus');
    const prometheusService = composeServices(readFileSync(join(root, 'docker-compose.yml'), 'utf8')).get('prometheus');
    expect(prometheusService?.command).not.toContain('--web.listen-address');
    expect(prometheusService?.ports.map((p) => p.split(':')[2])).toContain(url.port);
    expect(url.port).toBe('9090');
    const scrapeInterval = yamlValue(readFileSync(join(root, 'prometheus', 'prometheus.yml'), 'utf8'), 'scrape_interval');
    expect(yamlValue(ds, 'timeInterval')).toBe(scrapeInterval);

    // The dashboards: the provider reads the folder compose mounts, which holds every generated dashboard,
    // each defaulting to the provisioned data source.
    const provider = readFileSync(join(root, 'grafana', 'provisioning', 'dashboards', 'tokenmeter.yml'), 'utf8');
    expect(yamlValue(provider, 'type')).toBe('file');
    expect(yamlValue(provider, 'path')).toBe(dashboardsPath);
    const uid = yamlValue(ds, 'uid');
    const files = ['tokenmeter-overview.json', 'tokenmeter-callers.json'];
    for (const f of files) {
      const d = JSON.parse(readFileSync(join(root, 'grafana', 'dashboards', f), 'utf8')) as {
        templating: { list: { type: string; current?: { value?: unknown } }[] };
      };
      expect(d.templating.list.find((v) => v.type === 'datasource')?.current?.value, f).toBe(uid);
    }
    // The home page is the overview, in the mounted folder.
    const home = grafana.environment.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH ?? '';
    expect(posix.dirname(home)).toBe(dashboardsPath);
    expect(files).toContain(posix.basename(home));
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
