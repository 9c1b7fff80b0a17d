import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';

/** This checkout's CLI, run from its sources. */
export const CLI = join(import.meta.dirname, '..', '..', 'src', 'cli', 'index.ts');

/**
 * `tokenmeter serve --port 0 ...args` in a child process (its own event loop, as in production);
 * resolves once it prints the URL it serves, rejects with its stderr when it exits first.
 */
export function startServe(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cli?: string } = {},
): Promise<{ proc: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [options.cli ?? CLI, 'serve', '--port', '0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: options.env ?? { ...process.env, TOKENMETER_LOG: 'error' },
  });
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stderr?.on('data', (c: Buffer) => {
      err += c;
    });
    child.stdout?.on('data', (c: Buffer) => {
      out += c;
      const m = /serving (http:\/\/\S+)/.exec(out);
      if (m) resolve({ proc: child, url: m[1] as string });
    });
    child.on('exit', (code) => reject(new Error(`serve exited with ${code}: ${err}`)));
  });
}
