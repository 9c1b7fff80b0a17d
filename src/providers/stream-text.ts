/**
 * Splits a raw streamed body into its events' JSON payloads: SSE (`data:` lines, events separated
 * by a blank line, LF or CRLF) or NDJSON (one JSON value per line). Lines that are not JSON
 * (`data: [DONE]`, comments, `event:` names) are skipped; nothing throws.
 */
export function parseStreamText(text: string): unknown[] {
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
