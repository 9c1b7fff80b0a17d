/**
 * The OpenTelemetry resource of tokenmeter's metrics: who is reporting. A fleet of app processes
 * only adds up when each process's series can be told apart, so every monitor reports a
 * `service.name` (the same for every instance of an app) and a `service.instance.id` (its own).
 *
 * - OTLP carries them as resource attributes; Prometheus's OTLP receiver and the Collector's
 *   Prometheus exporters turn `service.name` into `job` and `service.instance.id` into `instance`.
 * - The Prometheus endpoint writes them on `target_info` (Prometheus's scrape adds `job` and
 *   `instance` itself, from its target), as @opentelemetry/exporter-prometheus does.
 */
import { randomUUID } from 'node:crypto';
import { defaultResource, type Resource, resourceFromAttributes } from '@opentelemetry/resources';
import { ValidationError } from '../errors.ts';
import type { Env } from '../logger.ts';

/** Who reports tokenmeter's metrics (OpenTelemetry resource attributes). */
export interface ResourceOptions {
  /**
   * `service.name`: the same for every instance of your app.
   * @default $OTEL_SERVICE_NAME, else `service.name` in $OTEL_RESOURCE_ATTRIBUTES, else `unknown_service:node` (OpenTelemetry's default)
   */
  serviceName?: string;
  /**
   * `service.instance.id`: different for every process (every monitor) reporting under one `service.name`.
   * @default `service.instance.id` in $OTEL_RESOURCE_ATTRIBUTES, else a random UUID made when the monitor starts
   */
  serviceInstanceId?: string;
  /** More resource attributes (`service.namespace`, `deployment.environment.name`, ...); they win over $OTEL_RESOURCE_ATTRIBUTES. */
  resourceAttributes?: Record<string, string>;
}

export const SERVICE_NAME = 'service.name';
export const SERVICE_INSTANCE_ID = 'service.instance.id';

function checkName(field: string, value: unknown): void {
  if (value !== undefined && (typeof value !== 'string' || value.trim() === '')) {
    throw new ValidationError(field, value, 'must be a non-empty string');
  }
}

/** Checks the resource options of `metrics` (called before the monitor starts anything). */
export function checkResourceOptions(metrics: unknown): void {
  if (typeof metrics !== 'object' || metrics === null) return;
  const o = metrics as Record<string, unknown>;
  checkName('metrics.serviceName', o.serviceName);
  checkName('metrics.serviceInstanceId', o.serviceInstanceId);
  const attrs = o.resourceAttributes;
  if (attrs === undefined) return;
  if (typeof attrs !== 'object' || attrs === null || Array.isArray(attrs)) {
    throw new ValidationError('metrics.resourceAttributes', attrs, 'must be an object of attribute names to strings');
  }
  for (const [key, value] of Object.entries(attrs)) {
    if (key === '') throw new ValidationError('metrics.resourceAttributes', key, 'an attribute name must not be empty');
    if (typeof value !== 'string') throw new ValidationError(`metrics.resourceAttributes.${key}`, value, 'must be a string');
  }
}

/**
 * Parses $OTEL_RESOURCE_ATTRIBUTES (`key1=value1,key2=value2`, values percent-encoded) as the
 * OpenTelemetry specification describes it; throws on a malformed list, which the spec says to
 * discard whole rather than keep in part.
 */
export function parseResourceAttributes(raw: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of raw.split(',')) {
    if (part.trim() === '') continue;
    const eq = part.indexOf('=');
    const key = eq < 0 ? '' : part.slice(0, eq).trim();
    if (eq < 0 || key === '') throw new Error(`"${part.trim()}" is not key=value`);
    let value: string;
    try {
      value = decodeURIComponent(part.slice(eq + 1).trim());
    } catch {
      throw new Error(`the value of ${key} is not valid percent-encoding`);
    }
    out[key] = value;
  }
  return out;
}

/**
 * The resource of one monitor's metrics: OpenTelemetry's default (telemetry.sdk.*, service.name),
 * then $OTEL_RESOURCE_ATTRIBUTES, then $OTEL_SERVICE_NAME, then the options; `service.instance.id`
 * a random UUID (v4) unless given, as the semantic conventions recommend for an instance with no
 * inherent id. Per monitor, not per process: two monitors in one process are two series sets.
 */
export function metricsResource(options: ResourceOptions, env: Env, warn: (message: string) => void): Resource {
  let fromEnv: Record<string, string> = {};
  const raw = env.OTEL_RESOURCE_ATTRIBUTES;
  if (raw !== undefined && raw.trim() !== '') {
    try {
      fromEnv = parseResourceAttributes(raw);
    } catch (error) {
      warn(`OTEL_RESOURCE_ATTRIBUTES is ignored: ${(error as Error).message} (write key1=value1,key2=value2, values percent-encoded)`);
    }
  }
  const attributes: Record<string, string> = { ...fromEnv };
  const envName = env.OTEL_SERVICE_NAME?.trim();
  if (envName) attributes[SERVICE_NAME] = envName;
  Object.assign(attributes, options.resourceAttributes ?? {});
  if (options.serviceName !== undefined) attributes[SERVICE_NAME] = options.serviceName;
  if (options.serviceInstanceId !== undefined) attributes[SERVICE_INSTANCE_ID] = options.serviceInstanceId;
  if (attributes[SERVICE_INSTANCE_ID] === undefined || attributes[SERVICE_INSTANCE_ID] === '')
    attributes[SERVICE_INSTANCE_ID] = randomUUID();
  return defaultResource().merge(resourceFromAttributes(attributes));
}
