import { parseArgs } from 'node:util';
import { join, resolve } from 'node:path';
import { isCustosError } from '../errors.ts';
import { CUSTOS_VERSION } from '../deid/deidentify.ts';
import { OPTIONS } from '../deid/profile.ts';
import { defaultJobs, runDeid } from './deid-command.ts';

const MAIN_HELP = `custos ${CUSTOS_VERSION} — privacy and integrity gateway for medical imaging AI

Usage: custos <command> [options]

Commands:
  deid <input>... --out <dir>   de-identify DICOM files and folders (PS3.15 Annex E)
  help [command]                show help

Common options:
  --data-dir <dir>   where keys, databases and logs live (env CUSTOS_DATA_DIR; default ./custos-data)
  -h, --help         show help
  --version          print the version
`;

const DEID_HELP = `Usage: custos deid <input>... --out <dir> [options]

De-identify DICOM files (folders are read recursively) with the DICOM PS3.15 Basic Application Level
Confidentiality Profile and the options given. One file per released instance is written under
<dir>/<patient pseudonym>/<study UID>/<series UID>/<instance UID>.dcm; a JSON receipt without PHI
records what was done. Instances with burned-in text risk are held back with a reason.

Options:
  --out <dir>            output folder (required); never overwrites an input
  --profile basic        the profile (default and only value: basic)
  --option <name>        add an option; repeat for more. One of:
                         ${OPTIONS.join(',\n                         ')}
  --key-file <path>      pseudonymisation key (default <data-dir>/keys/deid.key, created on first use, mode 0600)
  --recipient <name>     derive a separate key for this recipient, so two recipients' data cannot be joined
  --receipt <file>       where to write the receipt (default <out>/custos-receipt.json)
  --jobs <n>             worker threads for runs over 64 files (default: cores - 1, ${defaultJobs()} here)
  --data-dir <dir>       data directory (env CUSTOS_DATA_DIR; default ./custos-data)
  -q, --quiet            print failures only
  -h, --help             show this help

Exit status: 0 every input released, held back or skipped (not DICOM) with a reason; 1 some inputs failed; 2 usage error.
`;

function usageError(message: string, help: string): number {
  process.stderr.write(`custos: ${message}\n\n${help}`);
  return 2;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === 'help' || command === '-h' || command === '--help') {
    process.stdout.write(rest[0] === 'deid' ? DEID_HELP : MAIN_HELP);
    return 0;
  }
  if (command === '--version' || command === 'version') {
    process.stdout.write(`${CUSTOS_VERSION}\n`);
    return 0;
  }
  if (command !== 'deid') return usageError(`unknown command ${JSON.stringify(command)}`, MAIN_HELP);

  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      allowPositionals: true,
      strict: true,
      options: {
        out: { type: 'string' },
        profile: { type: 'string', default: 'basic' },
        option: { type: 'string', multiple: true, default: [] },
        'key-file': { type: 'string' },
        recipient: { type: 'string' },
        receipt: { type: 'string' },
        jobs: { type: 'string' },
        'data-dir': { type: 'string' },
        quiet: { type: 'boolean', short: 'q', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (e) {
    return usageError((e as Error).message, DEID_HELP);
  }
  const v = parsed.values;
  if (v.help) { process.stdout.write(DEID_HELP); return 0; }
  if (parsed.positionals.length === 0) return usageError('no input given', DEID_HELP);
  if (!v.out) return usageError('--out <dir> is required', DEID_HELP);
  const jobs = v.jobs === undefined ? defaultJobs() : Number(v.jobs);
  if (!Number.isInteger(jobs) || jobs < 1) return usageError(`--jobs must be a whole number >= 1, got ${JSON.stringify(v.jobs)}`, DEID_HELP);
  const dataDir = resolve(v['data-dir'] ?? process.env.CUSTOS_DATA_DIR ?? 'custos-data');
  try {
    return await runDeid({
      inputs: parsed.positionals,
      out: v.out,
      profile: v.profile!,
      options: v.option!.flatMap((o) => o.split(',')).map((o) => o.trim()).filter(Boolean),
      keyFile: v['key-file'] ?? join(dataDir, 'keys', 'deid.key'),
      ...(v.recipient ? { recipient: v.recipient } : {}),
      ...(v.receipt ? { receipt: v.receipt } : {}),
      jobs,
      quiet: v.quiet!,
    });
  } catch (e) {
    if (isCustosError(e) && e.code === 'USAGE') return usageError(e.message, DEID_HELP);
    if (isCustosError(e)) { process.stderr.write(`custos: ${e.code}: ${e.message}\n`); return 2; }
    throw e;
  }
}
