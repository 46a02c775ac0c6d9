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
import type { DataElement } from '../src/dicom/dataset.ts';
import { Tags } from '../src/dicom/tag.ts';
import { transferSyntax } from '../src/dicom/transfer-syntax.ts';
import { encodeDataset } from '../src/dicom/write.ts';
import { associateRq, cmd, commandSet, pdata, ui, us } from './dimse-pdus.ts';
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

/** Send `bytes` on a new connection; resolves with what came back once the gateway closes it (or after `waitMs`). */
const exchange = (bytes: Buffer, waitMs = 3000): Promise<Buffer> => new Promise((resolve) => {
  const s = connect({ host: '127.0.0.1', port: gw.dimse.port });
  const got: Buffer[] = [];
  const done = (): void => { clearTimeout(t); s.destroy(); resolve(Buffer.concat(got)); };
  const t = setTimeout(done, waitMs);
  s.on('data', (d: Buffer) => got.push(d));
  s.on('error', done);
  s.on('close', done);
  s.write(bytes);
});

/** The Status (0000,0900) of the first DIMSE response in what came back. */
function responseStatus(answer: Buffer): number | undefined {
  const at = answer.indexOf(Buffer.from([0x00, 0x00, 0x00, 0x09, 0x02, 0x00, 0x00, 0x00]));
  return at < 0 ? undefined : answer.readUInt16LE(at + 8);
}

test('a data fragment for a presentation context never negotiated closes that connection; the gateway stays up', { timeout: 30_000 }, async () => {
  // Found by the long fuzz run: the library threw from the socket's read, which stopped the process.
  await sleep(2500); // the connections the test before left are closed by the idle timeout
  const answer = await exchange(Buffer.concat([associateRq(), pdata(86, 0x02, Buffer.alloc(16))]));
  assert.equal(answer[0], 0x02, 'the association was accepted first');
  assert.equal((await echo()).status, 0, 'the gateway still answers');
});

test('an association from a calling AE title with control characters is rejected', { timeout: 30_000 }, async () => {
  const answer = await exchange(associateRq('EVIL\0AE'));
  assert.equal(answer[0], 0x03, 'A-ASSOCIATE-RJ');
  assert.deepEqual([answer[7], answer[9]], [1, 3], 'rejected permanently: calling AE title not recognized (PS3.8 9.3.4)');
  assert.equal((await echo()).status, 0);
});

test('a C-STORE whose SOP Instance UID holds a NUL is refused with DICOM_BAD_VALUE, not failed inside', { timeout: 30_000 }, async () => {
  // Found by the long fuzz run: the NUL reached the database, which refused it, and the instance was answered A700 "retry later".
  const ascii = (v: string): Buffer => Buffer.from(v.length % 2 ? `${v}\0` : v, 'latin1');
  const el = (tag: number, vr: DataElement['vr'], v: string): DataElement => ({ tag, vr, value: ascii(v) });
  const dataset = Buffer.concat(encodeDataset({ elements: [
    el(Tags.SOPClassUID, 'UI', '1.2.840.10008.5.1.4.1.1.2'), el(Tags.SOPInstanceUID, 'UI', '2.25.31\u00007'), el(Tags.Modality, 'CS', 'CT'),
    el(Tags.StudyInstanceUID, 'UI', '2.25.31'), el(Tags.SeriesInstanceUID, 'UI', '2.25.31.1'),
  ] }, transferSyntax('1.2.840.10008.1.2.1')) as Buffer[]);
  const store = commandSet([cmd(0x0002, ui('1.2.840.10008.5.1.4.1.1.2')), cmd(0x0100, us(0x0001)), cmd(0x0110, us(7)), cmd(0x0700, us(0)), cmd(0x0800, us(0x0000)), cmd(0x1000, ui('2.25.31.7'))]);
  const answer = await exchange(Buffer.concat([associateRq(), pdata(3, 0x03, store), pdata(3, 0x02, dataset), Buffer.from([0x05, 0, 0, 0, 0, 4, 0, 0, 0, 0])]));
  assert.equal(responseStatus(answer), 0xc000, 'C000, not A700');
  assert.match(answer.toString('latin1'), /DICOM_BAD_VALUE/);
  const [q] = await gw.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM quarantine WHERE code = 'DICOM_BAD_VALUE'`);
  assert.equal(q!.n, 1);
});
