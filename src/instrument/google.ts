import { type Instrumenter, wrapMethod } from './wrap.ts';

/**
 * The `@google/genai` client (Gemini API, and Vertex AI with `vertexai: true`). Its public
 * `generateContent` may make several requests when it runs tools for the caller (automatic
 * function calling), so tokenmeter meters each request, at the methods that make them:
 * `generateContentInternal` and `generateContentStreamInternal` (an async generator of chunks
 * with running usage totals). `embedContent` makes one request.
 */
export const instrumentGoogleGenAI: Instrumenter = (client, recorder) => {
  const models = (client as { models?: object }).models;
  wrapMethod(models, 'generateContentInternal', recorder);
  wrapMethod(models, 'generateContentStreamInternal', recorder);
  wrapMethod(models, 'embedContent', recorder);
};

/** `gemini` or `vertex_ai`, from the client's own flag. */
export function googleProvider(client: object): string {
  return (client as { vertexai?: unknown }).vertexai === true ? 'vertex_ai' : 'gemini';
}
