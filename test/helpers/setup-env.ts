import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// Every monitor a test makes without a `dir` keeps its ledger in a temporary dir of this test
// file's own, never in the user's ~/.tokenmeter.
process.env.TOKENMETER_DIR = mkdtempSync(join(tmpdir(), 'tokenmeter-test-'));
