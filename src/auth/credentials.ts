import { recordEvents } from '../audit/events.ts';
import { CustosError } from '../errors.ts';
import type { Queryable } from '../store/database.ts';
import { patientRef } from '../store/data-keys.ts';
import { type Permission, type Principal, ROLE_PERMISSIONS, type StaffRole, isPermission, isStaffRole, isTokenRole } from './permissions.ts';
import {
  dummyPasswordHash, hashPassword, newPassword, newPatientCode, newSession, newToken, parseToken, patientCodeDigest, sameDigest, sha256, verifyPassword,
} from './secrets.ts';

/*
 * Credentials in the database: staff accounts, API tokens, sessions, patient access codes. Each
 * issue, revocation and sign-in is recorded in the audit trail with who did it. Secrets are
 * returned once, at creation, and stored only as digests.
 */

const USERNAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;
const NAME = /^[\x20-\x7e]{1,64}$/;
const invalid = (message: string) => new CustosError('AUTH_INVALID_REQUEST', message);

export interface UserRow { id: number; username: string; role: StaffRole; sso: boolean; createdAt: Date; disabledAt: Date | null; lastLoginAt: Date | null }
export interface TokenRow { id: string; name: string; permissions: Permission[]; recipient: string | null; createdBy: string; createdAt: Date; expiresAt: Date; revokedAt: Date | null; lastUsedAt: Date | null }

/** Add a staff account. Without a password and not SSO-only, a random one is made and returned (shown once). */
export async function addUser(db: Queryable, u: { username: string; role: string; password?: string; sso?: boolean; createdBy: string }): Promise<{ username: string; role: StaffRole; password?: string }> {
  if (!USERNAME.test(u.username)) throw invalid('a user name is 1 to 64 letters, digits, ".", "_", "@" or "-", starting with a letter or digit');
  if (!isStaffRole(u.role)) throw invalid(`role must be one of admin, privacy-officer, operator, auditor (got ${JSON.stringify(u.role)})`);
  if (u.password !== undefined && u.password.length < 12) throw invalid('a password has at least 12 characters');
  const password = u.sso ? undefined : (u.password ?? newPassword());
  const hash = password === undefined ? null : await hashPassword(password);
  const rows = await db.query<{ id: number }>(
    'INSERT INTO users (username, role, password_hash, sso, created_by) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (username) DO NOTHING RETURNING id',
    [u.username, u.role, hash, Boolean(u.sso), u.createdBy]);
  if (!rows.length) throw invalid(`a user named ${JSON.stringify(u.username)} exists already`);
  await recordEvents(db, [{ kind: 'auth.user-added', detail: { by: u.createdBy, username: u.username, role: u.role, sso: Boolean(u.sso) } }]);
  return { username: u.username, role: u.role, ...(password !== undefined && u.password === undefined ? { password } : {}) };
}

export async function listUsers(db: Queryable): Promise<UserRow[]> {
  const rows = await db.query<Record<string, unknown>>('SELECT id, username, role, sso, created_at, disabled_at, last_login_at FROM users ORDER BY username');
  return rows.map((r) => ({
    id: Number(r.id), username: String(r.username), role: r.role as StaffRole, sso: Boolean(r.sso),
    createdAt: new Date(r.created_at as string), disabledAt: r.disabled_at ? new Date(r.disabled_at as string) : null, lastLoginAt: r.last_login_at ? new Date(r.last_login_at as string) : null,
  }));
}

/** Disable an account and end its sessions at once. */
export async function disableUser(db: Queryable, username: string, by: string): Promise<boolean> {
  const rows = await db.query<{ id: number }>('UPDATE users SET disabled_at = now() WHERE username = $1 AND disabled_at IS NULL RETURNING id', [username]);
  if (!rows.length) return false;
  await db.query('DELETE FROM sessions WHERE user_id = $1', [rows[0]!.id]);
  await recordEvents(db, [{ kind: 'auth.user-disabled', detail: { by, username } }]);
  return true;
}

