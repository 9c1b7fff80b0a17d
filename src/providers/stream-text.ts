/**
 * Splits a raw streamed body into its events' JSON payloads: SSE (`data:` lines, events separated
 * by a blank line, LF or CRLF), NDJSON (one JSON value per line) or one JSON array of them. Lines that are not JSON
 * (`data: [DONE]`, comments, `event:` names) are skipped; nothing throws.
 */
export function parseStreamText(text: string): unknown[] {
  // Gemini's and Vertex AI's streamGenerateContent without `alt=sse` stream one JSON array of chunks.
  if (text.trimStart().startsWith('[')) {
    try {
      const all: unknown = JSON.parse(text);
      if (Array.isArray(all)) return all;
    } catch {
      // Not one JSON array (a cut stream): read line by line below.
    }
  }
  const lines = text.split(/\r\n|\r|\n/);
  const sse = lines.some((l) => l.startsWith('data:'));
  const events: unknown[] = [];
  if (!sse) {
    for (const line of lines) pushJson(events, line.trim());
    return events;
  }
  let data: string[] = [];
  const flush = () => {
    if (data.length > 0) pushJson(events, data.join('\n'));
    data = [];
  };
  for (const line of lines) {
    if (line === '') flush();
    else if (line.startsWith('data:')) data.push(line.slice(line.startsWith('data: ') ? 6 : 5));
  }
  flush();
  return events;
}

function pushJson(out: unknown[], s: string): void {
  if (s === '' || s === '[DONE]') return;
  try {
    out.push(JSON.parse(s));
  } catch {
    // Not an event payload.
  }
}
