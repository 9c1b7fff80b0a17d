/**
 * `node scripts/page-screenshot.ts [out.png]`: draws the README's picture of the built-in page
 * (docs/page.png) the way the browser test sees the page: the test's generated ledger and budgets,
 * `tokenmeter serve` over them, user dave's budget pushed over, Debian's chromium.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchBrowser, pushOverBudget, screenshot, seed, serve, stop } from '../test/helpers/page.ts';

const out = process.argv[2] ?? join(import.meta.dirname, '..', 'docs', 'page.png');
const dir = mkdtempSync(join(tmpdir(), 'tm-page-shot-'));
process.env.TOKENMETER_DIR = dir;
await seed(dir);
const { proc, url } = await serve(dir);
const browser = await launchBrowser();
try {
  await pushOverBudget(url);
  const png = await screenshot(browser, url);
  writeFileSync(out, png);
  process.stdout.write(`${out}: ${png.length} bytes\n`);
} finally {
  await browser.close();
  await stop(proc);
  rmSync(dir, { recursive: true, force: true });
}
