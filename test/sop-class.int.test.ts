/**
 * A SOP class outside the DICOM root is not taken for a storage class: the gateway stores it only
 * when `ingest.privateSopClasses` lists it (DIMSE and STOW-RS alike), else refuses it (0122).
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { parseGatewayConfig } from '../src/config/gateway-config.ts';
import { type Gateway, startGateway } from '../src/gateway.ts';
import { PYDICOM, tempDir } from './helpers.ts';
import { tokenOf } from './peers.ts';
import { stow } from './stow.ts';

const PRIVATE_CLASS = '1.3.12.2.1107.5.9.1'; // a vendor's private (non-image) storage class
const dir = tempDir('custos-sopclass-');
const file = join(dir, 'private-class.dcm');
copyFileSync(join(PYDICOM, 'CT_small.dcm'), file);
execFileSync('dcmodify', ['-nb', '-m', `(0008,0016)=${PRIVATE_CLASS}`, file]); // dcmodify updates the meta header's class too
const gateways: Gateway[] = [];
after(async () => { for (const g of gateways) await g.close(); });

const start = async (privateSopClasses?: string[]): Promise<Gateway> => {
  const gw = await startGateway(parseGatewayConfig({ dimse: { port: 0 }, http: { port: 0 }, ...(privateSopClasses ? { ingest: { privateSopClasses } } : {}) }), join(dir, `data-${gateways.length}`));
  gateways.push(gw);
  return gw;
};
/** dcmtk's dcmsend, told not to check the file's UIDs (storescu refuses a SOP class it does not know); async: the gateway runs in this process. */
const send = (port: number): Promise<{ status: number; output: string }> => new Promise((resolve) => {
  execFile('dcmsend', ['-nuc', '-aet', 'MODALITY', '-aec', 'CUSTOS', '127.0.0.1', String(port), file], (err, stdout, stderr) => {
    resolve({ status: err ? (typeof err.code === 'number' ? err.code : 1) : 0, output: stdout + stderr });
  });
});
const stored = async (gw: Gateway): Promise<number> => (await gw.db.query('SELECT id FROM instances')).length;

test('a private SOP class is refused by default: DIMSE rejects its presentation context, STOW-RS answers failure 0122', async () => {
  const gw = await start();
  const sent = await send(gw.dimse.port);
  assert.match(sent.output, /No Acceptable Presentation Contexts/); // dcmsend exits 0 all the same
  assert.notEqual(await stow(gw.http.url, [readFileSync(file)], tokenOf(gw.dataDir)), 200);
  const [q] = await gw.db.query<{ code: string }>('SELECT code FROM quarantine ORDER BY id DESC LIMIT 1');
  assert.equal(q!.code, 'SOP_CLASS_NOT_SUPPORTED');
  assert.equal(await stored(gw), 0);
});

test('configured in ingest.privateSopClasses, the same class is stored', async () => {
  const gw = await start([PRIVATE_CLASS]);
  const sent = await send(gw.dimse.port);
  assert.equal(sent.status, 0, sent.output);
  assert.doesNotMatch(sent.output, /No Acceptable/);
  assert.equal(await stored(gw), 1);
  assert.throws(() => parseGatewayConfig({ ingest: { privateSopClasses: ['1.2.840.10008.5.1.4.1.1.2'] } }), { code: 'CONFIG_INVALID' });
});
