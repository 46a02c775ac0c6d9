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

const u16 = (n: number): Buffer => { const b = Buffer.alloc(2); b.writeUInt16BE(n); return b; };
const u32 = (n: number): Buffer => { const b = Buffer.alloc(4); b.writeUInt32BE(n); return b; };
const item = (type: number, body: Buffer): Buffer => Buffer.concat([Buffer.from([type, 0]), u16(body.length), body]);
const ae = (s: string): Buffer => Buffer.from(s.padEnd(16, ' '), 'latin1');
const uid = (s: string): Buffer => Buffer.from(s, 'latin1');

/** A valid A-ASSOCIATE-RQ (PS3.8 9.3.2) for Verification and CT Image Storage, explicit VR little endian. */
function associateRq(): Buffer {
  const pc = (id: number, abstract: string): Buffer => item(0x20, Buffer.concat([Buffer.from([id, 0, 0, 0]), item(0x30, uid(abstract)), item(0x40, uid('1.2.840.10008.1.2.1')), item(0x40, uid('1.2.840.10008.1.2'))]));
  const body = Buffer.concat([u16(1), u16(0), ae('CUSTOS'), ae('FUZZ'), Buffer.alloc(32),
    item(0x10, uid('1.2.840.10008.3.1.1.1')), pc(1, '1.2.840.10008.1.1'), pc(3, '1.2.840.10008.5.1.4.1.1.2'),
    item(0x50, item(0x51, u32(16384)))]);
  return Buffer.concat([Buffer.from([0x01, 0]), u32(body.length), body]);
}

/** An implicit VR little endian command element (PS3.7 E.1). */
const cmd = (element: number, value: Buffer): Buffer => { const h = Buffer.alloc(8); h.writeUInt16LE(0, 0); h.writeUInt16LE(element, 2); h.writeUInt32LE(value.length, 4); return Buffer.concat([h, value]); };
const us = (n: number): Buffer => { const b = Buffer.alloc(2); b.writeUInt16LE(n); return b; };
const ui = (s: string): Buffer => Buffer.from(s.length % 2 ? `${s}\0` : s, 'latin1');

/** P-DATA-TF (PS3.8 9.3.5) with one PDV: `control` 0x03 a last command fragment, 0x02 a last data fragment. */
function pdata(pcId: number, control: number, value: Buffer): Buffer {
  const pdv = Buffer.concat([u32(value.length + 2), Buffer.from([pcId, control]), value]);
  return Buffer.concat([Buffer.from([0x04, 0]), u32(pdv.length), pdv]);
}

function commandSet(elements: Buffer[]): Buffer {
  const rest = Buffer.concat(elements);
  const gl = Buffer.alloc(4); gl.writeUInt32LE(rest.length);
  return Buffer.concat([cmd(0x0000, gl), rest]);
}

/** A whole exchange: associate, C-ECHO, C-STORE of a small data set, release. */
function conversation(): Buffer {
  const echo = commandSet([cmd(0x0002, ui('1.2.840.10008.1.1')), cmd(0x0100, us(0x0030)), cmd(0x0110, us(1)), cmd(0x0800, us(0x0101))]);
  const store = commandSet([cmd(0x0002, ui('1.2.840.10008.5.1.4.1.1.2')), cmd(0x0100, us(0x0001)), cmd(0x0110, us(2)), cmd(0x0700, us(0)), cmd(0x0800, us(0x0000)), cmd(0x1000, ui('2.25.999.1'))]);
  const data = Buffer.from('0800160055491a00312e322e3834302e31303030382e352e312e342e312e312e3200', 'hex');
  return Buffer.concat([associateRq(), pdata(1, 0x03, echo), pdata(3, 0x03, store), pdata(3, 0x02, data), Buffer.from([0x05, 0, 0, 0, 0, 4, 0, 0, 0, 0])]);
}
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
