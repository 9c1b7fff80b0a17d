import { listArchives } from '../ledger/archive.ts';
import { num } from '../reports/format.ts';
import { resolveDir } from '../storage-dir.ts';
import { archiveDirOf } from './cleanup.ts';
import { table, toJson } from './output.ts';

export interface ArchivesArgs {
  dir?: string | undefined;
  json?: boolean | undefined;
}

/** `tokenmeter archives`: the monthly archive files that cleanup wrote, oldest first. */
export function archivesCommand(args: ArchivesArgs, out: (s: string) => void): number {
  const dir = archiveDirOf(resolveDir(args.dir));
  const archives = listArchives(dir);
  if (args.json) out(toJson(archives));
  else if (archives.length === 0) out(`No archives in ${dir}: tokenmeter cleanup -d <days> writes them.`);
  else
    out(
      table(
        ['Month', 'File', 'Size'],
        archives.map((a) => [a.month, a.path, `${num(a.bytes)} bytes`]),
        [2],
      ),
    );
  return 0;
}
