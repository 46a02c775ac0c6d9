/**
 * Memory bounded by configuration, not by what is sent: instances and STOW-RS bodies larger than
 * the gateway may hold in memory (ingest.spoolAboveMiB, or past the budget every receiver shares,
 * ingest.memoryMiB) are spooled to disk, encrypted, and streamed to the blob store. Before, a
 * 1.1 GiB C-STORE was refused only after 1.9 GB of memory (three at once: 6.5 GB), and a 600 MiB
 * STOW part peaked at 3.6 GB. The gateway runs as its own process so that its peak memory is its own.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, readdirSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parseMultipart } from '../src/net/multipart.ts';
import { largeInstanceFile } from './bombs.ts';
import { tempDir } from './helpers.ts';
import { type GatewayProc, startGatewayProcess, storescu, tokenOf, waitFor } from './peers.ts';

const MiB = 1024 * 1024;
/** Growth of the gateway's peak memory each case must stay under (its budget here is 64 MiB). */
const GROWTH_BOUND_MIB = 300;

let gw: GatewayProc;
let dir: string;
let dataDir: string;

/** The gateway's peak resident memory so far (VmHWM), in MiB. */
function peakMiB(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${gw.proc.pid}/status`, 'utf8'));
  return Number(m![1]) / 1024;
}

function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(path).on('data', (d) => h.update(d)).on('end', () => resolve(h.digest('hex'))).on('error', reject);
  });
}

/** storescu -v (its verbose log says the status of each C-STORE). */
function storescuVerbose(file: string): Promise<string> {
  return new Promise((resolve) => {
    const p = spawn('storescu', ['-v', '-aet', 'MODALITY', '-aec', 'CUSTOS', '127.0.0.1', String(gw.dimsePort), file]);
    let out = '';
    p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    p.on('exit', () => resolve(out));
  });
}

const spoolLeft = (): string[] => readdirSync(join(dataDir, 'spool'));

before(async () => {
  dir = tempDir('custos-large-');
  dataDir = join(dir, 'data');
  gw = await startGatewayProcess(dataDir, { ingest: { memoryMiB: 64, spoolAboveMiB: 8 } });
});
after(async () => { await gw?.stop(); });

test('three 1.1 GiB C-STOREs at once are refused with A700 while the gateway\'s memory stays within its budget', async () => {
  const file = join(dir, 'too-large.dcm');
  const size = largeInstanceFile(file, 2253, '2.25.77001');
  assert.ok(size > 1.1 * 1024 * MiB);
  const before = peakMiB();
  const sends = await Promise.all([0, 1, 2].map(() => storescuVerbose(file)));
  for (const s of sends) assert.match(s, /Refused: OutOfResources|0xa700/i, s.slice(-400));
  const growth = peakMiB() - before;
  console.log(`3 × 1.1 GiB C-STORE: peak memory grew by ${growth.toFixed(0)} MiB (peak ${peakMiB().toFixed(0)} MiB)`);
  assert.ok(growth < GROWTH_BOUND_MIB, `peak memory grew by ${growth.toFixed(0)} MiB`);
  assert.deepEqual(spoolLeft(), [], 'the spool files of refused instances are removed');
});

test('a 600 MiB STOW-RS part streams to the blob store: stored whole, memory within the budget', async () => {
  const file = join(dir, 'large-stow.dcm');
  const size = largeInstanceFile(file, 1200, '2.25.77002');
  assert.equal(size - (size % MiB), 600 * MiB);
  const boundary = 'custos-test-large-boundary';
  const head = Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`, 'latin1');
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`, 'latin1');
  const before = peakMiB();
  const status = await new Promise<number>((resolve, reject) => {
    const req = request(`${gw.http}/dicomweb/studies`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokenOf(dataDir)}`, 'content-type': `multipart/related; type="application/dicom"; boundary=${boundary}`, 'content-length': head.length + size + tail.length },
    }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode ?? 0)); });
    req.on('error', reject);
    req.write(head);
    createReadStream(file).on('end', () => req.end(tail)).pipe(req, { end: false });
  });
  assert.equal(status, 200);
  const growth = peakMiB() - before;
  console.log(`600 MiB STOW-RS part: peak memory grew by ${growth.toFixed(0)} MiB (peak ${peakMiB().toFixed(0)} MiB)`);
  assert.ok(growth < GROWTH_BOUND_MIB, `peak memory grew by ${growth.toFixed(0)} MiB`);
  const t0 = Date.now();
  await waitFor('the spooled body to be removed once answered', () => spoolLeft().length === 0 || undefined, 5000);
  console.log(`spool removed after ${Date.now() - t0} ms`);
  // The stored original is the part, byte for byte (read back through WADO-RS, decrypted).
  const res = await gw.api(`${gw.http}/dicomweb/studies/2.25.77002`, { headers: { accept: 'multipart/related; type="application/dicom"' } });
  assert.equal(res.status, 200);
  const boundaryOut = /boundary=([^;]+)/.exec(res.headers.get('content-type') ?? '')![1]!;
  const [part] = parseMultipart(Buffer.from(await res.arrayBuffer()), boundaryOut);
  assert.equal(createHash('sha256').update(part!.body).digest('hex'), await sha256File(file));
});

test('an instance above spoolAboveMiB over DIMSE goes through the spool and is stored whole', async () => {
  const file = join(dir, 'spooled-cstore.dcm');
  largeInstanceFile(file, 80, '2.25.77003'); // 40 MiB, above the 8 MiB spool threshold
  const sent = await storescu(gw.dimsePort, 'CUSTOS', [file]);
  assert.equal(sent.status, 0, sent.output.slice(-400));
  assert.deepEqual(spoolLeft(), []);
  const res = await gw.api(`${gw.http}/dicomweb/studies/2.25.77003`);
  assert.equal(res.status, 200);
  const boundaryOut = /boundary=([^;]+)/.exec(res.headers.get('content-type') ?? '')![1]!;
  const [part] = parseMultipart(Buffer.from(await res.arrayBuffer()), boundaryOut);
  // Its data set (after the meta group, which the gateway writes) is the file's, byte for byte.
  const original = readFileSync(file);
  const tailBytes = 40 * MiB;
  assert.ok(part!.body.subarray(part!.body.length - tailBytes).equals(original.subarray(original.length - tailBytes)));
});
