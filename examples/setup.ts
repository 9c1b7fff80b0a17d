// What the examples share: where their ledger goes, and a local stand-in for the OpenAI API so
// that they run offline and cost nothing. Nothing here is needed in an app: there the monitor
// keeps its ledger in ~/.tokenmeter (or $TOKENMETER_DIR) and the client is a real `new OpenAI()`.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import OpenAI from 'openai';
import { type ReceivedRequest, replayServer } from '../test/helpers/replay-server.ts';

/**
 * The storage dir of an example's ledger: `--dir <path>`, else a new temp dir, so that running an
 * example never adds made-up calls to your own ~/.tokenmeter.
 */
export function exampleDir(name: string): string {
  const { values } = parseArgs({ options: { dir: { type: 'string' } } });
  return values.dir ?? mkdtempSync(join(tmpdir(), `tokenmeter-${name}-`));
}

/** How to read an example's ledger with the CLI afterwards (`tokenmeter` where it is installed). */
export function cliHint(dir: string, command: string): string {
  return `node src/cli/index.ts ${command} --dir ${dir}`;
}

interface ChatRequest {
  model: string;
  messages: { role: string; content: string }[];
  max_tokens?: number;
}

/**
 * An OpenAI client pointed at a local server that answers chat completions as the API does, with
 * usage: about 4 characters a prompt token, and an answer of up to `max_tokens` tokens.
 * `requests` counts what reached it (a call a budget refused never does).
 */
export async function localOpenAI(): Promise<{ client: OpenAI; baseURL: string; requests: () => number; close: () => Promise<void> }> {
  const server = await replayServer((req: ReceivedRequest) => {
    const body = req.body as ChatRequest;
    const chars = body.messages.reduce((n, m) => n + String(m.content).length, 0);
    const promptTokens = Math.ceil(chars / 4) + 4 * body.messages.length;
    const completionTokens = Math.min(body.max_tokens ?? 1024, 60 + (chars % 240));
    return {
      json: {
        id: `chatcmpl-local-${req.path.length}`,
        object: 'chat.completion',
        created: Math.floor(Date.now() / 1000),
        model: body.model,
        choices: [{ index: 0, message: { role: 'assistant', content: 'A stand-in answer.' }, finish_reason: 'stop' }],
        usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens },
      },
    };
  });
  const baseURL = `${server.url}/v1`;
  const client = new OpenAI({ apiKey: 'sk-local-stand-in-key', baseURL, maxRetries: 0 });
  return { client, baseURL, requests: () => server.requests.length, close: () => server.close() };
}
