import { errorTypeOf } from './error-type.ts';
import { type Instrumenter, type Prepared, wrapMethod } from './wrap.ts';

/**
 * The `@google/genai` client (Gemini API, and Vertex AI with `vertexai: true`). Its public
 * `generateContent` may make several requests when it runs tools for the caller (automatic
 * function calling), so tokenmeter meters each request, at the methods that make them:
 * `generateContentInternal` and `generateContentStreamInternal` (an async generator of chunks
 * with running usage totals). `embedContent` makes one request.
 */
export const instrumentGoogleGenAI: Instrumenter = (client, recorder) => {
  const models = (client as { models?: object }).models;
  wrapMethod(models, 'generateContentInternal', recorder, timeoutOrAbort);
  wrapMethod(models, 'generateContentStreamInternal', recorder, timeoutOrAbort);
  wrapMethod(models, 'embedContent', recorder, timeoutOrAbort);
};

/**
 * The SDK stops a request that outlives `httpOptions.timeout` by aborting it, with the very
 * AbortError the caller's `config.abortSignal` causes (see createAttemptSignal in its source): an
 * abort the caller did not ask for is the SDK's timeout.
 */
function timeoutOrAbort(body: unknown): Prepared {
  const signal = (body as { config?: { abortSignal?: { aborted?: unknown; reason?: unknown } } } | undefined)?.config?.abortSignal;
  return {
    errorType(error) {
      if (errorTypeOf(error) !== 'abort') return undefined;
      // Else the caller's: errorTypeOf tells its AbortSignal.timeout() from an abort().
      return signal?.aborted !== true ? 'timeout' : undefined;
    },
  };
}
