/**
 * Staff single sign-on against a real OpenID Provider (the oidc-provider package, in-process on
 * 127.0.0.1), through a proxy that can alter the provider's token response: a good sign-in, then
 * a wrong audience, an expired ID token and a bad signature, each refused with AUTH_OIDC.
 */
import assert from 'node:assert/strict';
import { createPrivateKey, generateKeyPairSync, sign } from 'node:crypto';
import { type IncomingMessage, type Server, type ServerResponse, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import Provider from 'oidc-provider';
import { parseGatewayConfig } from '../src/config/gateway-config.ts';
import { type Gateway, startGateway } from '../src/gateway.ts';
import { tempDir } from './helpers.ts';
import { api, freePort } from './peers.ts';

type Tamper = 'none' | 'audience' | 'expired' | 'signature';
let tamper: Tamper = 'none';
let gw: Gateway;
let provider: Server;
let proxy: Server;
let issuer: string;

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'test-key', alg: 'RS256', use: 'sig' };

/** Re-sign an ID token with the provider's own key after changing its claims, or break its signature. */
function alter(idToken: string, how: Tamper): string {
  const [h, p, s] = idToken.split('.') as [string, string, string];
  if (how === 'signature') return `${h}.${p}.${s.slice(0, 10)}${s[10] === 'A' ? 'B' : 'A'}${s.slice(11)}`;
  const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
  if (how === 'audience') claims.aud = 'another-client';
  if (how === 'expired') { const now = Math.floor(Date.now() / 1000); claims.iat = now - 7200; claims.exp = now - 3600; }
  const body = `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
  return `${body}.${sign('sha256', Buffer.from(body), createPrivateKey({ key: jwk, format: 'jwk' })).toString('base64url')}`;
}

/** The provider behind a proxy that passes everything through, altering the token endpoint's ID token on demand. */
function proxyTo(port: number) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const up = request({ host: '127.0.0.1', port, method: req.method, path: req.url, headers: req.headers }, (r) => {
      const chunks: Buffer[] = [];
      r.on('data', (d: Buffer) => chunks.push(d));
      r.on('end', () => {
        let body = Buffer.concat(chunks);
        const headers = { ...r.headers };
        if (req.url === '/token' && tamper !== 'none' && r.statusCode === 200) {
          const t = JSON.parse(body.toString()) as { id_token: string };
          t.id_token = alter(t.id_token, tamper);
          body = Buffer.from(JSON.stringify(t));
          headers['content-length'] = String(body.length);
        }
        res.writeHead(r.statusCode ?? 502, headers);
        res.end(body);
      });
    });
    req.pipe(up);
  };
}

before(async () => {
  proxy = createServer();
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  issuer = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  const httpPort = await freePort();
  const redirectUri = `http://127.0.0.1:${httpPort}/auth/oidc/callback`;
  const oidc = new Provider(issuer, {
    clients: [{ client_id: 'custos', client_secret: 'a-client-secret-for-tests-only', redirect_uris: [redirectUri], grant_types: ['authorization_code'], response_types: ['code'] }],
    jwks: { keys: [jwk] },
    findAccount: async (_ctx: unknown, id: string) => ({ accountId: id, claims: async () => ({ sub: id, preferred_username: id }) }),
    claims: { openid: ['sub'], profile: ['preferred_username'] },
    conformIdTokenClaims: false,
    pkce: { required: () => true },
  } as never);
  provider = createServer(oidc.callback());
  await new Promise<void>((r) => provider.listen(0, '127.0.0.1', r));
  proxy.on('request', proxyTo((provider.address() as AddressInfo).port));
  gw = await startGateway(parseGatewayConfig({
    dimse: { port: 0 }, http: { port: httpPort, signInPerMinute: 100 },
    oidc: { issuer, clientId: 'custos', clientSecret: 'a-client-secret-for-tests-only', redirectUri },
  }), join(tempDir('custos-oidc-'), 'data'));
  const add = await api(gw)(`${gw.http.url}/api/users`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'dr.house', role: 'privacy-officer', sso: true }) });
  assert.equal(add.status, 201);
});
after(async () => { await gw?.close(); provider?.close(); proxy?.close(); });

