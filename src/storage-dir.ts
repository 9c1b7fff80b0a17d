import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Env } from './logger.ts';

/**
 * The storage dir: the `dir` option, else `$TOKENMETER_DIR`, else `~/.tokenmeter`. Apart from
 * config.ts (and its schema library) so that the CLI's read commands start without loading it.
 */
export function resolveDir(dir?: string, env: Env = process.env): string {
  return dir ?? (env.TOKENMETER_DIR || join(homedir(), '.tokenmeter'));
}