/** The account for a name and password, or undefined (same cost whether the name exists or not). */
export async function checkPassword(db: Queryable, username: string, password: string): Promise<{ id: number; username: string; role: StaffRole } | undefined> {
  const [u] = await db.query<{ id: number; username: string; role: string; password_hash: string | null; disabled_at: unknown }>(
    'SELECT id, username, role, password_hash, disabled_at FROM users WHERE username = $1', [username]);
  const ok = await verifyPassword(password, u?.password_hash ?? await dummyPasswordHash());
  if (!u || !ok || !u.password_hash || u.disabled_at || !isStaffRole(u.role)) return undefined;
  return { id: Number(u.id), username: u.username, role: u.role };
}

/** The enabled account a single sign-on identity maps to (provisioned beforehand with `sso`). */
export async function ssoUser(db: Queryable, username: string): Promise<{ id: number; username: string; role: StaffRole } | undefined> {
  const [u] = await db.query<{ id: number; username: string; role: string }>('SELECT id, username, role FROM users WHERE username = $1 AND sso AND disabled_at IS NULL', [username]);
  return u && isStaffRole(u.role) ? { id: Number(u.id), username: u.username, role: u.role } : undefined;
}

/**
 * What a token is for, from exactly one of a role, a list of permissions or a recipient (which must
 * be one of `recipientIds`): the permissions to store, or the recipient it belongs to.
 */
export function tokenScope(spec: { role?: string | undefined; permissions?: readonly string[] | undefined; recipient?: string | undefined }, recipientIds: readonly string[]): { permissions: readonly string[]; recipient?: string } {
  if ([spec.role, spec.permissions, spec.recipient].filter((x) => x !== undefined).length !== 1) throw invalid('give exactly one of role, permissions or recipient');
  if (spec.recipient !== undefined) {
    if (!recipientIds.includes(spec.recipient)) throw invalid(`no recipient has id ${JSON.stringify(spec.recipient)} in the configuration`);
    return { permissions: [], recipient: spec.recipient };
  }
  if (spec.role !== undefined) {
    if (!isTokenRole(spec.role)) throw invalid(`role must be one of admin, privacy-officer, operator, auditor or sender (got ${JSON.stringify(spec.role)})`);
    return { permissions: ROLE_PERMISSIONS[spec.role] };
  }
  return { permissions: spec.permissions ?? [] };
}

/** Create an API token; the token itself is returned once and never stored. */
export async function createToken(db: Queryable, t: { name: string; permissions: readonly string[]; recipient?: string; expiresInDays: number; createdBy: string }): Promise<{ id: string; token: string; expiresAt: Date }> {
  if (!NAME.test(t.name)) throw invalid('a token name is 1 to 64 printable ASCII characters');
  const bad = t.permissions.filter((p) => !isPermission(p));
  if (bad.length) throw invalid(`unknown permission ${bad.map((b) => JSON.stringify(b)).join(', ')}`);
  if (!t.recipient && !t.permissions.length) throw invalid('a token needs at least one permission (or a recipient)');
  if (!Number.isInteger(t.expiresInDays) || t.expiresInDays < 1 || t.expiresInDays > 366) throw invalid('a token expires in 1 to 366 days');
  const { id, token, secretDigest } = newToken();
  const [row] = await db.query<{ expires_at: string }>(
    `INSERT INTO api_tokens (id, secret_sha256, name, permissions, recipient, created_by, expires_at) VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(days => $7))
     RETURNING expires_at`, [id, secretDigest, t.name, t.recipient ? [] : [...new Set(t.permissions)], t.recipient ?? null, t.createdBy, t.expiresInDays]);
  await recordEvents(db, [{ kind: 'auth.token-created', ...(t.recipient ? { recipient: t.recipient } : {}), detail: { by: t.createdBy, tokenId: id, name: t.name, permissions: t.permissions, days: t.expiresInDays } }]);
  return { id, token, expiresAt: new Date(row!.expires_at) };
}

export async function listTokens(db: Queryable): Promise<TokenRow[]> {
  const rows = await db.query<Record<string, unknown>>('SELECT id, name, permissions, recipient, created_by, created_at, expires_at, revoked_at, last_used_at FROM api_tokens ORDER BY created_at, id');
  const date = (v: unknown): Date | null => (v ? new Date(v as string) : null);
  return rows.map((r) => ({
    id: String(r.id), name: String(r.name), permissions: r.permissions as Permission[], recipient: (r.recipient as string | null) ?? null, createdBy: String(r.created_by),
    createdAt: date(r.created_at)!, expiresAt: date(r.expires_at)!, revokedAt: date(r.revoked_at), lastUsedAt: date(r.last_used_at),
  }));
}

