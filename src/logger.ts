/**
 * A small levelled logger writing to stderr. Messages never carry API keys: callers pass key ids,
 * error messages from providers go through `redactSecrets` before they are kept, and a monitor's
 * log lines through its `SecretKeys`.
 */
/** Environment variables, as `process.env` holds them. */
export type Env = Readonly<Record<string, string | undefined>>;

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

/** Where tokenmeter's log lines go. Pass your own to route them into your logger. */
export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** Reads `TOKENMETER_LOG` (debug, info, warn, error, silent); anything else means `warn`. */
export function logLevelFromEnv(env: Env = process.env): LogLevel {
  const raw = env.TOKENMETER_LOG?.trim().toLowerCase();
  return raw !== undefined && raw in ORDER ? (raw as LogLevel) : 'warn';
}

/** A logger that writes `tokenmeter <level>: <message>` lines to stderr at or above `level`. */
export function createStderrLogger(level: LogLevel = logLevelFromEnv()): Logger {
  const min = ORDER[level];
  const write = (lvl: Exclude<LogLevel, 'silent'>) => (message: string) => {
    if (ORDER[lvl] >= min) process.stderr.write(`tokenmeter ${lvl}: ${message}\n`);
  };
  return { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') };
}

/** Logs each distinct key once per instance, so a hot loop cannot flood the log. */
export class OnceLogger {
  readonly #seen = new Set<string>();
  readonly #logger: Logger;
  constructor(logger: Logger) {
    this.#logger = logger;
  }
  warn(key: string, message: string): void {
    if (this.#seen.has(key)) return;
    if (this.#seen.size < 10_000) this.#seen.add(key);
    this.#logger.warn(message);
  }
  error(key: string, message: string): void {
    if (this.#seen.has(key)) return;
    if (this.#seen.size < 10_000) this.#seen.add(key);
    this.#logger.error(message);
  }
}

// Key shapes: OpenAI, Anthropic, DeepSeek, OpenRouter (sk-, sk-proj-, sk-ant-, sk-or-), Google
// (AIza), Groq (gsk_), xAI (xai-), Voyage AI (pa-), Hugging Face (hf_), Perplexity (pplx-),
// Replicate (r8_), AWS access key ids (AKIA/ASIA), and the credentials of Bearer and Basic
// authorization headers.
const SECRET_PATTERNS =
  /\b(?:sk-[A-Za-z0-9_*-]{6,}|AIza[0-9A-Za-z_-]{20,}|gsk_[A-Za-z0-9]{10,}|xai-[A-Za-z0-9]{10,}|pa-[A-Za-z0-9_-]{20,}|hf_[A-Za-z0-9]{20,}|pplx-[A-Za-z0-9]{20,}|r8_[A-Za-z0-9]{20,}|(?:AKIA|ASIA)[0-9A-Z]{16})|(?<=\b(?:Bearer|Basic)\s+)[A-Za-z0-9._~+/=-]{8,}/g;
// A key given by name in a URL, header or JSON text: `?api_key=...`, `x-api-key: ...`, `"apiKey": "..."`.
const NAMED_SECRETS = /(?<=\b(?:api[_-]?key|access[_-]?token|auth[_-]?token|secret[_-]?key)["']?\s*[:=]\s*["']?)[^\s"'&,;]{8,}/gi;

/**
 * Keys shorter than this are not looked for by value: a 3-character key would be "found" inside
 * ordinary words and numbers. No provider tokenmeter meters issues keys this short.
 */
export const MIN_REDACTED_KEY_LENGTH = 8;

/** Replaces anything shaped like an API key, and each of `keys` in any of its common encodings, with `[redacted]`. */
export function redactSecrets(text: string, ...keys: (string | null | undefined)[]): string {
  let out = text;
  for (const key of keys) {
    const re = typeof key === 'string' ? keyPattern(key) : undefined;
    if (re !== undefined) out = out.replace(re, '[redacted]');
  }
  return out.replace(SECRET_PATTERNS, '[redacted]').replace(NAMED_SECRETS, '[redacted]');
}

/** A copy of a JSON-like value (a record's metadata) with `key` redacted from its strings, keys included. */
export function redactValues<T>(value: T, key: string): T {
  const re = keyPattern(key);
  if (re === undefined) return value;
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return v.replace(re, '[redacted]');
    if (Array.isArray(v)) return v.map(walk);
    if (typeof v === 'object' && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [walk(k), walk(x)]));
    return v;
  };
  return walk(value) as T;
}

/** One pattern per key, built once (a bounded cache: an app uses a few keys). */
const patterns = new Map<string, RegExp | undefined>();

function keyPattern(key: string): RegExp | undefined {
  let re = patterns.get(key);
  if (re === undefined && !patterns.has(key)) {
    if (patterns.size >= 256) patterns.clear();
    const forms = key.length < MIN_REDACTED_KEY_LENGTH ? [] : keyForms(key);
    // Longest first, so a longer form (the padded base64) wins over one it contains.
    forms.sort((a, b) => b.length - a.length);
    re = forms.length === 0 ? undefined : new RegExp(forms.map(escapeRegExp).join('|'), 'g');
    patterns.set(key, re);
  }
  return re;
}

/**
 * The forms a key takes in an error message: as given; percent-encoded (in a URL); JSON-escaped
 * (in a JSON body quoted inside another); and in base64, alone or inside `user:key` (a Basic
 * authorization header). Base64 of a longer text that holds the key depends on where the key
 * starts: for each of the three offsets, the characters that encode the key's bytes alone.
 */
function keyForms(key: string): string[] {
  const forms = new Set<string>([key]);
  try {
    const percent = encodeURIComponent(key);
    forms.add(percent);
    forms.add(percent.replace(/%[0-9A-F]{2}/g, (h) => h.toLowerCase()));
    forms.add(encodeURI(key));
  } catch {
    // A lone surrogate has no percent-encoding (URIError): no URL carries it either.
  }
  const json = JSON.stringify(key).slice(1, -1);
  forms.add(json);
  forms.add(JSON.stringify(json).slice(1, -1));
  forms.add(json.replace(/\//g, '\\/'));
  forms.add(json.replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));
  const bytes = Buffer.from(key, 'utf8');
  const whole = bytes.toString('base64');
  forms.add(whole);
  forms.add(bytes.toString('base64url'));
  for (let offset = 0; offset < 3; offset++) {
    const b64 = Buffer.concat([Buffer.alloc(offset), bytes]).toString('base64');
    // The first group of 4 characters mixes in the bytes before the key. A key inside the text:
    // whole groups only (the last one mixes in what follows); a key at its end (`user:key`): to
    // the padding.
    const start = offset === 0 ? 0 : 4;
    for (const f of [
      b64.slice(start, Math.floor((offset + bytes.length) / 3) * 4),
      b64.slice(start),
      b64.slice(start).replace(/=+$/, ''),
    ]) {
      forms.add(f);
      forms.add(f.replace(/\+/g, '-').replace(/\//g, '_'));
    }
  }
  return [...forms].filter((f) => f.length >= MIN_REDACTED_KEY_LENGTH);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/**
 * The API keys a monitor has seen (bounded), and a logger that keeps them, and key-shaped strings,
 * out of every line it writes.
 */
export class SecretKeys {
  readonly #keys = new Set<string>();

  /** Remembers `key` (keys under {@link MIN_REDACTED_KEY_LENGTH} characters are not looked for). */
  add(key: string): void {
    if (key.length >= MIN_REDACTED_KEY_LENGTH && this.#keys.size < 64) this.#keys.add(key);
  }

  /** `text` with every key seen, and anything key-shaped, redacted. */
  redact(text: string): string {
    return redactSecrets(text, ...this.#keys);
  }

  /** `logger`, each line redacted first. */
  logger(logger: Logger): Logger {
    const r = (write: (m: string) => void) => (message: string) => write(this.redact(message));
    return {
      debug: r((m) => logger.debug(m)),
      info: r((m) => logger.info(m)),
      warn: r((m) => logger.warn(m)),
      error: r((m) => logger.error(m)),
    };
  }
}
