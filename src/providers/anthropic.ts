import { count, obj, plus, str } from './read.ts';
import type { ProviderConverter, Usage } from './types.ts';

/**
 * Anthropic Messages API (https://docs.anthropic.com/en/api/messages): `usage.input_tokens`
 * EXCLUDES cache reads (`cache_read_input_tokens`) and cache writes (`cache_creation_input_tokens`,
 * split by TTL in `cache_creation.ephemeral_5m_input_tokens` / `ephemeral_1h_input_tokens`), so
 * tokenmeter's inputTokens is their sum. One-hour cache writes are billed at 2x the input rate,
 * five-minute ones at 1.25x: the one-hour share is kept as cacheWrite1hTokens. Server-side web
 * searches (`server_tool_use.web_search_requests`) are billed per search, beside the tokens. `output_tokens` includes thinking tokens, which Anthropic
 * does not report apart. Streams: `message_start` carries the input side; each `message_delta`
 * carries CUMULATIVE counts (https://docs.anthropic.com/en/docs/build-with-claude/streaming), so
 * the latest value of each field wins; `message_stop` ends the stream.
 */
interface AnthropicUsage {
  input_tokens?: number | null;
  output_tokens?: number | null;
  cache_read_input_tokens?: number | null;
  cache_creation_input_tokens?: number | null;
  cache_creation?: { ephemeral_5m_input_tokens?: number | null; ephemeral_1h_input_tokens?: number | null } | null;
  server_tool_use?: { web_search_requests?: number | null } | null;
}

type Fields = { input?: number; output?: number; cacheRead?: number; cacheWrite?: number; cacheWrite1h?: number; webSearches?: number };

function read(usage: unknown, at: string, unread: string[], into: Fields): void {
  const u = obj(usage) as (AnthropicUsage & Record<string, unknown>) | undefined;
  if (u === undefined) return;
  const note: string[] = [];
  const input = count(u, ['input_tokens'], note);
  const output = count(u, ['output_tokens'], note);
  const cacheRead = count(u, ['cache_read_input_tokens'], note);
  const cacheWrite1h = count(u, ['cache_creation', 'ephemeral_1h_input_tokens'], note);
  const cacheWrite =
    count(u, ['cache_creation_input_tokens'], note) ?? plus(count(u, ['cache_creation', 'ephemeral_5m_input_tokens'], note), cacheWrite1h);
  const webSearches = count(u, ['server_tool_use', 'web_search_requests'], note);
  for (const n of note) unread.push(`${at}.${n}`);
  if (input !== undefined) into.input = input;
  if (output !== undefined) into.output = output;
  if (cacheRead !== undefined) into.cacheRead = cacheRead;
  if (cacheWrite !== undefined) into.cacheWrite = cacheWrite;
  if (cacheWrite1h !== undefined) into.cacheWrite1h = cacheWrite1h;
  if (webSearches !== undefined) into.webSearches = webSearches;
}

/** Turns Anthropic's counts into the normalised Usage (input = fresh + cache reads + cache writes). */
export function anthropicUsage(
  provider: string,
  f: Fields,
  model: string | undefined,
  requestModel: string | undefined,
  unread: string[],
): Usage {
  const u: Usage = { provider, serviceType: 'llm', operation: 'chat', usageSource: 'missing' };
  const m = model ?? requestModel;
  if (m !== undefined) u.model = m;
  if (requestModel !== undefined) u.requestModel = requestModel;
  if (f.input !== undefined || f.output !== undefined) {
    u.usageSource = 'reported';
    const input = f.input === undefined ? undefined : f.input + (f.cacheRead ?? 0) + (f.cacheWrite ?? 0);
    if (input !== undefined) u.inputTokens = input;
    if (f.output !== undefined) u.outputTokens = f.output;
    if (f.cacheRead !== undefined) u.cachedInputTokens = f.cacheRead;
    if (f.cacheWrite !== undefined) u.cacheWriteTokens = f.cacheWrite;
    // One-hour cache writes cost more than five-minute ones: kept apart for pricing (never more than all writes).
    if (f.cacheWrite1h !== undefined) u.cacheWrite1hTokens = Math.min(f.cacheWrite1h, f.cacheWrite ?? f.cacheWrite1h);
    if (input !== undefined && f.output !== undefined) u.totalTokens = input + f.output;
    if (f.webSearches !== undefined) u.webSearches = f.webSearches;
  }
  if (unread.length > 0) u.unread = unread;
  return u;
}

/**
 * The generated text one stream event carries: text, thinking and tool-input JSON deltas, and the
 * name of a tool_use block as it starts (see ProviderConverter.textOf).
 */
function anthropicTextOf(event: unknown): string | undefined {
  const ev = obj(event);
  const type = ev?.type;
  if (type === 'content_block_delta') {
    const d = obj(ev?.delta);
    return str(d?.text) ?? str(d?.thinking) ?? str(d?.partial_json);
  }
  if (type === 'content_block_start') {
    const b = obj(ev?.content_block);
    return str(b?.text) ?? (b?.type === 'tool_use' ? str(b.name) : undefined);
  }
  return undefined;
}

export const anthropicConverter: ProviderConverter = {
  textOf: anthropicTextOf,
  fromResponse(response, request) {
    const body = obj(response);
    const unread: string[] = [];
    const f: Fields = {};
    read(body?.usage, 'usage', unread, f);
    return anthropicUsage('anthropic', f, str(body?.model), str(obj(request)?.model), unread);
  },
  fromStream(events, request) {
    const unread: string[] = [];
    const f: Fields = {};
    let model: string | undefined;
    let stopped = false;
    for (const e of events) {
      const ev = obj(e);
      const type = str(ev?.type);
      if (type === 'message_start') {
        const message = obj(ev?.message);
        model = str(message?.model) ?? model;
        read(message?.usage, 'message_start.message.usage', unread, f);
      } else if (type === 'message_delta') {
        read(ev?.usage, 'message_delta.usage', unread, f);
      } else if (type === 'message_stop') {
        stopped = true;
      }
    }
    const u = anthropicUsage('anthropic', f, model, str(obj(request)?.model), unread);
    if (!stopped) u.partial = true;
    return u;
  },
};
