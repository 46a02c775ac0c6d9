/**
 * Fuzz targets that need a running gateway: the DIMSE PDU reader (association requests, commands
 * and data fragments, mutated, sent over a socket) and the JSON bodies of every API route that takes
 * one. A gateway is started in this process on first use (127.0.0.1, a temporary data directory)
 * and closed by closeNetworkTargets(). A case passes when the gateway answers it as a client error
 * (a 4xx with a coded body) or takes it, and the process never sees an uncaught exception.
 */
import { connect } from 'node:net';
import { readFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { parseGatewayConfig } from '../../src/config/gateway-config.ts';
import { type Gateway, startGateway } from '../../src/gateway.ts';
import type { Target } from './targets.ts';

let gateway: Promise<Gateway> | undefined;
let token = '';

function gw(): Promise<Gateway> {
  gateway ??= (async () => {
    const dataDir = join(mkdtempSync(join(tmpdir(), 'custos-fuzz-')), 'data');
    const g = await startGateway(parseGatewayConfig({ dimse: { port: 0, artimSeconds: 1, idleSeconds: 1, maxAssociationsPerSource: 1000, maxAssociations: 1000 }, http: { port: 0, signInPerMinute: 1000 } }), dataDir);
    token = (JSON.parse(readFileSync(join(dataDir, 'initial-admin.json'), 'utf8')) as { token: string }).token;
    return g;
  })();
  return gateway;
}

/** Start the gateway the targets use (so that its start-up is not timed as a case). */
export async function startNetworkTargets(): Promise<void> {
  await gw();
}

export async function closeNetworkTargets(): Promise<void> {
  if (gateway) await (await gateway).close();
  gateway = undefined;
}

import { conversation } from '../dimse-pdus.ts';

const CONVERSATION = conversation();

/** Send bytes on a fresh connection; resolves when the gateway closes it, or after `waitMs`. */
function exchange(port: number, bytes: Buffer, waitMs: number): Promise<void> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    const done = (): void => { clearTimeout(t); s.destroy(); resolve(); };
    const t = setTimeout(done, waitMs);
    s.on('error', done);
    s.on('close', done);
    s.on('data', () => undefined);
    s.write(bytes, () => s.end());
  });
}

const mutatedConversation = fc.record({
  bytes: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
  lengths: fc.array(fc.tuple(fc.nat(), fc.constantFrom(0, 1, 5, 0xffff, 0xfffffffe, 0xffffffff, 0x7fffffff, 0x100000)), { maxLength: 2 }),
  cut: fc.option(fc.nat()),
  random: fc.option(fc.uint8Array({ maxLength: 400 }), { freq: 8 }),
}).map(({ bytes, lengths, cut, random }) => {
  if (random) return Buffer.from(random);
  const b = Buffer.from(CONVERSATION);
  for (const [p, v] of bytes) b[p % b.length] = v;
  for (const [p, v] of lengths) b.writeUInt32BE(v >>> 0, p % (b.length - 4));
  return cut === null ? b : b.subarray(0, cut % (b.length + 1));
});

const prop = <T>(arb: fc.Arbitrary<T>, check: (v: T) => Promise<void>) => (fc.asyncProperty(arb, check) as unknown) as fc.IAsyncProperty<[unknown]>;

/** Routes that take a JSON body, with a valid body to mutate. */
const JSON_ROUTES: Array<{ path: string; valid: unknown }> = [
  { path: '/auth/login', valid: { username: 'nobody', password: 'not-the-password' } },
  { path: '/portal/session', valid: { code: 'ABCD-EFGH-JKMN-PQRS' } },
  { path: '/api/users', valid: { username: 'fuzz-user', role: 'auditor', password: 'a long enough password' } },
  { path: '/api/tokens', valid: { name: 'fuzz', role: 'auditor', expiresInDays: 1 } },
  { path: '/api/patient-codes', valid: { patientId: 'SYNTH-1', issuer: 'SYNTH' } },
  { path: '/api/recipient/attestations', valid: { releases: [1], deletedAt: '2026-12-01T00:00:00Z' } },
  { path: '/api/jobs/1/retry', valid: {} },
];

const jsonBody = fc.tuple(fc.nat({ max: JSON_ROUTES.length - 1 }), fc.oneof(
  fc.jsonValue(),
  fc.dictionary(fc.constantFrom('username', 'password', 'role', 'name', 'permissions', 'recipient', 'expiresInDays', 'code', 'patientId', 'issuer', 'releases', 'deletedAt', 'sso'), fc.jsonValue(), { maxKeys: 6 }),
  fc.string({ maxLength: 200 }).map((s) => ({ raw: s })),
));

export const NETWORK_TARGETS: Target[] = [
  {
    name: 'DIMSE PDU reader (association, commands, data fragments; mutated, over a socket)',
    property: prop(mutatedConversation, async (bytes) => {
      const g = await gw();
      await exchange(g.dimse.port, bytes, 300);
    }),
  },
  {
    name: 'JSON bodies of every API route that takes one',
    property: prop(jsonBody, async ([i, body]) => {
      const g = await gw();
      const route = JSON_ROUTES[i]!;
      const raw = typeof body === 'object' && body !== null && 'raw' in body ? String((body as { raw: string }).raw) : JSON.stringify(body ?? route.valid);
      const res = await fetch(`${g.http.url}${route.path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: raw });
      const text = await res.text();
      if (res.status >= 500) throw new Error(`${route.path} answered ${res.status}: ${text.slice(0, 200)}`);
      if (res.status >= 400 && !/"error"\s*:\s*"[A-Z0-9_]+"|"code"\s*:\s*"[A-Z0-9_]+"/.test(text)) throw new Error(`${route.path} answered ${res.status} without an error code: ${text.slice(0, 200)}`);
    }),
  },
];
