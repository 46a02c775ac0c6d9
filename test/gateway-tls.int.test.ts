/** Receiving over DICOM TLS (PS3.15 B.1): storescu +tls with a client certificate, on 127.0.0.1. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parseGatewayConfig } from '../src/config/gateway-config.ts';
import { type Gateway, startGateway } from '../src/gateway.ts';
import { PYDICOM, tempDir } from './helpers.ts';
import { type Pki, makePki } from './pki.ts';

let gw: Gateway;
let pki: Pki;
const work = tempDir('custos-tls-');
before(async () => {
  pki = makePki(join(work, 'pki'));
  gw = await startGateway(parseGatewayConfig({
    dimse: { port: 0, tls: { port: 0, certFile: pki.serverCert, keyFile: pki.serverKey, caFile: pki.ca } },
    http: { port: 0 },
  }), join(work, 'data'));
});
after(async () => { await gw?.close(); });

// The gateway runs in this process: peers are spawned asynchronously.
const storescu = (file: string, args: string[]): Promise<{ status: number; output: string }> => new Promise((resolve) => {
  const p = spawn('storescu', ['-v', '-aec', 'CUSTOS', ...args, '127.0.0.1', String(gw.dimse.tlsPort), join(PYDICOM, file)], { env: { ...process.env, TCP_NODELAY: '1' } });
  let output = '';
  p.stdout.on('data', (d: Buffer) => { output += d.toString(); });
  p.stderr.on('data', (d: Buffer) => { output += d.toString(); });
  p.on('exit', (code) => resolve({ status: code ?? -1, output }));
});

test('DICOM TLS listener: a sender certified by the configured CA stores; another CA\'s certificate and plain TCP are refused', async () => {
  assert.ok(gw.dimse.tlsPort);
  const ok = await storescu('CT_small.dcm', ['+tls', pki.clientKey, pki.clientCert, '+cf', pki.ca]);
  assert.equal(ok.status, 0, ok.output);
  assert.match(ok.output, /Received Store Response \(Success\)/);
  const rogue = makePki(join(work, 'rogue')); // its own CA: trusted by nobody here
  const refused = await storescu('MR_small.dcm', ['+tls', rogue.clientKey, rogue.clientCert, '+cf', pki.ca]);
  assert.notEqual(refused.status, 0, 'a certificate from another CA was accepted');
  const plain = await storescu('JPEG2000.dcm', []);
  assert.notEqual(plain.status, 0, 'plain TCP on the TLS port was accepted');
  const rows = await gw.db.query<{ sop_class_uid: string }>('SELECT sop_class_uid FROM instances');
  assert.deepEqual(rows.map((r) => r.sop_class_uid), ['1.2.840.10008.5.1.4.1.1.2'], 'only the authenticated sender stored');
});