/** A browser with one cookie jar per host: follows the whole code flow through the provider's own login and consent pages. */
async function signIn(login: string): Promise<Response> {
  const jar = new Map<string, Map<string, string>>();
  const keep = (url: string, res: Response): void => {
    const host = new URL(url).host;
    const cookies = jar.get(host) ?? new Map<string, string>();
    for (const c of res.headers.getSetCookie()) { const [kv] = c.split(';'); const i = kv!.indexOf('='); cookies.set(kv!.slice(0, i), kv!.slice(i + 1)); }
    jar.set(host, cookies);
  };
  const go = async (url: string, init: RequestInit = {}): Promise<Response> => {
    const cookie = [...(jar.get(new URL(url).host) ?? new Map()).entries()].map(([k, v]) => `${k}=${v}`).join('; ');
    const res = await fetch(url, { ...init, redirect: 'manual', headers: { ...(init.headers as Record<string, string>), ...(cookie ? { cookie } : {}) } });
    keep(url, res);
    return res;
  };
  let res = await go(`${gw.http.url}/auth/oidc/login`);
  assert.equal(res.status, 302);
  let url = new URL(res.headers.get('location')!, gw.http.url).href;
  assert.ok(url.startsWith(issuer), url);
  for (let step = 0; step < 12; step++) {
    if (url.startsWith(gw.http.url)) return go(url); // the callback
    res = await go(url);
    if (res.status >= 300 && res.status < 400) { url = new URL(res.headers.get('location')!, url).href; continue; }
    const html = await res.text();
    assert.equal(res.status, 200, html.slice(0, 300));
    const action = /<form[^>]*action="([^"]+)"/.exec(html)![1]!;
    const form: Record<string, string> = /name="prompt" value="login"/.test(html) ? { prompt: 'login', login, password: 'anything' } : { prompt: 'consent' };
    res = await go(new URL(action, url).href, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form).toString() });
    url = new URL(res.headers.get('location')!, url).href;
  }
  throw new Error('the sign-in did not come back to the gateway');
}

test('a provisioned account signs in through the provider and gets a session with its role', async () => {
  tamper = 'none';
  const res = await signIn('dr.house');
  assert.equal(res.status, 303, await res.clone().text());
  const cookie = res.headers.getSetCookie().find((c) => c.startsWith('custos_session='))!.split(';')[0]!;
  const who = (await (await fetch(`${gw.http.url}/auth/session`, { headers: { cookie } })).json()) as { principal: string; role: string };
  assert.deepEqual([who.principal, who.role], ['user:dr.house', 'privacy-officer']);
  assert.equal((await fetch(`${gw.http.url}/api/users`, { headers: { cookie } })).status, 403, 'a privacy officer may not manage users');
});

test('an identity the provider vouches for but nobody provisioned here is refused', async () => {
  tamper = 'none';
  const res = await signIn('stranger');
  assert.equal(res.status, 403);
  assert.equal(((await res.json()) as { error: string }).error, 'AUTH_FORBIDDEN');
  assert.ok(!res.headers.getSetCookie().some((c) => c.startsWith('custos_session=')));
});

for (const [how, why] of [['audience', /aud/i], ['expired', /exp/i], ['signature', /signature/i]] as const) {
  test(`an ID token with ${how === 'audience' ? 'a wrong audience' : how === 'expired' ? 'an expiry in the past' : 'a bad signature'} is refused`, async () => {
    tamper = how;
    try {
      const res = await signIn('dr.house');
      const body = (await res.json()) as { error: string; message: string };
      assert.equal(res.status, 401, JSON.stringify(body));
      assert.equal(body.error, 'AUTH_OIDC');
      assert.match(body.message, why);
      assert.ok(!res.headers.getSetCookie().some((c) => c.startsWith('custos_session=')));
    } finally {
      tamper = 'none';
    }
  });
}

test('a callback without the state this browser was given is refused', async () => {
  const res = await fetch(`${gw.http.url}/auth/oidc/callback?code=stolen&state=guessed`, { redirect: 'manual' });
  assert.equal(res.status, 401);
  assert.equal(((await res.json()) as { error: string }).error, 'AUTH_OIDC');
});
