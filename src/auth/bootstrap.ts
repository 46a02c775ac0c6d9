import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CustosError } from '../errors.ts';
import type { Queryable } from '../store/database.ts';
import { bootstrapAdmin } from './credentials.ts';

/** Where a new data directory's first admin credential is written (0600). */
export const initialAdminPath = (dataDir: string): string => join(dataDir, 'initial-admin.json');

/**
 * First start on a new data directory: instead of an open API, an `admin` account and an admin
 * token, written to a file only the owner can read. Returns the file's path while it exists.
 * The secrets go to the file only, never to a log or the terminal.
 */
export async function writeInitialAdmin(db: Queryable, dataDir: string): Promise<string | undefined> {
  const path = initialAdminPath(dataDir);
  const created = await bootstrapAdmin(db);
  if (created) {
    const body = {
      note: 'The first Custos admin credential. Store it somewhere safe, then delete this file. Sign in at /auth/login with username and password; scripts send "Authorization: Bearer <token>".',
      username: created.username, password: created.password, token: created.token, tokenExpiresAt: created.tokenExpiresAt.toISOString(),
    };
    try {
      writeFileSync(path, `${JSON.stringify(body, null, 2)}\n`, { mode: 0o600, flag: 'w' });
    } catch (e) {
      throw new CustosError('IO', `cannot write the initial admin credential to ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  return existsSync(path) ? path : undefined;
}
