#!/usr/bin/env node
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, Option } from 'commander';
import { LIMIT_TYPES } from '../budgets/limits.ts';
import { isLedgerError, isValidationError } from '../errors.ts';
import type { AdviseArgs } from './advise.ts';
import type { AlertsArgs } from './alerts.ts';
import type { ArchivesArgs } from './archives.ts';
import { BY, CYCLES, intIn, parseDays, parseKeepDays, parsePositiveInt, parseSince, parseUntil, parseUsd } from './args.ts';
import type { CleanupArgs } from './cleanup.ts';
import type { ExportArgs } from './export.ts';
import type { MigrateArgs } from './migrate.ts';
import type { ProvidersArgs } from './providers.ts';
import type { RecordsArgs } from './records.ts';
import type { ReportArgs } from './report.ts';
import type { ServeOptions } from './serve.ts';
import type { SessionReportArgs } from './session-report.ts';
import type { SetLimitArgs } from './set-limit.ts';
import type { StatusArgs } from './status.ts';
import type { SummaryArgs } from './summary.ts';

// The ids are the provider registry's; listed by a command of their own, so that starting the CLI
// does not load every provider's converter.
const PROVIDERS_HELP = 'e.g. openai; `tokenmeter providers` lists them';
const DIR_HELP = 'storage dir holding config.json and ledger.db (default $TOKENMETER_DIR, $GRAPHITI_TOKEN_MONITOR_DIR or ~/.tokenmeter)';
const LEDGER_HELP = "a PostgreSQL ledger (postgres://user:pass@host/db) instead of the dir's ledger.db (default $TOKENMETER_LEDGER_URL)";

