/**
 * The oldest Node tokenmeter runs on (package.json `engines`): 22.12, the first 22 to `require` an
 * ES module without a flag (a config file's schema is loaded that way, on first use: config.ts).
 */
export const NODE_NEEDED = '22.12';

/**
 * The one line to print when Node `version` (process.versions.node) is too old for tokenmeter;
 * undefined when it will do. Kept free of imports and of syntax older Nodes cannot parse.
 */
export function nodeTooOld(version: string, execPath: string = process.execPath): string | undefined {
  const [major = Number.NaN, minor = Number.NaN] = version.split('.').map((n) => Number.parseInt(n, 10));
  const [needMajor = 0, needMinor = 0] = NODE_NEEDED.split('.').map(Number);
  if (major > needMajor || (major === needMajor && minor >= needMinor)) return undefined;
  return `tokenmeter: needs Node.js ${NODE_NEEDED} or later, and this is Node.js ${version} (${execPath}); install a newer Node (https://nodejs.org) or put one first on PATH`;
}
