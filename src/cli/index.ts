#!/usr/bin/env node
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { isValidationError } from '../errors.ts';
import { inspectCommand } from './inspect.ts';
import { pricingCommand } from './pricing.ts';

/** Runs the CLI; returns the exit code (2 for bad arguments). */
export function main(argv: readonly string[], out: (s: string) => void = (s) => process.stdout.write(`${s}\n`)): number {
  let code = 0;
  const program = new Command()
    .name('tokenmeter')
    .description('What your LLM calls cost: prices, usage and reports.')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  program
    .command('pricing')
    .description('show the price tokenmeter applies to a model, and where it came from')
    .argument('<model>', 'model name, e.g. gpt-4o or anthropic.claude-3-5-sonnet-20240620-v1:0')
    .option('-p, --provider <id>', 'provider id (openai, anthropic, gemini, aws_bedrock, ...); default: found from the model name')
    .option('--dir <path>', 'storage dir holding config.json (default $TOKENMETER_DIR or ~/.tokenmeter)')
    .option('--json', 'print JSON')
    .action((model: string, opts: { provider?: string; dir?: string; json?: boolean }) => {
      code = pricingCommand({ model, provider: opts.provider, dir: opts.dir, json: opts.json }, out);
    });
  program
    .command('inspect')
    .description('show what tokenmeter reads from a saved response (JSON) or stream (SSE/NDJSON), and what it would cost')
    .argument('<file>', 'the saved response body or raw stream text')
    .requiredOption('-p, --provider <id>', 'provider id (openai, anthropic, gemini, aws_bedrock, ...)')
    .option('--request <file>', 'the request body (JSON), for the requested model and the kind of call')
    .option('--dir <path>', 'storage dir holding config.json (default $TOKENMETER_DIR or ~/.tokenmeter)')
    .option('--json', 'print JSON')
    .action((file: string, opts: { provider: string; request?: string; dir?: string; json?: boolean }) => {
      code = inspectCommand({ file, provider: opts.provider, request: opts.request, dir: opts.dir, json: opts.json }, out);
    });
  try {
    program.parse(argv, { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version exit 0; every other parse failure is a usage error.
      return error.exitCode === 0 ? 0 : 2;
    }
    if (isValidationError(error)) {
      process.stderr.write(`tokenmeter: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
  return code;
}

function isEntryPoint(): boolean {
  try {
    // npm links the bin, so compare real paths.
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) process.exitCode = main(process.argv.slice(2));
