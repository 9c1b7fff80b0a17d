// The tokenmeter demo: a team's day of LLM traffic in a ledger, served by `tokenmeter serve`'s own
// server (the page at /, the REST API under /v1, /metrics), with the budgets of
// examples/demo/config.json. Within its first minute dana's daily budget warns, turns critical, then
// is exceeded: watch it on the page, in /v1/status and /v1/alerts, and with `tokenmeter alerts`.
//   node examples/basic.ts                 http://127.0.0.1:8787, Ctrl-C to stop
//   node examples/basic.ts --speed 20      the same story 20 times faster (the test runs it so)
//   --host, --port (0: any free one), --dir (default .tokenmeter/demo, emptied of its ledger at
//   each start); beyond loopback it needs TOKENMETER_API_TOKEN, as `tokenmeter serve` does.
// In an app, import from 'tokenmeter'; this example imports the source so it runs without a build.
import { copyFileSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startServing } from '../src/cli/serve.ts';
import { formatCostReport } from '../src/index.ts';
import { backgroundCall, callsInHour, DANA_PLAN, danaCall, random, recordLive } from './demo/traffic.ts';

const { values: args } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '8787' },
    dir: { type: 'string', default: join(import.meta.dirname, '..', '.tokenmeter', 'demo') },
    speed: { type: 'string', default: '1' },
  },
});
const speed = Number(args.speed);
const port = Number(args.port);
if (!(speed > 0 && speed <= 1000)) throw new Error(`--speed must be a number from 1 to 1000, not ${args.speed}`);
if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be a port number, not ${args.port}`);
const dir = args.dir;

// A fresh ledger each run, so that the story starts again; only in a dir the demo made.
const MARKER = join(dir, 'tokenmeter-demo');
if (existsSync(join(dir, 'ledger.db')) && !existsSync(MARKER))
  throw new Error(`${dir} holds a ledger the demo did not make: give the demo another --dir`);
mkdirSync(dir, { recursive: true });
for (const f of ['ledger.db', 'ledger.db-wal', 'ledger.db-shm']) rmSync(join(dir, f), { force: true });
writeFileSync(MARKER, "This dir is the tokenmeter demo's: it empties the ledger here at each start.\n");
copyFileSync(join(import.meta.dirname, 'demo', 'config.json'), join(dir, 'config.json'));

const serving = await startServing({ dir, host: args.host, port }).catch((error: Error) => {
  // A refusal to listen beyond loopback without a token, or a port taken: one line, as serve says it.
  console.error(`demo: ${error.message}`);
  process.exit(2);
});
const { monitor, server } = serving;

// The week so far: six days back and today up to now, at the hours people work. Into the server's
// own monitor: its budgets count today's calls, and the ledger writes them while the server runs.
const rnd = random(14);
const now = Date.now();
const HOUR = 3_600_000;
const today = Math.floor(now / 86_400_000) * 86_400_000;
let backfilled = 0;
for (let hour = today - 6 * 24 * HOUR; hour < now; hour += HOUR) {
  const n = callsInHour(new Date(hour).getUTCHours());
  for (let i = 0; i < n; i++) {
    const at = hour + Math.floor(rnd() * HOUR);
    if (at >= now) continue;
    const { stream, ...call } = backgroundCall(rnd, at);
    monitor.record(stream === undefined ? call : { ...call, metadata: { stream: true } });
    backfilled++;
  }
  // Dana's research on earlier days (her budget is daily: only today's calls count).
  if (hour < today && new Date(hour).getUTCHours() === 15) monitor.record({ ...danaCall(monitor, 0.9, 0), timestamp: hour + 600_000 });
}

/** A path as the user would type it from here: relative below the working dir, else absolute. */
const short = (path: string) => {
  const rel = relative(process.cwd(), path);
  return rel === '' ? '.' : rel.startsWith('..') || isAbsolute(rel) ? resolve(path) : rel;
};
const token = process.env.TOKENMETER_API_TOKEN ? ' (with Authorization: Bearer $TOKENMETER_API_TOKEN)' : '';
console.log(
  [
    `tokenmeter demo: ${backfilled} calls of the last 7 days in ${dir}, live traffic now${speed === 1 ? '' : ` at ${speed}x speed`}`,
    `  page         ${server.url}/`,
    `  metrics      ${server.url}/metrics`,
    `  summary      ${server.url}/v1/summary?by=model${token}`,
    `  budgets      ${server.url}/v1/status and ${server.url}/v1/alerts`,
    `  CLI          node ${short(join(import.meta.dirname, '..', 'src', 'cli', 'index.ts'))} alerts --dir ${short(dir)}   (status, summary --by agent, ...)`,
    "Within a minute dana's daily budget ($2) warns, turns critical, then is exceeded (the alerts are logged below). Ctrl-C to stop.",
  ].join('\n'),
);

const timers = new Set<NodeJS.Timeout>();
const at = (seconds: number, fn: () => void) => {
  const t = setTimeout(
    () => {
      timers.delete(t);
      fn();
    },
    (seconds * 1000) / speed,
  );
  timers.add(t);
};
const danaLimit = monitor.status().find((s) => s.scope === 'user' && s.scopeId === 'dana')?.limit ?? 2;
DANA_PLAN.forEach(([second, share], n) => {
  at(second, () => monitor.record(danaCall(monitor, share * danaLimit, n)));
});
// The rest of the team, a call a second; dana's small follow-ups every ten seconds after her plan.
const background = setInterval(() => recordLive(monitor, backgroundCall(rnd)), 1000 / speed);
let follow = 0;
at(50, () => {
  const t = setInterval(() => monitor.record(danaCall(monitor, 0.01 * danaLimit, follow++)), 10_000 / speed);
  timers.add(t as unknown as NodeJS.Timeout);
});

const stop = async () => {
  clearInterval(background);
  for (const t of timers) clearTimeout(t);
  await monitor.flush();
  console.log(`\n${formatCostReport(await monitor.sessionStats())}`);
  await serving.close();
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
