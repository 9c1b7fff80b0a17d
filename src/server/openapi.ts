import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { tokenUsageRecord, tokenUsageStats } from './astra.ts';
import { ROUTE_QUERIES } from './query.ts';
import { ROUTES, type Route } from './route-table.ts';
import {
  alert,
  breakdownRow,
  budgetStatus,
  dailyAnswer,
  errorAnswer,
  period,
  subjectUsageAnswer,
  totals,
  usageRecordAnswer,
} from './schemas.ts';
import { usageRecordSchema } from './usage-schema.ts';

/**
 * The REST API as an OpenAPI 3.1 document (`GET /openapi.json`), written from the route table
 * and the zod schemas that check the requests (query.ts, alertmanager.ts) or describe them
 * (usage-schema.ts, held to the hand-written check by its test): one source for both.
 */

/** What each query parameter means (its rules come from its schema). */
const QUERY_DESCRIPTIONS: Record<string, string> = {
  days: 'The last N days (may be fractional); ignored when since is given',
  since: 'Start of the range, inclusive: an ISO 8601 date or time',
  until: 'End of the range, exclusive: an ISO 8601 date or time (default now)',
  provider: 'Only this provider',
  model: 'Only this model',
  agent: 'Only this agent',
  user: 'Only this user',
  thread: 'Only this thread',
  key: 'Only this API key id',
  run: 'Only the records of this run (metadata.run_id), whenever it ran',
  by: 'The dimension to group by',
  split: 'The dimension the daily usage is split by',
  limit: 'How many at most',
  errors: 'true: failed calls only',
  min_usd: 'The smallest item shown, in USD over the range',
  status: 'Only alerts in this state',
};

type Json = Record<string, unknown>;

/**
 * The schemas written once, under `components.schemas`, and referred to wherever they appear (a
 * client generator makes one type of each): zod puts a schema with an `id` in `$defs`, moved here.
 */
const NAMED: Record<string, z.ZodType> = {
  Error: errorAnswer,
  Totals: totals,
  Period: period,
  BreakdownRow: breakdownRow,
  DailyBreakdown: dailyAnswer,
  SubjectUsage: subjectUsageAnswer,
  UsageRecord: usageRecordAnswer,
  UsageRecordInput: usageRecordSchema,
  BudgetStatus: budgetStatus,
  Alert: alert,
  TokenUsageResponse: tokenUsageStats,
  TokenUsageRecordResponse: tokenUsageRecord,
};

/** `#/$defs/X` (zod's) as `#/components/schemas/X`, throughout a schema. */
function moveRefs(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(moveRefs);
  if (typeof v !== 'object' || v === null) return v;
  const out: Json = {};
  for (const [k, x] of Object.entries(v)) {
    out[k] = k === '$ref' && typeof x === 'string' ? x.replace(/^#\/\$defs\//, '#/components/schemas/') : moveRefs(x);
  }
  return out;
}

/** The components of the document being built. */
let components: Record<string, Json> = {};

/** A zod schema as JSON Schema 2020-12 (what OpenAPI 3.1 uses), its named parts moved to the components. */
function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): Json {
  const { $schema: _, $defs, ...rest } = z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any' }) as Json;
  for (const [name, def] of Object.entries(($defs ?? {}) as Record<string, Json>)) components[name] ??= moveRefs(def) as Json;
  return moveRefs(rest) as Json;
}

const ERROR = { $ref: '#/components/schemas/Error' };
/** An error answer, with what a client sees of it. */
const errorResponse = (description: string, type: string, message: string, bad?: { field: string; value: unknown }) => ({
  description,
  content: { 'application/json': { schema: ERROR, example: { error: { type, ...(bad ?? {}), message } } } },
});

/** `getTokenUsageUserUserId` for `GET /token-usage/user/{user_id}`. */
export function operationId(route: Route): string {
  const words = route.path.split(/[^a-zA-Z0-9]+/).filter((w) => w !== '');
  const name = words.map((w) => (w[0] as string).toUpperCase() + w.slice(1)).join('');
  return `${route.method.toLowerCase()}${name === '' ? 'Root' : name}`;
}