export async function revokeToken(db: Queryable, id: string, by: string): Promise<boolean> {
  const rows = await db.query('UPDATE api_tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL RETURNING id', [id]);
  if (rows.length) await recordEvents(db, [{ kind: 'auth.token-revoked', detail: { by, tokenId: id } }]);
  return rows.length > 0;
}

/** The principal a bearer token stands for, or undefined for an unknown, revoked or expired one. */
export async function tokenPrincipal(db: Queryable, presented: string): Promise<Principal | undefined> {
  const t = parseToken(presented);
  if (!t) return undefined;
  const [row] = await db.query<{ secret_sha256: Buffer | Uint8Array; name: string; permissions: string[]; recipient: string | null; live: boolean; stale: boolean }>(
    `SELECT secret_sha256, name, permissions, recipient, (revoked_at IS NULL AND expires_at > now()) AS live,
       (last_used_at IS NULL OR last_used_at < now() - interval '1 minute') AS stale FROM api_tokens WHERE id = $1`, [t.id]);
  if (!row || !sameDigest(Buffer.from(row.secret_sha256), t.secretDigest) || !row.live) return undefined;
  if (row.stale) await db.query('UPDATE api_tokens SET last_used_at = now() WHERE id = $1', [t.id]); // at most once a minute
  if (row.recipient) return { kind: 'recipient', tokenId: t.id, recipient: row.recipient };
  return { kind: 'token', tokenId: t.id, name: row.name, permissions: row.permissions.filter(isPermission) };
}

/** Session lifetimes, in seconds: absolute and idle. */
export const SESSION_LIMITS = { staff: { absolute: 12 * 3600, idle: 30 * 60 }, patient: { absolute: 3600, idle: 15 * 60 } } as const;

export async function createSession(db: Queryable, s: { userId: number; via: 'password' | 'oidc' } | { patientCodeId: number }): Promise<{ id: string; csrf: string; expiresAt: Date }> {
  const { id, digest, csrf } = newSession();
  const limits = 'userId' in s ? SESSION_LIMITS.staff : SESSION_LIMITS.patient;
  const [row] = await db.query<{ expires_at: string }>(
    `INSERT INTO sessions (id_sha256, user_id, patient_code_id, via, csrf, expires_at, idle_seconds) VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => $6), $7) RETURNING expires_at`,
    [digest, 'userId' in s ? s.userId : null, 'patientCodeId' in s ? s.patientCodeId : null, 'userId' in s ? s.via : 'patient-code', csrf, limits.absolute, limits.idle]);
  if ('userId' in s) await db.query('UPDATE users SET last_login_at = now() WHERE id = $1', [s.userId]);
  await db.query('DELETE FROM sessions WHERE expires_at < now()'); // expired sessions go as new ones come
  return { id, csrf, expiresAt: new Date(row!.expires_at) };
}

/** The principal of a live session (not expired, not idle too long, its account still enabled), with its CSRF token. */
export async function sessionPrincipal(db: Queryable, sessionId: string): Promise<{ principal: Principal; csrf: string; expiresAt: Date } | undefined> {
  const digest = sha256(sessionId);
  const [row] = await db.query<{ user_id: number | null; username: string | null; role: string | null; via: string; patient_code_id: number | null; patient_ref: string | null; csrf: string; expires_at: string; stale: boolean }>(
    `SELECT s.user_id, u.username, u.role, s.via, s.patient_code_id, c.patient_ref, s.csrf, s.expires_at,
       s.last_seen_at < now() - interval '1 minute' AS stale FROM sessions s
       LEFT JOIN users u ON u.id = s.user_id AND u.disabled_at IS NULL
       LEFT JOIN patient_codes c ON c.id = s.patient_code_id AND c.revoked_at IS NULL
     WHERE s.id_sha256 = $1 AND s.expires_at > now() AND s.last_seen_at + make_interval(secs => s.idle_seconds) > now()`, [digest]);
  if (!row) return undefined;
  let principal: Principal;
  if (row.user_id !== null && row.username && row.role && isStaffRole(row.role)) {
    principal = { kind: 'user', userId: Number(row.user_id), username: row.username, role: row.role, via: row.via === 'oidc' ? 'oidc' : 'password' };
  } else if (row.patient_code_id !== null && row.patient_ref) {
    principal = { kind: 'patient', patientRef: row.patient_ref, codeId: Number(row.patient_code_id) };
  } else {
    return undefined; // account disabled or code revoked since
  }
  // At most once a minute (a request costs one query, not two): the idle limit is counted in minutes anyway.
  if (row.stale) await db.query('UPDATE sessions SET last_seen_at = now() WHERE id_sha256 = $1', [digest]);
  return { principal, csrf: row.csrf, expiresAt: new Date(row.expires_at) };
}

