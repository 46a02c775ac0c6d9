/**
 * HTTPS served from configured certificate files, the security headers, Secure cookies, and the
 * rate limit on sign-in (passwords and patient codes), on 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parseGatewayConfig } from '../src/config/gateway-config.ts';
import { type Gateway, startGateway } from '../src/gateway.ts';
import { tempDir } from './helpers.ts';

const work = tempDir('custos-https-');
let gw: Gateway;
let ca: Buffer;

before(async () => {
  // A self-signed certificate for 127.0.0.1, made by OpenSSL (a real peer).
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(work, 'key.pem'), '-out', join(work, 'cert.pem')], { stdio: 'ignore' });
  ca = readFileSync(join(work, 'cert.pem'));
  gw = await startGateway(parseGatewayConfig({
    dimse: { port: 0 }, http: { port: 0, signInPerMinute: 3, tls: { certFile: join(work, 'cert.pem'), keyFile: join(work, 'key.pem') } },
  }), join(work, 'data'));
});
after(async () => { await gw?.close(); });

function get(method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const u = new URL(gw.http.url);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, method, path, ca, headers }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => { text += d.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('the gateway serves HTTPS from the configured files, with security headers and Secure cookies', async () => {
  assert.match(gw.http.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  const admin = JSON.parse(readFileSync(gw.adminCredentialFile!, 'utf8')) as { password: string; token: string };
  const r = await get('GET', '/api/status', { authorization: `Bearer ${admin.token}` });
  assert.equal(r.status, 200);
  assert.match(String(r.headers['strict-transport-security']), /max-age=\d+/);
  assert.equal(r.headers['x-content-type-options'], 'nosniff');
  assert.match(String(r.headers['content-security-policy']), /default-src 'self'/);
  assert.equal(r.headers['x-frame-options'], 'SAMEORIGIN');
  const login = await get('POST', '/auth/login', { 'content-type': 'application/json' }, JSON.stringify({ username: 'admin', password: admin.password }));
  assert.equal(login.status, 200);
  assert.match(String(login.headers['set-cookie']), /custos_session=[^;]+;.*HttpOnly.*Secure|Secure.*HttpOnly/);
});

test('sign-in attempts beyond the limit per minute are refused with 429, passwords and patient codes alike', async () => {
  const attempt = (path: string, body: unknown) => get('POST', path, { 'content-type': 'application/json' }, JSON.stringify(body));
  const statuses: number[] = [];
  for (let i = 0; i < 5; i++) statuses.push((await attempt('/auth/login', { username: 'admin', password: `guess-${i}` })).status);
  assert.deepEqual(statuses.slice(-2), [429, 429], statuses.join(','));
  const codes: number[] = [];
  for (let i = 0; i < 5; i++) codes.push((await attempt('/portal/session', { code: 'AAAA-BBBB-CCCC-DDDD' })).status);
  assert.deepEqual([codes[0], codes.at(-1)], [401, 429], codes.join(','));
});
