/**
 * A short, low-cardinality class for a failed call, used for `error.type` and the ledger's
 * errorType: the HTTP status when the SDK error carries one (as the GenAI conventions advise);
 * `timeout`, `abort` or `connection` when the request timed out, was aborted, or never got an
 * answer; else the error's class name.
 *
 * The SDKs are optional peers, so their error classes are told by name and shape, never imported:
 * the names along the prototype chain (openai 6 and 7, groq-sdk and `@anthropic-ai/sdk` 0.x leave
 * `name` as 'Error' on APIConnectionTimeoutError and APIUserAbortError, so `name` alone says
 * nothing), then the `cause` chain (a DOMException AbortError or TimeoutError, undici's and Node's
 * error codes).
 */
export function errorTypeOf(error: unknown, signal?: SignalLike): string {
  const type = typeOf(error);
  // The caller's AbortSignal.timeout(): some SDKs report it as an abort, with no cause to tell
  // (openai 6, groq-sdk, @anthropic-ai/sdk, voyageai); its reason, a TimeoutError, does.
  if (type === 'abort' && signal?.aborted === true && kindOf(signal.reason) === 'timeout') return 'timeout';
  return type;
}

/** The parts of an AbortSignal read here. */
export interface SignalLike {
  readonly aborted?: unknown;
  readonly reason?: unknown;
}

function typeOf(error: unknown): string {
  if (typeof error !== 'object' || error === null) return error === 'timeout' ? 'timeout' : 'error';
  const e = error as {
    status?: unknown;
    statusCode?: unknown;
    status_code?: unknown;
    $metadata?: { httpStatusCode?: unknown };
  };
  // status: openai, Anthropic, Groq, Fern SDKs; statusCode: Mistral; status_code: ollama; $metadata: AWS.
  const status = e.status ?? e.statusCode ?? e.status_code ?? e.$metadata?.httpStatusCode;
  if (typeof status === 'number' && status >= 400 && status < 600) return String(status);
  return failureKind(error) ?? nameOf(error);
}

/** What a request that got no HTTP answer ran into: the error, then its causes, the first of timeout, abort, connection found. */
function failureKind(error: object): 'timeout' | 'abort' | 'connection' | undefined {
  let found: 'abort' | 'connection' | undefined;
  let e: unknown = error;
  // A few levels: SDK error → its cause (a DOMException, a TypeError 'fetch failed') → undici's error.
  for (let depth = 0; depth < 5 && e !== undefined && e !== null; depth++) {
    const kind = kindOf(e);
    // A timeout anywhere wins: openai's APIUserAbortError over a caller's AbortSignal.timeout()
    // is a timeout (its cause is a TimeoutError).
    if (kind === 'timeout') return kind;
    if (kind === 'abort' || (kind === 'connection' && found === undefined)) found = kind;
    e = typeof e === 'object' ? (e as { cause?: unknown }).cause : undefined;
  }
  return found;
}

// Node's and undici's error codes (https://nodejs.org/api/errors.html#common-system-errors,
// https://undici.nodejs.org/#/docs/api/Errors).
const TIMEOUT_CODES = new Set([
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);
const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
]);
// Class names of the SDKs' errors (and DOMException's names, AWS's TimeoutError and AbortError):
// APIConnectionTimeoutError, RequestTimeoutError (Mistral), VoyageAITimeoutError, CohereTimeoutError,
// TimeoutError; APIUserAbortError, RequestAbortedError (Mistral), AbortError; APIConnectionError,
// ConnectionError (Mistral). An HTTP 504 (GatewayTimeoutError) has its status, read first.
const TIMEOUT_NAME = /time[d_-]?out/i;
const ABORT_NAME = /abort/i;
const CONNECTION_NAME = /connection/i;