export async function endSession(db: Queryable, sessionId: string): Promise<void> {
  await db.query('DELETE FROM sessions WHERE id_sha256 = $1', [sha256(sessionId)]);
}

/** Issue a patient a single-use access code for the portal; the code is returned once. */
export async function issuePatientCode(db: Queryable, c: { patientRef: string; createdBy: string; hours: number }): Promise<{ id: number; code: string; expiresAt: Date }> {
  if (!Number.isInteger(c.hours) || c.hours < 1 || c.hours > 24 * 30) throw invalid('a patient code is valid for 1 to 720 hours');
  const { code, digest } = newPatientCode();
  const [row] = await db.query<{ id: number; expires_at: string }>(
    'INSERT INTO patient_codes (code_sha256, patient_ref, created_by, expires_at) VALUES ($1, $2, $3, now() + make_interval(hours => $4)) RETURNING id, expires_at',
    [digest, c.patientRef, c.createdBy, c.hours]);
  await recordEvents(db, [{ kind: 'auth.patient-code-issued', detail: { by: c.createdBy, codeId: Number(row!.id), patientRef: c.patientRef, hours: c.hours } }]);
  return { id: Number(row!.id), code, expiresAt: new Date(row!.expires_at) };
}

/** Issue a code for a patient named by Patient ID (and issuer), with how many of their instances are held now. */
export async function issuePatientCodeFor(db: Queryable, deploymentKey: Buffer, c: { patientId: string; issuer: string; createdBy: string; hours: number }): Promise<{ code: string; expiresAt: Date; instances: number }> {
  const ref = patientRef(deploymentKey, c.patientId, c.issuer);
  const { code, expiresAt } = await issuePatientCode(db, { patientRef: ref, createdBy: c.createdBy, hours: c.hours });
  const [n] = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM instances WHERE patient_ref = $1', [ref]);
  return { code, expiresAt, instances: n?.n ?? 0 };
}

/** Redeem a code: once only, before it expires. Returns the code's id, or undefined. */
export async function redeemPatientCode(db: Queryable, typed: string): Promise<number | undefined> {
  const digest = patientCodeDigest(typed);
  if (!digest) return undefined;
  const [row] = await db.query<{ id: number }>(
    'UPDATE patient_codes SET used_at = now() WHERE code_sha256 = $1 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > now() RETURNING id', [digest]);
  if (!row) return undefined;
  await recordEvents(db, [{ kind: 'auth.patient-code-used', detail: { codeId: Number(row.id) } }]);
  return Number(row.id);
}

/**
 * On a new data directory (no accounts and no tokens): an `admin` account with a random password,
 * and an admin API token for scripts. Returned once, to be written to a 0600 file, never logged.
 */
export async function bootstrapAdmin(db: Queryable): Promise<{ username: string; password: string; token: string; tokenExpiresAt: Date } | undefined> {
  const [n] = await db.query<{ users: number; tokens: number }>('SELECT (SELECT count(*)::int FROM users) AS users, (SELECT count(*)::int FROM api_tokens) AS tokens');
  if (n!.users > 0 || n!.tokens > 0) return undefined;
  const user = await addUser(db, { username: 'admin', role: 'admin', createdBy: 'first-start' });
  const { token, expiresAt } = await createToken(db, { name: 'initial admin token', permissions: ROLE_PERMISSIONS.admin, expiresInDays: 90, createdBy: 'first-start' });
  return { username: user.username, password: user.password!, token, tokenExpiresAt: expiresAt };
}
