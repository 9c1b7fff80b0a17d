import { awsBedrockConverter, awsBedrockInvokeUsage, BEDROCK_COUNT_HEADERS, type BedrockHeaders } from '../providers/aws-bedrock.ts';
import type { Usage } from '../providers/types.ts';
import { observeCall } from './api-promise.ts';
import { callerSignal, errorTypeOf } from './error-type.ts';
import { observeAsyncIterable, type StreamEnd } from './stainless.ts';
import { admitted, contextFor, type Held, type Instrumenter, recordMetered } from './wrap.ts';

/**
 * The official `@aws-sdk/client-bedrock-runtime` client (`BedrockRuntimeClient`, and the
 * aggregated `BedrockRuntime` whose `converse()`... methods call `send`). Every call goes through
 * `client.send(command)`, so that is what tokenmeter wraps, on the instance, metering the four
 * inference operations (Converse, ConverseStream, InvokeModel, InvokeModelWithResponseStream) and
 * passing every other command through untouched. Nothing of the SDK is imported: the client is
 * read by its shape.
 *
 * InvokeModel's counts for models whose body carries none (Mistral, Cohere Command R...) come in
 * the `x-amzn-bedrock-*-token-count` response headers, which the SDK does not put on its output
 * (`$metadata` has the status and request id only). A middleware of the client's own stack reads
 * them, changing nothing, and files them under the output object they came with.
 */

/** The parts of a Smithy-generated AWS SDK v3 client tokenmeter relies on. */
interface SmithyClientLike {
  send: (command: unknown, ...rest: unknown[]) => unknown;
  middlewareStack?: {
    add?: (middleware: (next: Handler) => Handler, options: { step: string; name: string; override?: boolean }) => void;
  };
}
type Handler = (args: unknown) => Promise<unknown>;

const WRAPPED = Symbol.for('tokenmeter.wrapped');
const HEADER_MIDDLEWARE = 'tokenmeterBedrockTokenCounts';
const OPERATIONS = new Set(['Converse', 'ConverseStream', 'InvokeModel', 'InvokeModelWithResponseStream']);

const COUNT_HEADERS: ReadonlySet<string> = new Set(Object.values(BEDROCK_COUNT_HEADERS));

/** Each InvokeModel output's count headers, kept until the output is gone. */
const countHeaders = new WeakMap<object, BedrockHeaders>();

function isObject(v: unknown): v is Record<string | symbol, unknown> {
  return typeof v === 'object' && v !== null;
}

/** True for a BedrockRuntimeClient or BedrockRuntime (subclasses and minified builds included). */
export function isBedrockRuntimeClient(client: object): boolean {
  const c = client as { send?: unknown; config?: { serviceId?: unknown }; constructor?: { name?: unknown } };
  if (typeof c.send !== 'function') return false;
  const name = c.constructor?.name;
  return name === 'BedrockRuntimeClient' || name === 'BedrockRuntime' || c.config?.serviceId === 'Bedrock Runtime';
}

/**
 * The operation a command runs: its operation schema names it (`[9, namespace, 'Converse', ...]`,
 * SDK versions from 2025 on), else its class name (`ConverseCommand`).
 */
export function operationOf(command: unknown): string | undefined {
  if (!isObject(command)) return undefined;
  const schema = command.schema;
  let op = Array.isArray(schema) && typeof schema[2] === 'string' ? schema[2] : undefined;
  if (op === undefined) {
    const name = (command.constructor as { name?: unknown } | undefined)?.name;
    if (typeof name === 'string' && name.endsWith('Command')) op = name.slice(0, -'Command'.length);
  }
  return op !== undefined && OPERATIONS.has(op) ? op : undefined;
}

/** Reads the count headers of every response into `countHeaders`; the result passes on as it came. */
function addHeaderReader(client: SmithyClientLike): void {
  const stack = client.middlewareStack;
  if (typeof stack?.add !== 'function') return;
  const reader = (next: Handler): Handler =>
    async function tokenmeterReadCounts(args) {
      const result = await next(args);
      try {
        const r = result as { output?: unknown; response?: { headers?: unknown } };
        const headers = r.response?.headers;
        if (isObject(r.output) && isObject(headers)) {
          const kept: Record<string, string> = {};
          for (const [name, value] of Object.entries(headers)) {
            const lower = name.toLowerCase();
            if (typeof value === 'string' && COUNT_HEADERS.has(lower)) kept[lower] = value;
          }
          if (Object.keys(kept).length > 0) countHeaders.set(r.output, kept);
        }
      } catch {
        // Never into the caller's code path.
      }
      return result;
    };
  // The build step runs around the retries and the deserializer: it sees the last response and
  // the output the caller gets.
  try {
    stack.add(reader, { step: 'build', name: HEADER_MIDDLEWARE, override: true });
  } catch {
    // A stack that refuses it: InvokeModel bodies without counts are then recorded as unknown.
  }
}

