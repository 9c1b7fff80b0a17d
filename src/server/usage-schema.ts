import { z } from 'zod';
import {
  MAX_COST_USD_PER_CALL,
  MAX_DURATION_MS,
  MAX_LABEL_LENGTH,
  MAX_METADATA_BYTES,
  MAX_TIMESTAMP_MS,
  MAX_TOKENS_PER_CALL,
  SERVICE_TYPES,
  type UsageInput,
} from '../usage.ts';
import { COUNT_FIELDS, type CountField, fieldSpec, PART_RULES } from '../usage-fields.ts';
import { SNAKE_USAGE_NAMES } from './rest-names.ts';
import { MAX_BATCH_RECORDS } from './routes.ts';

/**
 * The schema of a usage record as `POST /v1/usage` takes it, for the OpenAPI document. It is not
 * what checks the records: `validateUsage` does, hand-written for the hot path (a zod parse per
 * record would cost more than the whole check does now), and usage-schema.test.ts holds the two to
 * the same verdict on every field. The rules that tie fields together (parts no more than their
 * whole) are in the record's description: JSON Schema cannot say them.
 */

const label = (what: string) =>
  z.string().max(MAX_LABEL_LENGTH).nullable().describe(`${what}; at most ${MAX_LABEL_LENGTH} characters (empty or null: none)`);
const count = (what: string) =>
  z.number().int().min(0).max(MAX_TOKENS_PER_CALL).nullable().describe(`${what}; leave out or null when unknown (0 means none)`);
const inRange = (ms: number) => ms >= 0 && ms <= MAX_TIMESTAMP_MS;

/**
 * Each field of {@link UsageInput}, as JSON carries it: the counts from the table of record fields,
 * the others here (the type makes a new one fail to compile until it is described here).
 */
export const USAGE_FIELDS: { [K in keyof Required<UsageInput>]: z.ZodType } = {
  provider: z.string().min(1).max(MAX_LABEL_LENGTH).describe('Provider id: openai, anthropic, gemini, ... or any other'),
  model: z.string().min(1).max(MAX_LABEL_LENGTH).describe('The model that served the call'),
  requestModel: label('The model the request asked for, when it differs'),
  serviceType: z
    .enum(SERVICE_TYPES as [string, ...string[]])
    .nullable()
    .describe('llm (default), embedding or reranking'),
  operation: label('What the call was for (default chat, embeddings or rerank by service type)'),
  // Each count of the table of record fields (usage-fields.ts), described there.
  ...(Object.fromEntries(COUNT_FIELDS.map((f) => [f, count(fieldSpec(f).about as string)])) as Record<
    CountField,
    z.ZodNullable<z.ZodNumber>
  >),
  costUsd: z.number().min(0).max(MAX_COST_USD_PER_CALL).nullable().describe("The call's cost in USD when known; wins over the price table"),
  inputCostUsd: z
    .number()
    .min(0)
    .max(MAX_COST_USD_PER_CALL)
    .nullable()
    .describe('The input side of the cost when the caller knows the split; with outputCostUsd, adding up to costUsd'),
  outputCostUsd: z.number().min(0).max(MAX_COST_USD_PER_CALL).nullable().describe('The output side of the cost, with inputCostUsd'),
  apiKey: z.string().nullable().describe('The API key used: never stored, only a short id derived from it'),
  apiKeyId: label('A key id the caller already has (used when apiKey is not given)'),
  userId: label('The user'),
  threadId: label('The conversation or thread'),
  agent: label('The agent'),
  durationMs: z.number().min(0).max(MAX_DURATION_MS).nullable().describe('Wall time of the call in milliseconds'),
  timestamp: z
    .union([
      z.string().refine((s) => inRange(Date.parse(s)), 'must be an ISO 8601 time between 1970 and 2200'),
      z.number().min(0).max(MAX_TIMESTAMP_MS),
    ])
    .describe('When the call happened: ISO 8601 or epoch milliseconds (default: when received)'),
  error: z.boolean().describe('True for a failed call (implied by errorMessage or errorType)'),
  errorMessage: z.string().nullable().describe('Cut to 1000 characters; API keys in it are redacted'),
  errorType: label('A short class of error: rate_limit, timeout, http_500...'),
  metadata: z
    .record(z.string(), z.unknown())
    .refine((m) => Buffer.byteLength(JSON.stringify(m)) <= MAX_METADATA_BYTES, `at most ${MAX_METADATA_BYTES} bytes as JSON`)
    .nullable()
    .describe(`Free-form context kept in the ledger, at most ${MAX_METADATA_BYTES} bytes as JSON`),
};

const SNAKE_BY_FIELD = new Map([...SNAKE_USAGE_NAMES].map(([snake, field]) => [field, snake]));

/**
 * One record: every field by its library name or its snake_case one (the exports' names), never
 * both; any other key is a 400.
 */
export const usageRecordSchema = z
  .strictObject(
    Object.fromEntries(
      Object.entries(USAGE_FIELDS).flatMap(([field, schema]) => {
        const own = field === 'provider' || field === 'model' ? schema : schema.optional();
        const snake = SNAKE_BY_FIELD.get(field);
        return snake === undefined
          ? [[field, own]]
          : [
              [field, own],
              [snake, schema.optional().describe(`${field}, by its snake_case name`)],
            ];
      }),
    ),
  )
  .refine((r) => ![...SNAKE_BY_FIELD].some(([field, snake]) => r[field] !== undefined && r[snake] !== undefined), 'a field given twice')
  .refine((r) => {
    // The cost's split comes whole, and adds up to the cost when both are given (in picodollars, as validation checks).
    const of = (field: string): number | null => (r[field] ?? r[SNAKE_BY_FIELD.get(field) ?? field] ?? null) as number | null;
    const [input, output, cost] = [of('inputCostUsd'), of('outputCostUsd'), of('costUsd')];
    if (input === null && output === null) return true;
    if (input === null || output === null) return false;
    const sum = Math.round(input * 1e12) + Math.round(output * 1e12);
    return cost === null ? sum <= MAX_COST_USD_PER_CALL * 1e12 : Math.abs(sum - Math.round(cost * 1e12)) <= 1;
  }, 'inputCostUsd and outputCostUsd come together and add up to costUsd')
  .describe(
    `A call. provider and model are required; a field is given by one of its names, not both. inputCostUsd and outputCostUsd come together, adding up to costUsd. Parts are no more than their whole: ${PART_RULES.map((r) => `${r.plus === undefined ? '' : `${r.plus} + `}${r.part} ≤ ${r.of}`).join(', ')}.`,
  );

/** `POST /v1/usage`'s body: one record or an array of them. */
export const usageBodySchema = z
  .union([usageRecordSchema, z.array(usageRecordSchema).max(MAX_BATCH_RECORDS)])
  .describe(`One record, or an array of at most ${MAX_BATCH_RECORDS}, all checked before any is recorded.`);