/** One error of a cause chain, by its codes, shape and names. */
function kindOf(e: unknown): 'timeout' | 'abort' | 'connection' | undefined {
  // A timer's own reason: Fern SDKs (cohere-ai, voyageai) abort their fetch with the string 'timeout'.
  if (e === 'timeout') return 'timeout';
  if (typeof e !== 'object' || e === null) return undefined;
  const x = e as { code?: unknown; name?: unknown; message?: unknown; rawResponse?: { status?: unknown } };
  if (typeof x.code === 'string') {
    if (TIMEOUT_CODES.has(x.code)) return 'timeout';
    if (x.code === 'UND_ERR_ABORTED' || x.code === 'ABORT_ERR') return 'abort';
    if (CONNECTION_CODES.has(x.code)) return 'connection';
  }
  // Fern SDKs on Node: a timeout surfaces as their base error with the message '"timeout"' (the
  // abort reason, as JSON), a caller's abort with the 499 "Client Closed Request" raw response.
  if (x.rawResponse !== undefined && typeof x.rawResponse === 'object' && x.rawResponse !== null) {
    if (x.message === '"timeout"') return 'timeout';
    if (x.rawResponse.status === 499) return 'abort';
  }
  let kind: 'abort' | 'connection' | undefined;
  for (const name of namesOf(e)) {
    if (TIMEOUT_NAME.test(name)) return 'timeout';
    if (ABORT_NAME.test(name)) kind = 'abort';
    else if (kind === undefined && CONNECTION_NAME.test(name)) kind = 'connection';
  }
  // undici's fetch() rejects a request that never got an answer with TypeError('fetch failed'),
  // which voyageai passes on as its message alone.
  if (kind === undefined && x.message === 'fetch failed') return 'connection';
  return kind;
}

/** The error's `name`, then the class names along its prototype chain, nearest first. */
function namesOf(e: object): string[] {
  const names: string[] = [];
  const name = (e as { name?: unknown }).name;
  if (typeof name === 'string') names.push(name);
  for (let p = Object.getPrototypeOf(e); p !== null && p !== Object.prototype && names.length < 8; p = Object.getPrototypeOf(p)) {
    const n = (p as { constructor?: { name?: unknown } }).constructor?.name;
    if (typeof n === 'string' && n !== '') names.push(n);
  }
  return names;
}

/** The error's name; a generic 'Error' is replaced by its nearest class name (openai's leave `name` as 'Error'). */
function nameOf(error: object): string {
  const name = namesOf(error).find((n) => n !== 'Error') ?? (error instanceof Error ? 'Error' : '');
  return name === '' ? 'error' : name.slice(0, 64);
}

/** The message of a failed call, for the record (tokenmeter redacts key-shaped strings in it). */
export function errorMessageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  return typeof error === 'string' ? error : 'unknown error';
}

/**
 * What a record keeps of a failed call: its type (errorTypeOf, or `type` when the wrapper knows
 * better) and message (errorMessageOf).
 */
export function errorOf(error: unknown, type?: string): { type: string; message: string } {
  return { type: type ?? errorTypeOf(error), message: errorMessageOf(error) };
}

/**
 * The AbortSignal the caller gave one call, wherever its SDK takes it: the request options'
 * `signal` (openai, groq-sdk, @anthropic-ai/sdk), `abortSignal` (cohere-ai, voyageai, the AWS
 * SDK's send options) or `fetchOptions.signal` (@mistralai/mistralai), or the body's
 * `config.abortSignal` (@google/genai).
 */
export function callerSignal(body: unknown, options: unknown): SignalLike | undefined {
  const o = options as { signal?: unknown; abortSignal?: unknown; fetchOptions?: { signal?: unknown } } | null | undefined;
  const s =
    o?.signal ??
    o?.abortSignal ??
    o?.fetchOptions?.signal ??
    (body as { config?: { abortSignal?: unknown } } | null | undefined)?.config?.abortSignal;
  return typeof s === 'object' && s !== null ? (s as SignalLike) : undefined;
}