/** Runs the CLI; resolves to the exit code (2 for bad arguments, 1 for a ledger that cannot be read). */
export async function main(argv: readonly string[], out: (s: string) => void = (s) => process.stdout.write(`${s}\n`)): Promise<number> {
  let code = 0;
  const program = new Command()
    .name('tokenmeter')
    .description('What your LLM calls cost: prices, usage and reports.')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  program
    .command('pricing')
    .description('show the price tokenmeter applies to a model, which data it came from and its date; --refresh fetches current prices')
    .argument('[model]', 'model name, e.g. gpt-4o or anthropic.claude-3-5-sonnet-20240620-v1:0')
    .option('-p, --provider <id>', `provider id (${PROVIDERS_HELP}); default: found from the model name`)
    .option(
      '--refresh',
      "fetch current price data once (from config.json price_data.source, else genai-prices' own URL), check it and keep it in <dir>/prices.json, used offline from then on",
    )
    .option('--source <url-or-file>', 'with --refresh: fetch from here instead')
    .option('--dir <path>', 'storage dir holding config.json (default $TOKENMETER_DIR, $GRAPHITI_TOKEN_MONITOR_DIR or ~/.tokenmeter)')
    .option('--json', 'print JSON')
    .action(
      async (model: string | undefined, opts: { provider?: string; dir?: string; json?: boolean; refresh?: boolean; source?: string }) => {
        code = await (await import('./pricing.ts')).pricingCommand({ model, ...opts }, out);
      },
    );
  program
    .command('inspect')
    .description('show what tokenmeter reads from a saved response (JSON) or stream (SSE/NDJSON), and what it would cost')
    .argument('<file>', 'the saved response body or raw stream text')
    .requiredOption('-p, --provider <id>', `provider id (${PROVIDERS_HELP}; any other is read as OpenAI-compatible)`)
    .option('--request <file>', 'the request body (JSON), for the requested model and the kind of call')
    .option('--dir <path>', 'storage dir holding config.json (default $TOKENMETER_DIR, $GRAPHITI_TOKEN_MONITOR_DIR or ~/.tokenmeter)')
    .option('--json', 'print JSON')
    .action(async (file: string, opts: { provider: string; request?: string; dir?: string; json?: boolean }) => {
      code = (await import('./inspect.ts')).inspectCommand(
        { file, provider: opts.provider, request: opts.request, dir: opts.dir, json: opts.json },
        out,
      );
    });
  program
    .command('providers')
    .description(
      "the provider ids tokenmeter knows: each one's service types, the SDK clients instrument() meters as it, where its prices come from",
    )
    .option('--json', 'print JSON')
    .action(async (opts: ProvidersArgs) => {
      code = (await import('./providers.ts')).providersCommand(opts, out);
    });
  program
    .command('serve')
    .description('run the REST API (ingest, reports, budgets; /metrics on the same port) over the ledger in the storage dir')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <n>', 'port (0: any free one)', intIn(0, 65535), 8787)
    .option('--token <token>', 'require Authorization: Bearer <token> (default $TOKENMETER_API_TOKEN)')
    .option('--allow-open', 'listen beyond loopback without a token: anyone who can reach the port may write and read usage')
    .option(
      '--cors-origin <origin>',
      'a web origin (https://app.example.com) whose pages may call the API; repeat for more (default: none, browsers are refused)',
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .option('--headers-timeout <ms>', 'time a client has to send its headers (default 10000)', parsePositiveInt)
    .option('--request-timeout <ms>', 'time a client has to send a whole request (default 30000)', parsePositiveInt)
    .option('--keep-alive-timeout <ms>', 'time an idle connection stays open (default 5000)', parsePositiveInt)
    .option('--max-connections <n>', 'most connections open at once (default 1024)', parsePositiveInt)
    .option(
      '--max-ledger-backlog <n>',
      'records waiting for the ledger past which POST /v1/usage answers 503 (default 100000)',
      parsePositiveInt,
    )
    .option('--dir <path>', DIR_HELP)
    .option('--ledger <url>', LEDGER_HELP)
    .option(
      '--sync-interval <ms>',
      "how often budgets read the other processes' spending from the shared ledger, and config.json is looked at (default 2000; 0: never)",
      intIn(0, 3_600_000),
    )
    .action(async (opts: ServeOptions) => {
      // Loaded only for this command: the read commands stay light.
      const { serveCommand } = await import('./serve.ts');
      code = await serveCommand(opts, out);
    });
  program
    .command('migrate')
    .description('copy a SQLite ledger into PostgreSQL (records and rollups); run again, it adds only what is new')
    .requiredOption('--from <file>', 'the SQLite ledger, e.g. ~/.tokenmeter/ledger.db')
    .requiredOption('--to <url>', 'the PostgreSQL ledger, postgres://user:pass@host/db')
    .option('--json', 'print JSON')
    .action(async (opts: MigrateArgs) => {
      code = await (await import('./migrate.ts')).migrateCommand(opts, out);
    });
  addLedgerCommands(
    program,
    (c) => {
      code = c;
    },
    out,
  );
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version exit 0; every other parse failure is a usage error.
      return error.exitCode === 0 ? 0 : 2;
    }
    if (isValidationError(error)) {
      process.stderr.write(`tokenmeter: ${error.message}\n`);
      return 2;
    }
    if (isLedgerError(error)) {
      process.stderr.write(`tokenmeter: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
  return code;
}

/** The ledger's read commands and set-limit; each sets the exit code through `done`. */
function addLedgerCommands(program: Command, done: (code: number) => void, out: (s: string) => void): void {
  const range = (c: Command, defaultDays?: string) =>
    c
      .option('-d, --days <n>', `the last n days${defaultDays === undefined ? '' : ` (default ${defaultDays})`}`, parseDays)
      .option('--since <date>', 'from this date (UTC) or ISO 8601 time, inclusive; wins over --days', parseSince)
      .option('--until <date>', 'up to this date (that whole day included) or ISO 8601 time (exclusive); default now', parseUntil);
  const common = (c: Command) => c.option('--dir <path>', DIR_HELP).option('--ledger <url>', LEDGER_HELP).option('--json', 'print JSON');
  common(
    range(
      program
        .command('summary')
        .description('usage and cost grouped by provider, model, agent, user, thread, day...')
        .option('-p, --provider <id>', 'only this provider'),
      '30',
    ).addOption(new Option('--by <dimension>', 'what to group by').choices(Object.keys(BY)).default('provider')),
  ).action(async (opts: SummaryArgs) => done(await (await import('./summary.ts')).summaryCommand(opts, out)));
  common(
    range(
      program
        .command('advise')
        .description('what the ledger says could be saved, in dollars: caching, cheaper tiers, outliers, failures, ceilings, batch')
        .option('-p, --provider <id>', 'only this provider')
        .option('--min-usd <usd>', 'leave out items worth less than this over the range (default 1)', parseUsd),
      '30',
    ),
  ).action(async (opts: AdviseArgs) => done(await (await import('./advise.ts')).adviseCommand(opts, out)));
  common(
    program
      .command('report')
      .description('totals, each provider by service type and by model, and the subscription limits')
      .option('-p, --provider <id>', 'only this provider')
      .option('-d, --days <n>', 'the last n days (default 30)', parseDays),
  ).action(async (opts: ReportArgs) => done(await (await import('./report.ts')).reportCommand(opts, out)));
  common(program.command('status').description('each subscription limit: used, remaining, level, reset time')).action(
    async (opts: StatusArgs) => done(await (await import('./status.ts')).statusCommand(opts, out)),
  );
  common(
    program
      .command('alerts')
      .description(
        'every limit and budget at its level now, the budget alerts raised (newest first, from the ledger), and the alerts Alertmanager sent to serve',
      )
      .option('-d, --days <n>', "alerts of the last n days (default: every budget alert; Alertmanager's of 7 days)", parseDays)
      .option('--since <date>', 'alerts from this date (UTC) or ISO 8601 time; wins over --days', parseSince)
      .option('-n, --limit <n>', 'how many budget alerts at most (default 100)', parsePositiveInt),
  ).action(async (opts: AlertsArgs) => done(await (await import('./alerts.ts')).alertsCommand(opts, out)));
  common(
    program
      .command('records')
      .description('the newest usage records, newest first')
      .option('-n, --limit <n>', 'how many (default 20)', parsePositiveInt)
      .option('-p, --provider <id>', 'only this provider')
      .option('--user <id>', 'only this user')
      .option('--thread <id>', 'only this thread')
      .option('--run <id>', 'only this run (monitor.session())')
      .option('--errors', 'only the failed calls')
      .option('-d, --days <n>', 'the last n days', parseDays),
  ).action(async (opts: RecordsArgs) => done(await (await import('./records.ts')).recordsCommand(opts, out)));
  program
    .command('set-limit')
    .description('set a subscription limit in config.json')
    .argument('<provider>', `provider id, ${PROVIDERS_HELP}`)
    .argument('<limit_type>', LIMIT_TYPES.join(', '))
    .argument('<value>', 'tokens, or USD for prepaid_credits and monthly_limit')
    .addOption(new Option('--cycle <cycle>', 'billing cycle (default monthly)').choices(CYCLES))
    .option('--reset-day <n>', 'day of the month a monthly cycle starts, 1 to 28 (default 1)', intIn(1, 28))
    .option('--rolling-days <n>', 'length of a rolling window in days, 1 to 366 (default 30)', intIn(1, 366))
    .option('--dir <path>', DIR_HELP)
    .option('--json', 'print JSON')
    .action(async (provider: string, limitType: string, value: string, opts: Omit<SetLimitArgs, 'provider' | 'limitType' | 'value'>) =>
      done((await import('./set-limit.ts')).setLimitCommand({ provider, limitType, value, ...opts }, out)),
    );
  common(
    program
      .command('session-report')
      .description('cost report of a session: calls, tokens, cost, averages, shares by agent and model, budget use')
      .option('--since <date>', 'from this date (UTC) or ISO 8601 time; wins over --days', parseSince)
      .option('-d, --days <n>', 'the last n days (default 1, or all of a --run)', parseDays)
      .option('--run <id>', 'the calls of one run (monitor.session()), whenever they were made')
      .option('--budget <usd>', 'a budget in USD to show utilisation against', parseUsd),
  ).action(async (opts: SessionReportArgs) => done(await (await import('./session-report.ts')).sessionReportCommand(opts, out)));
  range(
    program
      .command('export')
      .description('write the records of a range to a CSV or JSON file (all records unless a range is given)')
      .argument('<file>', 'the file to write; .json for JSON')
      .option('-p, --provider <id>', 'only this provider')
      .addOption(new Option('--format <format>', 'csv or json (default: from the file name, else csv)').choices(['csv', 'json'])),
  )
    .option('--dir <path>', DIR_HELP)
    .option('--ledger <url>', LEDGER_HELP)
    .action(async (file: string, opts: Omit<ExportArgs, 'file'>) =>
      done(await (await import('./export.ts')).exportCommand({ file, ...opts }, out)),
    );
  common(
    program
      .command('cleanup')
      .description('archive the records older than n days to <dir>/archive, then delete them from the ledger')
      .requiredOption('-d, --days <n>', 'keep this many whole days (0: only today)', parseKeepDays),
  ).action(async (opts: CleanupArgs) => done(await (await import('./cleanup.ts')).cleanupCommand(opts, out)));
  program
    .command('archives')
    .description('the monthly archive files cleanup wrote')
    .option('--dir <path>', DIR_HELP)
    .option('--json', 'print JSON')
    .action(async (opts: ArchivesArgs) => done((await import('./archives.ts')).archivesCommand(opts, out)));
}

function isEntryPoint(): boolean {
  try {
    // npm links the bin, so compare real paths.
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

/**
 * Runs the command line of this process. Output closed early (`tokenmeter records | head`) ends
 * it quietly with 0, as the reader asked for no more, instead of an EPIPE stack trace.
 */
export function run(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE') process.exit(0);
      throw error;
    });
  }
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}

if (isEntryPoint()) run();