/** The chunk bytes of InvokeModelWithResponseStream, as the model's JSON. */
function chunkJson(event: unknown): unknown {
  const bytes = isObject(event) && isObject(event.chunk) ? event.chunk.bytes : undefined;
  if (!(bytes instanceof Uint8Array)) return event;
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return undefined;
  }
}

const same = (events: unknown[]) => events;
const chunksJson = (events: unknown[]) => events.map(chunkJson);

function bodyJson(body: unknown): unknown {
  if (!(body instanceof Uint8Array)) return undefined;
  try {
    return JSON.parse(new TextDecoder().decode(body));
  } catch {
    return undefined;
  }
}

/**
 * Observes `output[key]`, an async iterable of events, in place: the caller keeps the same object
 * and sees every event unchanged; `onEnd` is called once, when the first iteration ends, fails or
 * is left.
 */
function observeEvents(output: Record<string, unknown>, key: string, onEnd: (end: StreamEnd) => void): boolean {
  const stream = output[key];
  if (!isObject(stream)) return false;
  const original = stream[Symbol.asyncIterator];
  if (typeof original !== 'function') return false;
  let observed = false;
  stream[Symbol.asyncIterator] = function (this: unknown) {
    // The HTTP body can be read once: a second iteration gets what the SDK gives it, unmetered.
    if (observed) return original.call(this);
    observed = true;
    return observeAsyncIterable({ [Symbol.asyncIterator]: () => original.call(this) as AsyncIterator<unknown> }, onEnd);
  };
  return true;
}

/** Meters `client.send` for the inference operations, in place. Wrapping twice is a no-op. */
export const instrumentAwsBedrock: Instrumenter = (client, recorder) => {
  const c = client as SmithyClientLike;
  const original = c.send;
  if (typeof original !== 'function' || (original as unknown as Record<symbol, unknown>)[WRAPPED]) return;
  addHeaderReader(c);

  const metered = function (this: unknown, command: unknown, ...rest: unknown[]): unknown {
    const op = operationOf(command);
    if (op === undefined) return original.call(this, command, ...rest);
    const start = performance.now();
    const context = contextFor(recorder);
    const input = (command as { input?: unknown }).input;
    let held: Held | undefined;
    const record = (usage: Usage, error?: unknown) =>
      recordMetered(
        recorder,
        usage,
        performance.now() - start,
        context,
        held,
        error,
        error === undefined ? undefined : errorTypeOf(error, callerSignal(undefined, rest[0])),
      );
    const onStreamEnd = (events: (e: unknown[]) => unknown[]) => (end: StreamEnd) => {
      const usage = awsBedrockConverter.fromStream(events(end.events), input);
      if (!end.complete) usage.partial = true;
      record(usage, end.error);
    };
    const onData = (output: unknown): unknown => {
      const o = isObject(output) ? output : {};
      if (op === 'Converse') {
        record(awsBedrockConverter.fromResponse(o, input));
      } else if (op === 'InvokeModel') {
        record(awsBedrockInvokeUsage(bodyJson(o.body), countHeaders.get(o), input));
      } else {
        // ConverseStream's events are the SDK's objects; InvokeModelWithResponseStream's carry the model's JSON as bytes.
        const observed =
          op === 'ConverseStream' ? observeEvents(o, 'stream', onStreamEnd(same)) : observeEvents(o, 'body', onStreamEnd(chunksJson));
        if (!observed) record(awsBedrockConverter.fromStream([], input));
      }
      return output;
    };
    const onError = (error: unknown) => record(awsBedrockConverter.fromResponse(undefined, input), error);

    // send(command, callback) and send(command, options, callback): the callback form returns nothing.
    const at = rest.findIndex((a) => typeof a === 'function');
    if (at >= 0) {
      const callback = rest[at] as (...a: unknown[]) => unknown;
      const args = [...rest];
      args[at] = function (this: unknown, ...a: unknown[]) {
        try {
          if (a[0] !== null && a[0] !== undefined) onError(a[0]);
          else onData(a[1]);
        } catch {
          // Never into the caller's code path.
        }
        return callback.apply(this, a);
      };
      const call = admitted(recorder, input, context, original, this, [command, ...args]);
      if (call.blocked) {
        (call.result as Promise<unknown>).catch((error: unknown) => callback(error));
        return undefined;
      }
      held = call.held;
      return call.result;
    }
    const call = admitted(recorder, input, context, original, this, [command, ...rest]);
    if (call.blocked) return call.result;
    held = call.held;
    return observeCall(call.result, { onData, onError });
  };
  Object.defineProperty(metered, WRAPPED, { value: true });
  c.send = metered;
};
