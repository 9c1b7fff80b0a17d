#!/usr/bin/env node
/**
 * The `tokenmeter` command. The Node version is checked before anything else loads: on an older
 * Node, the SQLite driver's prebuilt binary ends the process in a segmentation fault with no
 * message.
 */
import { nodeTooOld } from './node-version.ts';

const tooOld = nodeTooOld(process.versions.node);
if (tooOld !== undefined) {
  process.stderr.write(`${tooOld}\n`);
  process.exit(2);
}
const { run } = await import('./index.ts');
run();
