/** The oldest Node major tokenmeter runs on (package.json `engines`). */
export const NODE_MAJOR_NEEDED = 22;

/**
 * The one line to print when Node `version` (process.versions.node) is too old for tokenmeter;
 * undefined when it will do. Kept free of imports and of syntax older Nodes cannot parse.
 */
export function nodeTooOld(version: string, execPath: string = process.execPath): string | undefined {
  const major = Number.parseInt(version.split('.')[0] ?? '', 10);
  if (major >= NODE_MAJOR_NEEDED) return undefined;
  return `tokenmeter: needs Node.js ${NODE_MAJOR_NEEDED} or later, and this is Node.js ${version} (${execPath}); install a newer Node (https://nodejs.org) or put one first on PATH`;
}
