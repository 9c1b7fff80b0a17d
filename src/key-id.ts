import { createHmac } from 'node:crypto';

/**
 * Turns an API key into a short id that is safe to store and show: the key's last 4 characters
 * and 8 hex characters of an HMAC-SHA256, so two keys that end alike stay apart. The key itself is
 * never kept. Keys shorter than 16 characters get no visible tail, since 4 characters of a short
 * string give too much of it away.
 *
 * The HMAC secret defaults to a fixed string so that every instance of a fleet derives the same id
 * for the same key; set `keyIdSecret` (or `TOKENMETER_KEY_ID_SECRET`) to make ids unguessable by
 * anyone holding a candidate key.
 */
export const DEFAULT_KEY_ID_SECRET = 'tokenmeter-key-id-v1';

export function apiKeyId(apiKey: string, secret: string = DEFAULT_KEY_ID_SECRET): string {
  const mac = createHmac('sha256', secret).update(apiKey).digest('hex').slice(0, 8);
  return apiKey.length >= 16 ? `${apiKey.slice(-4)}-${mac}` : mac;
}

/**
 * Remembers the ids of recently seen keys, so `record()` does not pay for an HMAC per call.
 * The map lives in process memory only (the process holds the key anyway) and is bounded.
 */
export class KeyIdCache {
  readonly #ids = new Map<string, string>();
  readonly #secret: string;
  constructor(secret: string = DEFAULT_KEY_ID_SECRET) {
    this.#secret = secret;
  }
  get(apiKey: string): string {
    let id = this.#ids.get(apiKey);
    if (id === undefined) {
      id = apiKeyId(apiKey, this.#secret);
      if (this.#ids.size >= 256) this.#ids.clear();
      this.#ids.set(apiKey, id);
    }
    return id;
  }
}
