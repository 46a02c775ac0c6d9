import { parseArgs, type ParseArgsConfig } from 'node:util';
import { resolve } from 'node:path';
import { CustosError } from '../errors.ts';

type Options = NonNullable<ParseArgsConfig['options']>;

/** Parse a command's arguments; every command takes --data-dir and --help. Usage errors throw USAGE. */
export function parseCommand<O extends Options>(argv: string[], options: O) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: { ...options, 'data-dir': { type: 'string' }, help: { type: 'boolean', short: 'h', default: false } },
    });
  } catch (e) {
    throw new CustosError('USAGE', (e as Error).message);
  }
}

/** --data-dir, else CUSTOS_DATA_DIR, else ./custos-data. */
export function dataDirOf(value: string | undefined): string {
  return resolve(value ?? process.env.CUSTOS_DATA_DIR ?? 'custos-data');
}

/** Who a CLI change is attributed to in the audit trail: the operating-system user. */
export const OPERATOR = `cli:${process.env.USER ?? process.env.LOGNAME ?? 'operator'}`;
