import { homedir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveDir } from './storage-dir.ts';

describe('resolveDir', () => {
  it('takes the dir option first, then TOKENMETER_DIR, then ~/.tokenmeter', () => {
    expect(resolveDir('/opt/a', { TOKENMETER_DIR: '/opt/b', GRAPHITI_TOKEN_MONITOR_DIR: '/opt/c' })).toBe('/opt/a');
    expect(resolveDir(undefined, { TOKENMETER_DIR: '/opt/b' })).toBe('/opt/b');
    expect(resolveDir(undefined, {})).toBe(join(homedir(), '.tokenmeter'));
  });

  it("reads the Graphiti monitor's GRAPHITI_TOKEN_MONITOR_DIR when TOKENMETER_DIR is not set; TOKENMETER_DIR wins", () => {
    expect(resolveDir(undefined, { GRAPHITI_TOKEN_MONITOR_DIR: '/srv/graphiti/token_monitor' })).toBe('/srv/graphiti/token_monitor');
    expect(resolveDir(undefined, { TOKENMETER_DIR: '/opt/b', GRAPHITI_TOKEN_MONITOR_DIR: '/srv/g' })).toBe('/opt/b');
    // Empty is unset, as for TOKENMETER_DIR (`export TOKENMETER_DIR=` in a profile).
    expect(resolveDir(undefined, { TOKENMETER_DIR: '', GRAPHITI_TOKEN_MONITOR_DIR: '/srv/g' })).toBe('/srv/g');
    expect(resolveDir(undefined, { GRAPHITI_TOKEN_MONITOR_DIR: '' })).toBe(join(homedir(), '.tokenmeter'));
  });

  it("expands a leading ~ that no shell expanded (env files), as in the seed's ~/.graphiti/token_monitor", () => {
    expect(resolveDir(undefined, { GRAPHITI_TOKEN_MONITOR_DIR: '~/.graphiti/token_monitor' })).toBe(
      join(homedir(), '.graphiti', 'token_monitor'),
    );
    expect(resolveDir(undefined, { TOKENMETER_DIR: '~' })).toBe(homedir());
    // Only the home dir's own ~: another user's (~bob) and a ~ inside a path are left as given.
    expect(resolveDir(undefined, { TOKENMETER_DIR: '~bob/x' })).toBe('~bob/x');
    expect(resolveDir(undefined, { TOKENMETER_DIR: '/data/~/x' })).toBe('/data/~/x');
    // The dir option is the caller's own path, taken as given.
    expect(resolveDir('~/x', {})).toBe('~/x');
  });
});