function operation(route: Route): Json {
  const parameters: Json[] = [];
  for (const [name, description] of Object.entries(route.params ?? {})) {
    parameters.push({ name, in: 'path', required: true, description, schema: { type: 'string', minLength: 1 } });
  }
  if (route.query !== undefined) {
    for (const [name, schema] of Object.entries(ROUTE_QUERIES[route.query].shape as Record<string, z.ZodType>)) {
      const p: Json = { name, in: 'query', required: false, schema: jsonSchema(schema, 'input') };
      const description = QUERY_DESCRIPTIONS[name];
      if (description !== undefined) p.description = description;
      parameters.push(p);
    }
  }
  const responses: Json = {};
  for (const [status, r] of Object.entries(route.responses)) {
    const media: Json = r.schema === undefined ? {} : { schema: jsonSchema(r.schema, 'output') };
    if (r.example !== undefined) media.example = r.example;
    const types = typeof r.type === 'string' ? [r.type] : (r.type ?? ['application/json']);
    responses[status] = { description: r.description, content: Object.fromEntries(types.map((t) => [t, media])) };
  }
  const takesInput = parameters.length > 0 || route.body !== undefined;
  if (takesInput) {
    responses['400'] ??= errorResponse(
      'A bad parameter or body field, an unknown or repeated one: named with (an excerpt of) its value',
      'validation_error',
      'Invalid days: "abc" (must be a positive number of days)',
      { field: 'days', value: 'abc' },
    );
  }
  if (!route.open) {
    responses['401'] ??= errorResponse(
      'The server has a token and the request did not carry it (Authorization: Bearer <token>)',
      'unauthorized',
      'missing or wrong bearer token',
    );
    responses['503'] ??= errorResponse(
      'The ledger cannot be read or written',
      'ledger_error',
      'cannot read the ledger: database is locked',
    );
  }
  if (route.body !== undefined) {
    responses['413'] ??= errorResponse(
      'The body is larger than the server takes (default 1 MiB)',
      'too_large',
      'request body over 1048576 bytes',
    );
    responses['415'] ??= errorResponse(
      'The body is not sent as application/json',
      'unsupported_media_type',
      'request body must be sent as content-type: application/json (charset utf-8 if any)',
    );
  }
  const op: Json = {
    operationId: operationId(route),
    summary: route.summary,
    tags: [route.tag],
    security: route.open ? [] : [{ bearer: [] }],
  };
  if (parameters.length > 0) op.parameters = parameters;
  if (route.body !== undefined) {
    const media: Json = { schema: jsonSchema(route.body, 'input') };
    if (route.bodyExample !== undefined) media.example = route.bodyExample;
    op.requestBody = { required: true, content: { 'application/json': media } };
  }
  op.responses = responses;
  return op;
}

function version(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}

let built: Json | undefined;

/** The OpenAPI 3.1 document of every route in {@link ROUTES}; built once, on first use. */
export function openApiDocument(): Json {
  if (built !== undefined) return built;
  // The ids live in zod's global registry (beside the descriptions, which a registry of our own would lose).
  for (const [id, schema] of Object.entries(NAMED)) {
    const meta = z.globalRegistry.get(schema);
    if (meta?.id !== id) z.globalRegistry.add(schema, { ...meta, id });
  }
  components = {};
  jsonSchema(errorAnswer, 'output');
  const paths: Record<string, Json> = {};
  for (const route of ROUTES) {
    const item = paths[route.path] ?? {};
    item[route.method.toLowerCase()] = operation(route);
    paths[route.path] = item;
  }
  built = {
    openapi: '3.1.0',
    info: {
      title: 'tokenmeter REST API',
      version: version(),
      description:
        'tokenmeter serve: usage ingest for apps in other languages, the ledger reports, budgets, Alertmanager, and ASTRA-compatible /token-usage routes. With a token, every route but the open ones needs Authorization: Bearer <token>.',
    },
    tags: [
      { name: 'usage', description: 'Recording calls' },
      { name: 'reports', description: "The ledger's reports" },
      { name: 'budgets', description: 'Budgets and their alerts' },
      { name: 'alertmanager', description: "Alertmanager's notifications" },
      { name: 'astra', description: "ASTRA's usage API, in its shapes and snake_case names" },
      { name: 'service', description: 'Health, metrics, these docs and the built-in page' },
    ],
    paths,
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'The token of tokenmeter serve --token (or TOKENMETER_API_TOKEN)' },
      },
      schemas: components,
    },
  };
  return built;
}
