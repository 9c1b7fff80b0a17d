/**
 * A short, low-cardinality class for a failed call, used for `error.type` and the ledger's
 * errorType: the HTTP status when the SDK error carries one (as the GenAI conventions advise),
 * `timeout` and `abort` for those, else the error's name.
 */
export function errorTypeOf(error: unknown): string {
  if (typeof error !== 'object' || error === null) return 'error';
  const e = error as {
    status?: unknown;
    statusCode?: unknown;
    status_code?: unknown;
    name?: unknown;
    code?: unknown;
    $metadata?: { httpStatusCode?: unknown };
  };
  // status: openai, Anthropic, Groq, Fern SDKs; statusCode: Mistral; status_code: ollama; $metadata: AWS.
  const status = e.status ?? e.statusCode ?? e.status_code ?? e.$metadata?.httpStatusCode;
  if (typeof status === 'number' && status >= 400 && status < 600) return String(status);
  const name = typeof e.name === 'string' ? e.name : '';
  if (/timeout/i.test(name) || e.code === 'ETIMEDOUT' || e.code === 'UND_ERR_HEADERS_TIMEOUT') return 'timeout';
  if (name === 'AbortError' || /abort/i.test(name)) return 'abort';
  return name === '' ? 'error' : name.slice(0, 64);
}

/** The message of a failed call, for the record (tokenmeter redacts key-shaped strings in it). */
export function errorMessageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  return typeof error === 'string' ? error : 'unknown error';
}

/** What a record keeps of a failed call: its type (errorTypeOf) and message (errorMessageOf). */
export function errorOf(error: unknown): { type: string; message: string } {
  return { type: errorTypeOf(error), message: errorMessageOf(error) };
}
