/**
 * A small levelled logger writing to stderr. Messages never carry API keys: callers pass key ids,
 * and error messages from providers go through `redactSecrets` before they are kept.
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

// Key shapes of the providers tokenmeter meters: OpenAI and Anthropic (sk-, sk-proj-, sk-ant-),
// Google (AIza), Groq (gsk_), xAI (xai-), AWS access key ids (AKIA/ASIA), and bearer tokens.
const SECRET_PATTERNS =
  /\b(?:sk-[A-Za-z0-9_*-]{6,}|AIza[0-9A-Za-z_-]{20,}|gsk_[A-Za-z0-9]{10,}|xai-[A-Za-z0-9]{10,}|(?:AKIA|ASIA)[0-9A-Z]{16})|(?<=Bearer\s+)[A-Za-z0-9._~+/=-]{8,}/g;

/** Replaces anything shaped like an API key with `[redacted]`. */
export function redactSecrets(text: string): string {
  return text.replace(SECRET_PATTERNS, '[redacted]');
}
