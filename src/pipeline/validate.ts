import type { CallContext } from '../context.ts';
import type { SecretKeys } from '../logger.ts';
import { type UsageInput, type ValidUsage, validateBuilt, validateUsage } from '../usage.ts';
import type { InputCounts } from '../usage-fields.ts';

/** The kinds of call instrumented calls are labelled with until a context names the operation. */
const CALL_KINDS = new Set(['chat', 'text_completion', 'generate_content', 'embeddings', 'rerank']);

/** Fills a call's unset fields from the context it runs in; the call's own fields win. */
export function applyContext(input: UsageInput, ctx: CallContext): UsageInput {
  const out: UsageInput = { ...input };
  if (out.userId === undefined && ctx.userId !== undefined) out.userId = ctx.userId;
  if (out.threadId === undefined && ctx.threadId !== undefined) out.threadId = ctx.threadId;
  if (out.agent === undefined && ctx.agent !== undefined) out.agent = ctx.agent;
  if (ctx.operation !== undefined && (out.operation === undefined || CALL_KINDS.has(out.operation))) {
    out.operation = ctx.operation;
  }
  if (ctx.metadata !== undefined) out.metadata = { ...ctx.metadata, ...out.metadata };
  return out;
}

/** A context that only names a run (`session().run(fn)`): nothing to copy into the call. */
function onlyRun(ctx: CallContext): boolean {
  return (
    ctx.userId === undefined &&
    ctx.threadId === undefined &&
    ctx.agent === undefined &&
    ctx.operation === undefined &&
    ctx.metadata === undefined
  );
}

/**
 * The pipeline's first stage: checks one call in the context it runs in (its unset fields filled
 * from it, its run id added to metadata), keeping the keys of failed calls out of what is kept.
 * Throws a ValidationError naming the field. With `counts`, `input` is one tokenmeter built (see
 * validateBuilt) and its counts are read from `counts`.
 */
export function validateInContext(
  input: UsageInput,
  ctx: CallContext | undefined,
  keyIdOf: (apiKey: string) => string,
  secrets: SecretKeys,
  counts?: InputCounts,
): ValidUsage {
  const given = ctx === undefined || onlyRun(ctx) ? input : applyContext(input, ctx);
  const u = counts === undefined ? validateUsage(given, keyIdOf) : validateBuilt(given, counts, keyIdOf);
  if (u.error) {
    // A failed call's key is kept out of the log too (an instrumented client's is from the start),
    if (typeof input.apiKey === 'string') secrets.add(input.apiKey);
    // and the keys of the clients this monitor meters out of a message recorded without its key
    // (track(), LangChain, the AI SDK).
    if (u.errorMessage !== null) u.errorMessage = secrets.redact(u.errorMessage);
  }
  if (ctx?.runId !== undefined) {
    // The validated record's metadata is already its own copy: the run id is added in place.
    if (u.metadata === null) u.metadata = { run_id: ctx.runId };
    else u.metadata.run_id = ctx.runId;
  }
  return u;
}
