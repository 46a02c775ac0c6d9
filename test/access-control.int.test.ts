/**
 * Access control, end to end on 127.0.0.1: the route table read from the running server, every
 * route × every principal × path variants against the permission table; sessions, CSRF, the Host
 * check, recipients and patients seeing only their own, reads of originals in the audit trail.
 */
import assert from 'node:assert/strict';
import { type IncomingHttpHeaders, createServer, request } from 'node:http';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import fastify from 'fastify';
import { installGuard } from '../src/auth/guard.ts';
import { type Permission, ROLE_PERMISSIONS } from '../src/auth/permissions.ts';
import { parseGatewayConfig } from '../src/config/gateway-config.ts';
import { type Gateway, startGateway } from '../src/gateway.ts';
import { encodeMultipart, parseMultipart } from '../src/net/multipart.ts';
import { REPO, plant, tempDir } from './helpers.ts';
import { waitFor } from './peers.ts';
import { allowReleases } from './policy-helpers.ts';

const work = tempDir('custos-access-');
const EXAMPLES = ['synthetic-ct-1.dcm', 'synthetic-ct-2.dcm'].map((f) => join(REPO, 'examples', f));
const STUDY = '2.25.1234567890123456789.1'; // the examples' study (synthetic patient SYN-0001)
const OTHER_STUDY = '2.25.4242.2'; // a second synthetic patient's

let gw: Gateway;
let sink: ReturnType<typeof createServer>;
let admin: { username: string; password: string; token: string };

