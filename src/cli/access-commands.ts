import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { addUser, createToken, disableUser, issuePatientCodeFor, listTokens, listUsers, revokeToken, tokenScope } from '../auth/credentials.ts';
import { type GatewayConfig, loadGatewayConfig, parseGatewayConfig } from '../config/gateway-config.ts';
import { CustosError, isCustosError } from '../errors.ts';
import { type Database, openDatabase } from '../store/database.ts';
import { loadOrCreateKey } from '../store/key-file.ts';
import { lockLog } from '../store/log-files.ts';
import { logDirOf } from '../store/open-log.ts';
import { OPERATOR, dataDirOf, parseCommand } from './args.ts';
import { PATIENT_CODE_HELP, TOKENS_HELP, USERS_HELP } from './help.ts';

/*
 * The operator's credential commands, against the data directory's database (or the configured
 * PostgreSQL server). The embedded database has one writer: while the gateway runs, these refuse
 * and point to the API instead.
 */

/** The gateway's database for a command that reads it (closed with `close`); refused while the gateway runs on the embedded one. */
export async function openGatewayDatabase(v: { config?: string | undefined; 'data-dir'?: string | undefined }): Promise<{ db: Database; config: GatewayConfig; dataDir: string; close: () => Promise<void> }> {
  const config = v.config ? loadGatewayConfig(v.config) : parseGatewayConfig({});
  const dataDir = dataDirOf(v['data-dir'] ?? config.dataDir);
  let unlock: (() => void) | undefined;
  if (!config.database.url) {
    try {
      unlock = lockLog(logDirOf(dataDir));
    } catch (e) {
      if (isCustosError(e) && e.code === 'LOG_BUSY') throw new CustosError('STORE_IN_USE', `the gateway has the data directory ${dataDir} open (${e.message}); stop it, or use the API`);
      throw e;
    }
  }
  try {
    const db = await openDatabase({ url: config.database.url, dir: join(dataDir, 'db') });
    return { db, config, dataDir, close: async () => { try { await db.close(); } finally { unlock?.(); } } };
  } catch (e) {
    unlock?.();
    throw e;
  }
}

async function withDatabase<T>(v: { config?: string | undefined; 'data-dir'?: string | undefined }, fn: (db: Database, ctx: { config: GatewayConfig; dataDir: string }) => Promise<T>): Promise<T> {
  const { db, config, dataDir, close } = await openGatewayDatabase(v);
  try {
    return await fn(db, { config, dataDir });
  } finally {
    await close();
  }
}

const table = (rows: string[][]): string => {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n';
};
const day = (d: Date | null): string => (d ? d.toISOString().slice(0, 16).replace('T', ' ') : '-');

export async function usersMain(argv: string[]): Promise<number> {
  const { values: v, positionals: [sub, name, ...extra] } = parseCommand(argv, { config: { type: 'string' }, role: { type: 'string' }, sso: { type: 'boolean' }, 'password-stdin': { type: 'boolean' } });
  if (v.help) { process.stdout.write(USERS_HELP); return 0; }
  if (extra.length) throw new CustosError('USAGE', `unexpected arguments: ${extra.join(' ')}`);
  switch (sub) {
    case 'add': {
      if (!name || !v.role) throw new CustosError('USAGE', 'users add needs a name and --role');
      const password = v['password-stdin'] ? readFileSync(0, 'utf8').replace(/\r?\n$/, '') : undefined;
      const u = await withDatabase(v, (db) => addUser(db, { username: name, role: v.role!, sso: Boolean(v.sso), ...(password !== undefined ? { password } : {}), createdBy: OPERATOR }));
      process.stdout.write(`added ${u.username} (${u.role}${v.sso ? ', single sign-on only' : ''})\n${u.password ? `password: ${u.password}\n(shown once: hand it over safely)\n` : ''}`);
      return 0;
    }
    case 'list': {
      const users = await withDatabase(v, (db) => listUsers(db));
      process.stdout.write(table([['NAME', 'ROLE', 'SSO', 'CREATED', 'DISABLED', 'LAST SIGN-IN'], ...users.map((u) => [u.username, u.role, u.sso ? 'yes' : 'no', day(u.createdAt), day(u.disabledAt), day(u.lastLoginAt)])]));
      return 0;
    }
    case 'disable': {
      if (!name) throw new CustosError('USAGE', 'users disable needs a name');
      if (!(await withDatabase(v, (db) => disableUser(db, name, OPERATOR)))) throw new CustosError('AUTH_INVALID_REQUEST', `no enabled account named ${JSON.stringify(name)}`);
      process.stdout.write(`disabled ${name}; its sessions have ended\n`);
      return 0;
    }
    default:
      throw new CustosError('USAGE', `users takes add, list or disable${sub ? `, not ${JSON.stringify(sub)}` : ''}`);
  }
}

