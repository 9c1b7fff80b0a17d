import { afterEach, describe, expect, it } from 'vitest';
import { memoryLogger } from '../../test/helpers/otel.ts';
import { parseExposition, promtoolCheck } from '../../test/helpers/prometheus.ts';
import { ValidationError } from '../errors.ts';
import { TokenMonitor, type TokenMonitorOptions } from '../monitor.ts';
import { parseResourceAttributes } from './resource.ts';

const monitors: TokenMonitor[] = [];
afterEach(async () => {
  for (const m of monitors.splice(0)) await m.close();
});

/** The labels of target_info on a monitor's Prometheus endpoint. */
async function targetInfo(options: Omit<TokenMonitorOptions, 'loadConfig' | 'ledger'> = {}): Promise<Record<string, string>> {
  const m = new TokenMonitor({
    loadConfig: false,
    ledger: false,
    ...options,
    metrics: { prometheus: { port: 0 }, ...(options.metrics || {}) },
  });
  monitors.push(m);
  await m.ready();
  const samples = parseExposition(await (await fetch(m.metricsUrl as string)).text());
  const target = samples.filter((s) => s.name === 'target_info');
  expect(target).toHaveLength(1);
  return target[0]?.labels ?? {};
}

describe('the resource of the metrics (service.name, service.instance.id)', () => {
  it('defaults to OpenTelemetry’s unknown_service name and a random UUID per monitor', async () => {
    const a = await targetInfo({ env: {} });
    const b = await targetInfo({ env: {} });
    expect(a.service_name).toBe(`unknown_service:${process.argv0}`);
    expect(a.service_instance_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(b.service_instance_id).not.toBe(a.service_instance_id);
    expect(a.telemetry_sdk_name).toBe('opentelemetry');
  });

  it('reads OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES from the monitor’s environment; OTEL_SERVICE_NAME wins', async () => {
    const t = await targetInfo({
      env: {
        OTEL_SERVICE_NAME: 'checkout',
        OTEL_RESOURCE_ATTRIBUTES: 'service.name=ignored,service.instance.id=pod-7,deployment.environment.name=prod%2Ceu',
      },
    });
    expect(t).toMatchObject({ service_name: 'checkout', service_instance_id: 'pod-7', deployment_environment_name: 'prod,eu' });
  });

  it('takes the options over the environment', async () => {
    const t = await targetInfo({
      env: { OTEL_SERVICE_NAME: 'from-env', OTEL_RESOURCE_ATTRIBUTES: 'service.namespace=env,service.instance.id=env-1' },
      metrics: { serviceName: 'checkout', serviceInstanceId: 'web-1', resourceAttributes: { 'service.namespace': 'shop' } },
    });
    expect(t).toMatchObject({ service_name: 'checkout', service_instance_id: 'web-1', service_namespace: 'shop' });
  });

  it('ignores a malformed OTEL_RESOURCE_ATTRIBUTES whole, and says so', async () => {
    const log = memoryLogger();
    const t = await targetInfo({ env: { OTEL_RESOURCE_ATTRIBUTES: 'service.instance.id=a,oops' }, logger: log });
    expect(t.service_instance_id).not.toBe('a');
    expect(log.lines.some((l) => l.includes('OTEL_RESOURCE_ATTRIBUTES is ignored') && l.includes('"oops" is not key=value'))).toBe(true);
  });

  it('keeps the scrape valid whatever the attribute names: clashing ones merged, one starting with a digit prefixed', async () => {
    const m = new TokenMonitor({
      loadConfig: false,
      ledger: false,
      env: { OTEL_RESOURCE_ATTRIBUTES: '1st=one,__secret=s' },
      metrics: { prometheus: { port: 0 }, resourceAttributes: { 'team.name': 'search', team_name: 'ads', é: 'accent' } },
    });
    monitors.push(m);
    await m.ready();
    m.record({ provider: 'openai', model: 'gpt-4o', inputTokens: 1, outputTokens: 1 });
    const text = await (await fetch(m.metricsUrl as string)).text();
    const check = promtoolCheck(text);
    expect(check.output).not.toMatch(/error|duplicate|invalid/i);
    const target = parseExposition(text).find((s) => s.name === 'target_info')?.labels ?? {};
    // As OpenTelemetry's Prometheus compatibility spec says: values of names that clash joined with ';', in key order.
    expect(target).toMatchObject({ team_name: 'search;ads', key_1st: 'one', _: 'accent' });
  });

  it('refuses bad options, naming the option and the value', () => {
    const make = (metrics: Record<string, unknown>) => () =>
      new TokenMonitor({ loadConfig: false, ledger: false, metrics: { prometheus: false, ...metrics } as never });
    expect(make({ serviceName: '' })).toThrow(ValidationError);
    expect(make({ serviceName: '' })).toThrow(/metrics\.serviceName: "" \(must be a non-empty string\)/);
    expect(make({ serviceInstanceId: 7 })).toThrow(/metrics\.serviceInstanceId: 7/);
    expect(make({ resourceAttributes: { 'service.namespace': 3 } })).toThrow(/metrics\.resourceAttributes\.service\.namespace: 3/);
    expect(make({ resourceAttributes: 'a=b' })).toThrow(/metrics\.resourceAttributes: "a=b"/);
    expect(make({ servicename: 'x' })).toThrow(/serviceName/);
  });
});

describe('parseResourceAttributes', () => {
  it('reads key=value lists with percent-encoded values', () => {
    expect(parseResourceAttributes(' a = 1 ,b=x%3Dy,, c=%E2%82%AC')).toEqual({ a: '1', b: 'x=y', c: '€' });
  });
  it('throws on a part that is not key=value, or bad percent-encoding', () => {
    expect(() => parseResourceAttributes('a=1,b')).toThrow('"b" is not key=value');
    expect(() => parseResourceAttributes('=1')).toThrow('is not key=value');
    expect(() => parseResourceAttributes('a=%E2')).toThrow('the value of a is not valid percent-encoding');
  });
});