interface Raw { status: number; headers: IncomingHttpHeaders; body: string }
/** An HTTP request with the path sent exactly as given (fetch would normalise dots and case). */
function raw(method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<Raw> {
  const u = new URL(gw.http.url);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, method, path, headers: { ...(body !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {}), ...headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}
const json = async (method: string, path: string, headers: Record<string, string>, body?: unknown): Promise<{ status: number; body: any }> => {
  const r = await raw(method, path, { ...headers, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, body === undefined ? undefined : JSON.stringify(body));
  return { status: r.status, body: r.body ? JSON.parse(r.body) : undefined };
};
const bearer = (t: string): Record<string, string> => ({ authorization: `Bearer ${t}` });

/** A signed-in cookie session: the headers that carry it, with its CSRF token for changes. */
type Session = { cookie: string; csrf: string };
const sessionHeaders = (s: Session): Record<string, string> => ({ cookie: s.cookie, 'x-csrf-token': s.csrf });
async function login(username: string, password: string): Promise<Session> {
  const r = await raw('POST', '/auth/login', { 'content-type': 'application/json' }, JSON.stringify({ username, password }));
  assert.equal(r.status, 200, `login ${username}: ${r.body}`);
  return { cookie: String(r.headers['set-cookie']![0]).split(';')[0]!, csrf: (JSON.parse(r.body) as { csrfToken: string }).csrfToken };
}
async function createToken(body: Record<string, unknown>): Promise<{ id: string; token: string }> {
  const r = await json('POST', '/api/tokens', bearer(admin.token), body);
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body as { id: string; token: string };
}

before(async () => {
  sink = createServer((req, res) => { req.resume(); req.on('end', () => { res.writeHead(200, { 'content-type': 'application/dicom+json' }); res.end('{}'); }); });
  await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
  const stowUrl = `http://127.0.0.1:${(sink.address() as AddressInfo).port}/dicomweb`;
  gw = await startGateway(parseGatewayConfig({
    dimse: { port: 0 }, http: { port: 0, signInPerMinute: 500 },
    forwarding: { initialBackoffMs: 50, maxBackoffMs: 100 },
    policy: { purposes: { TREATDS: 'opt-out' } },
    recipients: [{ id: 'vendor', purpose: 'TREATDS', deliver: { kind: 'stow', url: stowUrl } }, { id: 'other-vendor', purpose: 'TREATDS', deliver: { kind: 'stow', url: stowUrl } }],
    routes: [{ recipient: 'vendor', match: {} }, { recipient: 'other-vendor', match: {} }],
  }), join(work, 'data'));
  admin = JSON.parse(readFileSync(gw.adminCredentialFile!, 'utf8')) as typeof admin;
  await allowReleases(gw.http.url, admin.token, ['vendor', 'other-vendor'], ['TREATDS']);
});
after(async () => { await gw?.close(); sink?.close(); });

test('a new data directory gets an admin credential in a 0600 file, and the API is closed without it', async () => {
  assert.equal(gw.adminCredentialFile, join(work, 'data', 'initial-admin.json'));
  assert.equal((await import('node:fs')).statSync(gw.adminCredentialFile!).mode & 0o777, 0o600);
  assert.match(admin.token, /^cst_/);
  const r = await json('GET', '/api/status', {});
  assert.equal(r.status, 401);
  assert.equal(r.body.error, 'AUTH_REQUIRED');
  assert.equal((await json('GET', '/api/status', bearer(admin.token))).status, 200);
  const wrong = `${admin.token.slice(0, -1)}${admin.token.endsWith('A') ? 'B' : 'A'}`;
  assert.equal((await json('GET', '/api/status', bearer(wrong))).status, 401, 'a token with a wrong secret');
});

test('senders may store but not read; stored studies reach only their recipients', async () => {
  const sender = await createToken({ name: 'modality', role: 'sender' });
  const other = plant(EXAMPLES[0]!, tempDir(), 'other.dcm', { PatientID: 'SYN-0002', StudyInstanceUID: OTHER_STUDY, SeriesInstanceUID: `${OTHER_STUDY}.1`, SOPInstanceUID: `${OTHER_STUDY}.1.1` });
  const { parts, contentType } = encodeMultipart([...EXAMPLES, other].map((f) => readFileSync(f)), 'application/dicom');
  const stored = await fetch(`${gw.http.url}/dicomweb/studies`, { method: 'POST', headers: { ...bearer(sender.token), 'content-type': contentType }, body: Buffer.concat(parts) });
  assert.equal(stored.status, 200);
  const read = await json('GET', `/dicomweb/studies/${STUDY}`, bearer(sender.token));
  assert.equal(read.status, 403);
  assert.equal(read.body.error, 'AUTH_FORBIDDEN');
  await waitFor('every job to be delivered', async () => {
    const [n] = await gw.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM jobs WHERE state = 'done'`);
    return n!.n === 6 ? true : undefined;
  }, 60_000, 100);
});

/** Every principal, with the permissions the table gives it. */
async function principals(): Promise<Array<{ name: string; headers: Record<string, string>; may: readonly Permission[] }>> {
  const out: Array<{ name: string; headers: Record<string, string>; may: readonly Permission[] }> = [{ name: 'nobody', headers: {}, may: [] }];
  for (const role of ['privacy-officer', 'operator', 'auditor'] as const) {
    const r = await json('POST', '/api/users', bearer(admin.token), { username: `matrix-${role}`, role });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    out.push({ name: `user ${role}`, headers: sessionHeaders(await login(`matrix-${role}`, r.body.password as string)), may: ROLE_PERMISSIONS[role] });
  }
  out.push({ name: 'user admin', headers: sessionHeaders(await login('admin', admin.password)), may: ROLE_PERMISSIONS.admin });
  out.push({ name: 'admin token', headers: bearer(admin.token), may: ROLE_PERMISSIONS.admin });
  out.push({ name: 'scoped token (status:read)', headers: bearer((await createToken({ name: 'monitoring', permissions: ['status:read'] })).token), may: ['status:read'] });
  out.push({ name: 'sender token', headers: bearer((await createToken({ name: 'sender', role: 'sender' })).token), may: ROLE_PERMISSIONS.sender });
  const revoked = await createToken({ name: 'to revoke', role: 'admin' });
  assert.equal((await json('POST', `/api/tokens/${revoked.id}/revoke`, bearer(admin.token))).status, 200);
  out.push({ name: 'revoked admin token', headers: bearer(revoked.token), may: [] });
  const expired = await createToken({ name: 'to expire', role: 'admin' });
  await gw.db.query(`UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE id = $1`, [expired.id]);
  out.push({ name: 'expired admin token', headers: bearer(expired.token), may: [] });
  out.push({ name: 'recipient token', headers: bearer((await createToken({ name: 'vendor', recipient: 'vendor' })).token), may: ROLE_PERMISSIONS.recipient });
  const code = await json('POST', '/api/patient-codes', bearer(admin.token), { patientId: 'SYN-0001' });
  assert.equal(code.status, 201);
  const p = await raw('POST', '/portal/session', { 'content-type': 'application/json' }, JSON.stringify({ code: code.body.code }));
  assert.equal(p.status, 200, p.body);
  out.push({ name: 'patient', headers: sessionHeaders({ cookie: String(p.headers['set-cookie']![0]).split(';')[0]!, csrf: JSON.parse(p.body).csrfToken as string }), may: ROLE_PERMISSIONS.patient });
  return out;
}

/** The same route reached other ways: none of them may answer with data where the table denies. */
function variants(path: string): string[] {
  const segs = path.split('/').filter(Boolean);
  const [first, ...rest] = segs;
  return [
    `/%${first!.charCodeAt(0).toString(16)}${first!.slice(1)}/${rest.join('/')}`.replace(/\/$/, ''), // percent-encoded letter
    `/${first}%2F${rest.join('/')}`, // percent-encoded slash
    `/${first}%2f${rest.join('%2F')}`,
    `//${segs.join('/')}`, // doubled slashes
    `/${first}//${rest.join('/')}`,
    `/log/../${segs.join('/')}`, // dot segments
    `/${first}/./${rest.join('/')}`,
    `/${first}/x/../${rest.join('/')}`,
    path.toUpperCase(), // upper case
    `/${first!.toUpperCase()}/${rest.join('/')}`,
    `${path}/`, // trailing slash
    `${path}?x=1#frag`,
  ];
}

test('every route × every principal × path variants: nothing answers with data where the permission table denies', { timeout: 600_000 }, async () => {
  const people = await principals();
  const [job] = await gw.db.query<{ id: number }>(`SELECT id FROM jobs WHERE recipient = 'vendor' ORDER BY id LIMIT 1`);
  const [inst] = await gw.db.query<{ series: string; sop: string }>('SELECT series_instance_uid AS series, sop_instance_uid AS sop FROM instances WHERE study_instance_uid = $1 LIMIT 1', [STUDY]);
  const fill = (url: string): string => url.replace(':study', STUDY).replace(':series', inst!.series).replace(':instance', inst!.sop)
    .replace(':id/retry', `${job!.id}/retry`).replace('/api/instances/:id', '/api/instances/1').replace(':username', 'nobody-here').replace('tokens/:id', 'tokens/none-such').replace('*', '0/000');
  // Logging out ends a session: last.
  const routes = [...gw.routes].sort((a, b) => Number(a.url === '/auth/logout') - Number(b.url === '/auth/logout'));
  assert.ok(routes.length >= 40, `the route table has ${routes.length} routes`);
  const secrets = [STUDY, inst!.sop, admin.token.slice(4, 16), '"version"'];
  let checked = 0;
  for (const who of people) {
    for (const route of routes) {
      const path = fill(route.url);
      // A POST with a body its schema refuses: past the guard it is a 400, never a change.
      const body = route.method === 'POST' ? '{"not-a-field":1}' : undefined;
      const headers = { ...who.headers, ...(body ? { 'content-type': 'application/json' } : {}) };
      const allowed = route.permission === 'public' || who.may.includes(route.permission);
      const r = await raw(route.method, path, headers, body);
      checked++;
      const where = `${who.name}: ${route.method} ${path} (${route.permission})`;
      if (allowed) {
        assert.ok(r.status !== 401 && r.status !== 403 && r.status < 500, `${where} refused or failed: ${r.status} ${r.body.slice(0, 200)}`);
        continue;
      }
      assert.ok(r.status === 401 || r.status === 403, `${where} answered ${r.status}`);
      assert.ok(!secrets.some((s) => r.body.includes(s)), `${where} leaked data`);
      for (const v of variants(path)) {
        for (const method of [route.method, 'OPTIONS', ...(route.method === 'GET' ? ['HEAD'] : [])]) {
          const rv = await raw(method, v, headers, method === 'POST' ? body : undefined);
          checked++;
          assert.ok(rv.status >= 400 && rv.status < 500, `${who.name}: ${method} ${v} answered ${rv.status}`);
          assert.ok(!secrets.some((s) => rv.body.includes(s)), `${who.name}: ${method} ${v} leaked data`);
        }
      }
    }
  }
  assert.ok(checked > 2000, `${checked} requests checked`);
});

test('a route that declares no permission stops the server from starting', async () => {
  const app = fastify();
  installGuard(app, { db: gw.db, allowedHosts: ['127.0.0.1'], routes: [] });
  app.register(async (a) => { a.get('/api/forgotten', async () => ({ secret: true })); });
  await assert.rejects(async () => { await app.ready(); }, (e: Error & { code?: string }) => e.code === 'AUTH_ROUTE_UNDECLARED');
  await app.close().catch(() => undefined);
  const ok = fastify();
  installGuard(ok, { db: gw.db, allowedHosts: ['127.0.0.1'], routes: [] });
  ok.get('/declared', { config: { permission: 'status:read' } }, async () => ({}));
  await ok.ready();
  await ok.close();
});

test('a request naming another host is refused (DNS rebinding), whatever its credentials', async () => {
  for (const path of ['/api/status', `/dicomweb/studies/${STUDY}`, '/healthz']) {
    const r = await raw('GET', path, { ...bearer(admin.token), host: 'rebind.attacker.example' });
    assert.equal(r.status, 421, path);
    assert.ok(!r.body.includes(STUDY));
  }
  assert.equal((await raw('GET', '/api/status', { ...bearer(admin.token), host: `localhost:${new URL(gw.http.url).port}` })).status, 200);
});

test('a cookie session needs its CSRF token for changes: a cross-site text/plain POST is refused', async () => {
  const s = await login('admin', admin.password);
  const [job] = await gw.db.query<{ id: number }>('SELECT id FROM jobs ORDER BY id LIMIT 1');
  const forged = await raw('POST', `/api/jobs/${job!.id}/retry`, { cookie: s.cookie, 'content-type': 'text/plain', origin: 'https://evil.example' }, 'x');
  assert.equal(forged.status, 403);
  assert.equal(JSON.parse(forged.body).error, 'AUTH_CSRF');
  const wrong = await raw('POST', `/api/jobs/${job!.id}/retry`, { cookie: s.cookie, 'x-csrf-token': 'guess' });
  assert.equal(wrong.status, 403);
  const right = await raw('POST', `/api/jobs/${job!.id}/retry`, { cookie: s.cookie, 'x-csrf-token': s.csrf });
  assert.equal(right.status, 409, right.body); // past the guard: the job is done, so not retried
  const who = await json('GET', '/auth/session', { cookie: s.cookie });
  assert.equal(who.body.principal, 'user:admin');
  assert.equal(who.body.csrfToken, s.csrf);
  assert.ok(String((await raw('POST', '/auth/login', { 'content-type': 'application/json' }, JSON.stringify({ username: 'admin', password: admin.password }))).headers['set-cookie']).includes('HttpOnly'));
});

test('sessions end: on sign-out, after 30 idle minutes, and when the account is disabled', async () => {
  const r = await json('POST', '/api/users', bearer(admin.token), { username: 'short-lived', role: 'auditor' });
  const a = await login('short-lived', r.body.password);
  assert.equal((await json('GET', '/api/jobs', { cookie: a.cookie })).status, 200);
  await gw.db.query(`UPDATE sessions SET last_seen_at = now() - interval '31 minutes'`);
  assert.equal((await json('GET', '/api/jobs', { cookie: a.cookie })).status, 401, 'idle session still accepted');
  const b = await login('short-lived', r.body.password);
  assert.equal((await json('POST', '/api/users/short-lived/disable', bearer(admin.token))).status, 200);
  assert.equal((await json('GET', '/api/jobs', { cookie: b.cookie })).status, 401, 'disabled account still accepted');
  assert.equal((await raw('POST', '/auth/login', { 'content-type': 'application/json' }, JSON.stringify({ username: 'short-lived', password: r.body.password }))).status, 401);
  const c = await login('admin', admin.password);
  assert.equal((await raw('POST', '/auth/logout', sessionHeaders(c))).status, 200);
  assert.equal((await json('GET', '/api/jobs', { cookie: c.cookie })).status, 401, 'session alive after sign-out');
  const wrong = await json('POST', '/auth/login', {}, { username: 'admin', password: 'not the password' });
  assert.equal(wrong.status, 401);
  assert.equal(wrong.body.error, 'AUTH_BAD_CREDENTIALS');
});

test('a recipient sees only its own releases and attests only their deletion', async () => {
  const vendor = bearer((await createToken({ name: 'vendor 2', recipient: 'vendor' })).token);
  const mine = await json('GET', '/api/recipient/releases', vendor);
  assert.equal(mine.status, 200);
  const ownJobs = await gw.db.query<{ id: number; uid: string }>(`SELECT id, output_sop_instance_uid AS uid FROM jobs WHERE recipient = 'vendor' AND state = 'done' ORDER BY id DESC`);
  assert.deepEqual(mine.body.map((x: { jobId: number }) => x.jobId), ownJobs.map((j) => Number(j.id)));
  const [theirs] = await gw.db.query<{ id: number }>(`SELECT id FROM jobs WHERE recipient = 'other-vendor' LIMIT 1`);
  const deletedAt = new Date().toISOString();
  const cross = await json('POST', '/api/recipient/attestations', vendor, { jobIds: [Number(ownJobs[0]!.id), Number(theirs!.id)], deletedAt });
  assert.equal(cross.status, 404);
  assert.equal((await gw.db.query('SELECT 1 FROM deletion_attestations')).length, 0, 'a partial attestation was recorded');
  const ok = await json('POST', '/api/recipient/attestations', vendor, { jobIds: [Number(ownJobs[0]!.id)], deletedAt, statement: 'deleted from training store' });
  assert.equal(ok.status, 201);
  assert.deepEqual(ok.body, { attested: 1, alreadyAttested: 0 });
  assert.equal((await json('GET', '/api/jobs', vendor)).status, 403);
  assert.equal((await json('GET', `/dicomweb/studies/${STUDY}`, vendor)).status, 403);
});

test('a patient code works once, expires, and shows only that patient', async () => {
  const code = (await json('POST', '/api/patient-codes', bearer(admin.token), { patientId: 'SYN-0002', hours: 1 })).body.code as string;
  const first = await raw('POST', '/portal/session', { 'content-type': 'application/json' }, JSON.stringify({ code: code.toLowerCase().replace(/-/g, ' ') }));
  assert.equal(first.status, 200, 'a code typed in lower case with spaces');
  assert.equal((await raw('POST', '/portal/session', { 'content-type': 'application/json' }, JSON.stringify({ code }))).status, 401, 'a code used twice');
  const cookie = String(first.headers['set-cookie']![0]).split(';')[0]!;
  const studies = await json('GET', '/portal/api/studies', { cookie });
  assert.equal(studies.status, 200);
  assert.deepEqual(studies.body.map((s: { studyInstanceUid: string }) => s.studyInstanceUid), [OTHER_STUDY]);
  assert.deepEqual(studies.body[0].releases.map((r: { recipient: string }) => r.recipient).sort(), ['other-vendor', 'vendor']);
  assert.equal((await json('GET', `/dicomweb/studies/${OTHER_STUDY}`, { cookie })).status, 403);
  const stale = (await json('POST', '/api/patient-codes', bearer(admin.token), { patientId: 'SYN-0002' })).body.code as string;
  await gw.db.query(`UPDATE patient_codes SET expires_at = now() - interval '1 second' WHERE used_at IS NULL`);
  assert.equal((await raw('POST', '/portal/session', { 'content-type': 'application/json' }, JSON.stringify({ code: stale }))).status, 401, 'an expired code');
});

test('every read of originals and of identified lists is in the audit trail with who read it', async () => {
  const auditor = await createToken({ name: 'audit reader', role: 'auditor' });
  const r = await raw('GET', `/dicomweb/studies/${STUDY}`, bearer(admin.token));
  assert.equal(r.status, 200);
  // Streamed instance by instance: every original whole, in one multipart body.
  const wado = await fetch(`${gw.http.url}/dicomweb/studies/${STUDY}`, { headers: bearer(admin.token) });
  const boundary = /boundary=([^;]+)/.exec(wado.headers.get('content-type')!)![1]!;
  const bodies = parseMultipart(Buffer.from(await wado.arrayBuffer()), boundary).map((p) => p.body);
  assert.deepEqual(bodies.map((b) => b.length).sort(), EXAMPLES.map((f) => readFileSync(f).length).sort());
  assert.ok(EXAMPLES.every((f) => bodies.some((b) => b.equals(readFileSync(f)))), 'an original came back altered');
  await raw('GET', '/dicomweb/studies', bearer(admin.token));
  const trail = await json('GET', '/api/audit?kind=access', bearer(auditor.token));
  assert.equal(trail.status, 200);
  const tokenId = /^cst_([^.]+)\./.exec(admin.token)![1];
  const originals = trail.body.find((e: { kind: string }) => e.kind === 'access.originals');
  assert.equal(originals.detail.by, `token:${tokenId}`);
  assert.equal(originals.detail.study, STUDY);
  assert.equal(originals.detail.instances, 2);
  assert.ok(trail.body.some((e: { kind: string; detail: { route: string } }) => e.kind === 'access.list' && e.detail.route === 'QIDO-RS studies'));
  const signIns = await json('GET', '/api/audit?kind=auth', bearer(auditor.token));
  for (const kind of ['auth.login', 'auth.login-failed', 'auth.token-created', 'auth.token-revoked', 'auth.user-disabled', 'auth.patient-code-issued', 'auth.patient-code-used']) {
    assert.ok(signIns.body.some((e: { kind: string }) => e.kind === kind), `no ${kind} in the audit trail`);
  }
  assert.ok(!JSON.stringify(signIns.body).includes('SYN-000'), 'a patient ID in the audit trail');
});

test('docs/security.md prints the route table and the role table the server enforces', () => {
  const doc = readFileSync(join(REPO, 'docs', 'security.md'), 'utf8');
  const documented = [...doc.matchAll(/^\| (GET|POST|PUT|PATCH|DELETE) \| `([^`]+)` \| (?:\*\*public\*\*|`([^`]+)`) \|$/gm)].map((m) => `${m[1]} ${m[2]} ${m[3] ?? 'public'}`).sort();
  const served = gw.routes.filter((r) => r.method !== 'HEAD').map((r) => `${r.method} ${r.url} ${r.permission}`).sort();
  assert.deepEqual(documented, served);
  const roles = /^\| permission \| (.+) \|$/m.exec(doc)![1]!.split(' | ');
  assert.deepEqual(roles, Object.keys(ROLE_PERMISSIONS));
  const table: Record<string, string[]> = Object.fromEntries(roles.map((r) => [r, []]));
  for (const line of doc.split('\n')) {
    const cells = line.split('|').slice(1, -1).map((c) => c.trim());
    const perm = /^`([a-z-]+:[a-z-]+)`$/.exec(cells[0] ?? '')?.[1];
    if (!perm || cells.length !== roles.length + 1 || !cells.slice(1).every((c) => c === '✓' || c === '')) continue;
    cells.slice(1).forEach((c, i) => { if (c === '✓') table[roles[i]!]!.push(perm); });
  }
  for (const r of roles) assert.deepEqual(table[r]!.sort(), [...ROLE_PERMISSIONS[r as keyof typeof ROLE_PERMISSIONS]].sort(), r);
});
