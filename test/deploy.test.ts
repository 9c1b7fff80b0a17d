import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join, posix } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { TokenMonitor } from '../src/index.ts';
import { MAX_ALERTS_PER_NOTIFICATION } from '../src/ledger/notifications.ts';
import { INSTRUMENT } from '../src/metrics/names.ts';

const root = join(import.meta.dirname, '..');

/** A service of docker-compose.yml: the few keys these tests read, each list item and map entry unquoted. */
interface Service {
  image: string;
  command: string;
  profiles: string;
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
    const s: Service = { image: '', command: '', profiles: '', ports: [], volumes: [], environment: {} };
    let key = '';
    for (const line of block.split('\n').slice(1)) {
      if (/^\s*(#.*)?$/.test(line)) continue;
      const field = /^ {4}(\w+):\s*(.*)$/.exec(line);
      if (field) {
        key = field[1] as string;
        if (key === 'image') s.image = unquote(field[2] as string);
        if (key === 'command') s.command = field[2] as string;
        if (key === 'profiles') s.profiles = field[2] as string;
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
    expect([...services.keys()].sort()).toEqual(['alertmanager', 'demo', 'grafana', 'otel-collector', 'prometheus']);
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
      execFileSync('npm', ['ls', '--all', '--json'], {
        cwd: root,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
        maxBuffer: 256 * 1024 * 1024,
      }),
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

  describe('the OpenTelemetry Collector (deploy/otel-collector.yml, compose profile collector)', () => {
    // No Collector binary can be installed here (no Docker, not in Debian): the config is checked
    // for what the Collector itself checks at start (every component a pipeline names is defined,
    // of a known type, in the right section) and against what it must match: tokenmeter's
    // exporter, docker-compose.yml and prometheus.yml. The Collector is not run.
    interface Pipeline {
      receivers?: string[];
      processors?: string[];
      exporters?: string[];
    }
    interface CollectorConfig {
      receivers: Record<string, { protocols?: Record<string, { endpoint?: string }> }>;
      processors: Record<string, { metric_statements?: { context: string; statements: string[] }[] } | null>;
      exporters: Record<string, { endpoint?: string; resource_to_telemetry_conversion?: { enabled?: boolean } }>;
      extensions?: Record<string, unknown>;
      service: { extensions?: string[]; pipelines: Record<string, Pipeline> };
    }
    const file = join(root, 'deploy', 'otel-collector.yml');
    const config = parseYaml(readFileSync(file, 'utf8')) as CollectorConfig;
    /** A component id's type: `transform/tokenmeter` is a `transform`. */
    const type = (id: string) => id.split('/')[0] as string;
    const port = (endpoint: string | undefined) => Number(/:(\d+)$/.exec(endpoint ?? '')?.[1]);

    it('is a structurally valid Collector config: each pipeline names components defined in their sections, of contrib types', () => {
      const known = {
        receivers: ['otlp'],
        processors: ['batch', 'memory_limiter', 'transform', 'resource', 'attributes', 'filter', 'deltatocumulative'],
        exporters: ['prometheus', 'prometheusremotewrite', 'otlp', 'otlphttp', 'debug'],
        extensions: ['health_check', 'pprof', 'zpages'],
      };
      const pipelines = Object.entries(config.service.pipelines);
      expect(pipelines.map(([id]) => type(id))).toEqual(['metrics']);
      for (const [id, p] of pipelines) {
        for (const section of ['receivers', 'processors', 'exporters'] as const) {
          for (const c of p[section] ?? []) {
            expect(Object.keys(config[section] ?? {}), `${id} ${section} ${c} is defined`).toContain(c);
            expect(known[section], `${c} is a ${section.slice(0, -1)} type`).toContain(type(c));
          }
        }
        expect(p.receivers?.length, `${id} has a receiver`).toBeGreaterThan(0);
        expect(p.exporters?.length, `${id} has an exporter`).toBeGreaterThan(0);
        // memory_limiter first (it must refuse data before others hold it), batch last.
        expect(p.processors?.[0]).toBe('memory_limiter');
        expect(p.processors?.at(-1)).toBe('batch');
      }
      for (const e of config.service.extensions ?? []) expect(Object.keys(config.extensions ?? {})).toContain(e);
      for (const e of config.service.extensions ?? []) expect(known.extensions).toContain(type(e));
      // Every defined component is used (the Collector warns of the others, and they would mislead).
      const used = new Set(pipelines.flatMap(([, p]) => [...(p.receivers ?? []), ...(p.processors ?? []), ...(p.exporters ?? [])]));
      for (const section of ['receivers', 'processors', 'exporters'] as const)
        for (const c of Object.keys(config[section])) expect(used, `${section} ${c} is used`).toContain(c);
      // Resource attributes are not copied onto every series (they would split the rules' sums).
      expect(config.exporters.prometheus?.resource_to_telemetry_conversion?.enabled).toBe(false);
      // The unit is dropped from the instrument tokenmeter names, by its OpenTelemetry name.
      const statements = (config.processors['transform/tokenmeter']?.metric_statements ?? []).flatMap((m) => m.statements);
      expect(statements).toContain(`set(metric.unit, "") where metric.name == "${INSTRUMENT.operationDuration}"`);
    });

    it("receives OTLP/HTTP on 4318, where tokenmeter's exporter posts by default, and compose publishes it", async () => {
      const http = config.receivers.otlp?.protocols?.http?.endpoint;
      expect(port(http)).toBe(4318);
      expect(port(config.receivers.otlp?.protocols?.grpc?.endpoint)).toBe(4317);
      const collector = composeServices(readFileSync(join(root, 'docker-compose.yml'), 'utf8')).get('otel-collector');
      expect(collector?.ports).toEqual(expect.arrayContaining(['127.0.0.1:4318:4318', '127.0.0.1:4317:4317']));
      // tokenmeter with `otlp: {}` and no OTEL_EXPORTER_OTLP_* set: where does it post?
      const posted: string[] = [];
      const server = createServer((req, res) => {
        posted.push(`${req.headers.host?.replace(/^.*:/, '')} ${req.method} ${req.url}`);
        req.resume();
        req.on('end', () => res.end('{}'));
      });
      await new Promise<void>((resolve, reject) => {
        server.once('error', (e) =>
          reject(new Error(`port 4318 is taken here, so tokenmeter's default OTLP endpoint cannot be checked: ${e.message}`)),
        );
        server.listen(4318, resolve);
      });
      const saved = Object.fromEntries(
        Object.keys(process.env)
          .filter((k) => k.startsWith('OTEL_EXPORTER_OTLP'))
          .map((k) => [k, process.env[k]]),
      );
      for (const k of Object.keys(saved)) delete process.env[k];
      try {
        const m = new TokenMonitor({ loadConfig: false, ledger: false, logLevel: 'silent', metrics: { prometheus: false, otlp: {} } });
        await m.ready();
        m.record({ provider: 'openai', model: 'gpt-4o', inputTokens: 1, outputTokens: 1 });
        await m.flushMetrics();
        await m.close();
      } finally {
        Object.assign(process.env, saved);
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
      }
      expect(posted[0]).toBe('4318 POST /v1/metrics');
    });

    it('compose runs it in the collector profile from this file, and Prometheus scrapes its exporter keeping the apps’ job and instance', () => {
      const compose = readFileSync(join(root, 'docker-compose.yml'), 'utf8');
      const collector = composeServices(compose).get('otel-collector');
      if (collector === undefined) throw new Error('docker-compose.yml has no otel-collector service');
      expect(collector.image).toMatch(/^otel\/opentelemetry-collector-contrib:\d+\.\d+\.\d+$/);
      expect(collector.profiles).toBe('[collector]');
      // Only in that profile: the other services start without it.
      for (const [name, s] of composeServices(compose)) if (name !== 'otel-collector') expect(s.profiles, name).toBe('');
      const mounted = collector.volumes.find((v) => v.startsWith('./deploy/otel-collector.yml:'))?.split(':')[1];
      expect(mounted).toBeDefined();
      expect(collector.command).toContain(`--config=${mounted}`);
      // prometheus.yml scrapes the exporter's port on the compose service, with honor_labels.
      const prom = parseYaml(readFileSync(join(root, 'prometheus', 'prometheus.yml'), 'utf8')) as {
        scrape_configs: { job_name: string; honor_labels?: boolean; static_configs: { targets: string[] }[] }[];
      };
      const job = prom.scrape_configs.find((j) => j.static_configs.some((c) => c.targets.some((t) => t.startsWith('otel-collector:'))));
      expect(job?.honor_labels).toBe(true);
      expect(job?.static_configs.flatMap((c) => c.targets)).toEqual([`otel-collector:${port(config.exporters.prometheus?.endpoint)}`]);
      // The compose Prometheus loads this prometheus.yml (already checked by promtool above).
      expect(composeServices(compose).get('prometheus')?.volumes).toContain(
        './prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro',
      );
    });
  });
});