export async function tokensMain(argv: string[]): Promise<number> {
  const { values: v, positionals: [sub, id, ...extra] } = parseCommand(argv, {
    config: { type: 'string' }, name: { type: 'string' }, role: { type: 'string' }, permission: { type: 'string', multiple: true }, recipient: { type: 'string' }, days: { type: 'string' },
  });
  if (v.help) { process.stdout.write(TOKENS_HELP); return 0; }
  if (extra.length) throw new CustosError('USAGE', `unexpected arguments: ${extra.join(' ')}`);
  switch (sub) {
    case 'create': {
      if (!v.name) throw new CustosError('USAGE', 'tokens create needs --name');
      const days = v.days === undefined ? 90 : Number(v.days);
      const t = await withDatabase(v, async (db, { config }) => {
        const scope = tokenScope({ role: v.role, permissions: v.permission, recipient: v.recipient }, config.recipients.map((r) => r.id));
        return createToken(db, { name: v.name!, ...scope, expiresInDays: days, createdBy: OPERATOR });
      });
      process.stdout.write(`token ${t.id}, expires ${t.expiresAt.toISOString()}:\n${t.token}\n(shown once: send it as "Authorization: Bearer <token>")\n`);
      return 0;
    }
    case 'list': {
      const tokens = await withDatabase(v, (db) => listTokens(db));
      process.stdout.write(table([['ID', 'NAME', 'FOR', 'EXPIRES', 'REVOKED', 'LAST USED'], ...tokens.map((t) => [t.id, t.name, t.recipient ? `recipient ${t.recipient}` : t.permissions.join(','), day(t.expiresAt), day(t.revokedAt), day(t.lastUsedAt)])]));
      return 0;
    }
    case 'revoke': {
      if (!id) throw new CustosError('USAGE', 'tokens revoke needs a token id (see tokens list)');
      if (!(await withDatabase(v, (db) => revokeToken(db, id, OPERATOR)))) throw new CustosError('AUTH_INVALID_REQUEST', `no live token with id ${JSON.stringify(id)}`);
      process.stdout.write(`revoked ${id}\n`);
      return 0;
    }
    default:
      throw new CustosError('USAGE', `tokens takes create, list or revoke${sub ? `, not ${JSON.stringify(sub)}` : ''}`);
  }
}

export async function patientCodeMain(argv: string[]): Promise<number> {
  const { values: v, positionals } = parseCommand(argv, { config: { type: 'string' }, issuer: { type: 'string' }, hours: { type: 'string' } });
  if (v.help) { process.stdout.write(PATIENT_CODE_HELP); return 0; }
  if (positionals.length !== 1 || !positionals[0]) throw new CustosError('USAGE', 'patient-code takes one Patient ID');
  const hours = v.hours === undefined ? 72 : Number(v.hours);
  const { code, expiresAt, instances } = await withDatabase(v, (db, { dataDir }) =>
    issuePatientCodeFor(db, loadOrCreateKey(join(dataDir, 'keys', 'deid.key')).key, { patientId: positionals[0]!, issuer: v.issuer ?? '', createdBy: OPERATOR, hours }));
  process.stdout.write(`${code}\nsingle use, valid until ${expiresAt.toISOString()}; ${instances} instance(s) of this patient held now. Hand it to the patient only.\n`);
  return 0;
}
