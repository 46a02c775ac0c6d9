/**
 * DIMSE connections that never associate, trickle, or idle cannot hold the gateway's slots: the
 * ARTIM timer (PS3.8 9.1.5) and the idle timeout close them, and one address may hold only its
 * share of the associations. On 127.0.0.1 (and 127.0.0.2 as a second host).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { type Socket, connect } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parseGatewayConfig } from '../src/config/gateway-config.ts';
import { type Gateway, startGateway } from '../src/gateway.ts';
import { tempDir } from './helpers.ts';

let gw: Gateway;
before(async () => {
  gw = await startGateway(parseGatewayConfig({
    dimse: { port: 0, maxAssociations: 8, maxAssociationsPerSource: 3, artimSeconds: 1, idleSeconds: 2 }, http: { port: 0 },
  }), join(tempDir('custos-dimse-hostile-'), 'data'));
});
after(async () => { await gw?.close(); });

const echo = (): Promise<{ status: number; out: string }> => new Promise((resolve) => {
  const p = spawn('echoscu', ['-aet', 'MODALITY', '-aec', 'CUSTOS', '127.0.0.1', String(gw.dimse.port)], { env: { ...process.env, TCP_NODELAY: '1' } });
  let out = '';
  p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  p.stderr.on('data', (d: Buffer) => { out += d.toString(); });
  p.on('exit', (code) => resolve({ status: code ?? -1, out }));
});
/** A connection that sends nothing (or what `send` sends); resolves once it is open. */
const open = (localAddress = '127.0.0.1'): Promise<Socket & { closedAt?: number }> => new Promise((resolve, reject) => {
  const s = connect({ host: '127.0.0.1', port: gw.dimse.port, localAddress }) as Socket & { closedAt?: number };
  s.on('close', () => { s.closedAt = Date.now(); });
  s.on('error', () => undefined);
  s.once('connect', () => resolve(s));
  s.once('error', reject);
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('connections that never request an association are closed by the ARTIM timer, and the slots come back', { timeout: 30_000 }, async () => {
  const idle = await Promise.all([1, 2, 3].map(() => open('127.0.0.2')).concat([1, 2, 3].map(() => open('127.0.0.3'))));
  const t0 = Date.now();
  // A trickle of bytes (part of a PDU header, one byte at a time) does not keep a connection either.
  const trickle = await open('127.0.0.4');
  const drip = setInterval(() => { if (!trickle.destroyed) trickle.write(Buffer.from([0x01])); }, 200);
  await sleep(2_500);
  clearInterval(drip);
  for (const s of [...idle, trickle]) {
    assert.ok(s.closedAt !== undefined, 'a connection that never associated is still open');
    assert.ok(s.closedAt - t0 < 2_000, `closed after ${s.closedAt - t0} ms`);
  }
  assert.equal((await echo()).status, 0);
});

test('one address holds at most its share of the associations; other senders still get in', { timeout: 30_000 }, async () => {
  const attacker = await Promise.all([1, 2, 3].map(() => open('127.0.0.2')));
  const good = await echo();
  assert.equal(good.status, 0, `a sender from another address was locked out: ${good.out}`);
  const own = await Promise.all([1, 2, 3].map(() => open('127.0.0.1')));
  const over = await echo();
  assert.notEqual(over.status, 0, 'a fourth association from one address was accepted');
  assert.match(over.out, /Local Limit Exceeded|Rejected/i);
  for (const s of [...attacker, ...own]) s.destroy();
});
