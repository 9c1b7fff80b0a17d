import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Env } from './logger.ts';

/**
 * The storage dir: the `dir` option, else `$TOKENMETER_DIR`, else `$GRAPHITI_TOKEN_MONITOR_DIR`
 * (the Graphiti token monitor's variable, so its users' settings keep working; TOKENMETER_DIR wins
 * when both are set), else `~/.tokenmeter`. Apart from config.ts (and its schema library) so that
 * the CLI's read commands start without loading it.
 */
export function resolveDir(dir?: string, env: Env = process.env): string {
  if (dir !== undefined) return dir;
  const fromEnv = env.TOKENMETER_DIR || env.GRAPHITI_TOKEN_MONITOR_DIR;
  return fromEnv ? expandHome(fromEnv) : join(homedir(), '.tokenmeter');
}

/**
 * A leading `~` as the home dir. A shell expands `export X=~/dir` itself, but env files (docker
 * compose, systemd, .env loaders) pass the `~` through, and the Graphiti monitor's documented
 * value is `~/.graphiti/token_monitor`; a dir really named `~` is not what anyone means.
 */
function expandHome(path: string): string {
  if (path === '~') return homedir();
  return path.startsWith('~/') ? join(homedir(), path.slice(2)) : path;
}
