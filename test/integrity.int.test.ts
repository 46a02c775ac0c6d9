import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { appendFileSync, cpSync, copyFileSync, readFileSync, rmSync, truncateSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Fastify from 'fastify';
import { BufferSource } from '../src/dicom/byte-source.ts';
import { findElement, putElement } from '../src/dicom/dataset.ts';
import { writeChunksAtomic } from '../src/dicom/file-io.ts';
import { readDicom } from '../src/dicom/read.ts';
import { Tags, tag } from '../src/dicom/tag.ts';
import { encodePart10 } from '../src/dicom/write.ts';
import { logRoutes } from '../src/api/log-routes.ts';
import { parseCheckpoint } from '../src/integrity/checkpoint.ts';
import { openNote, parseVerifierKey } from '../src/integrity/note.ts';
import { MerkleTree, verifyInclusion } from '../src/integrity/merkle.ts';
import { leafHash } from '../src/integrity/rfc6962.ts';
import { parseTlogProof } from '../src/integrity/tlog-proof.ts';
import { LogStore } from '../src/store/log-store.ts';
import { logDirOf } from '../src/store/open-log.ts';
import { PYDICOM, REPO, runCli, tempDir } from './helpers.ts';

const ascii = (s: string): Buffer => Buffer.from(s.length % 2 ? s + '\0' : s, 'latin1');

/** Write a variant of CT_small: new SOP Instance UID, optional frames (multi-frame) and edits. */
function variant(path: string, opts: { sop: string; frames?: Buffer[]; patientName?: string }): void {
  const src = new BufferSource(readFileSync(join(PYDICOM, 'CT_small.dcm')));
  const f = readDicom(src);
  putElement(f.dataset, { tag: Tags.SOPInstanceUID, vr: 'UI', value: ascii(opts.sop) });
  if (opts.patientName) putElement(f.dataset, { tag: Tags.PatientName, vr: 'PN', value: Buffer.from(opts.patientName, 'latin1') });
  if (opts.frames) {
    // 12-bit unsigned samples, so lossy JPEG codecs accept them too.
    const us = (v: number) => { const b = Buffer.alloc(2); b.writeUInt16LE(v); return b; };
    putElement(f.dataset, { tag: tag(0x0028, 0x0101), vr: 'US', value: us(12) });
    putElement(f.dataset, { tag: tag(0x0028, 0x0102), vr: 'US', value: us(11) });
    putElement(f.dataset, { tag: tag(0x0028, 0x0103), vr: 'US', value: us(0) });
    putElement(f.dataset, { tag: tag(0x0028, 0x0008), vr: 'IS', value: Buffer.from(String(opts.frames.length).padEnd(2, ' '), 'latin1') });
    putElement(f.dataset, { tag: Tags.PixelData, vr: 'OW', value: Buffer.concat(opts.frames) });
  }
  const meta = { elements: f.meta.elements.map((e) => (e.tag === Tags.MediaStorageSOPInstanceUID ? { ...e, value: ascii(opts.sop) } : e)) };
  writeChunksAtomic(path, encodePart10(meta, f.dataset, f.transferSyntax, src), src);
}

function frames(n: number): Buffer[] {
  return Array.from({ length: n }, (_, k) => {
    const b = Buffer.alloc(128 * 128 * 2);
    for (let i = 0; i < b.length; i += 2) b.writeUInt16LE((i * 31 + k * 977) & 0x0fff, i);
    return b;
  });
}

const dataDir = tempDir();
const dir = tempDir();
const ct = join(dir, 'ct.dcm');
copyFileSync(join(PYDICOM, 'CT_small.dcm'), ct);
const mf = join(dir, 'multiframe.dcm');
const original = frames(10);
variant(mf, { sop: '2.25.1001', frames: original });
const slices = [1, 2, 3, 4].map((i) => { const p = join(dir, `slice${i}.dcm`); variant(p, { sop: `2.25.200${i}`, frames: frames(1).map((f) => f.map((x) => (x + i) & 0xff)) as Buffer[] }); return p; });

const signed = runCli(['sign', dir, '--data-dir', dataDir, '--source', 'test-modality']);
const work = tempDir();
const verify = (...args: string[]) => {
  const r = runCli(['verify', ...args, '--data-dir', dataDir, '--json']);
  const lines = r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
  return { status: r.status, stderr: r.stderr, verdicts: lines.filter((l) => l.file), series: lines.filter((l) => l.series) };
};

test('signed files verify as authentic with their log index, time and signer', () => {
  assert.equal(signed.status, 0, signed.stderr);
  assert.match(signed.stdout, /recorded 6, already in the log 0, failed 0; log size 7/);
  const r = verify(dir);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.verdicts.length, 6);
  // All six share CT_small's series: the series statement covers them in position order.
  assert.equal(r.series.length, 1);
  assert.equal(r.series[0].status, 'consistent');
  assert.equal(r.series[0].slices, 6);
  for (const v of r.verdicts) {
    assert.equal(v.status, 'authentic');
    assert.equal(v.source, 'test-modality');
    assert.match(v.signer, /^custos\.local\/log-[0-9a-f]{8}$/);
  }
  // Signing again records nothing new.
  assert.match(runCli(['sign', dir, '--data-dir', dataDir]).stdout, /recorded 0, already in the log 6/);
});

test('the public log holds only commitments: no UID, name or pixel hash appears in it', () => {
  const entries = readFileSync(join(logDirOf(dataDir), 'entries'));
  assert.equal(entries.length, 7 * 32); // six instances and one series statement
  const text = entries.toString('latin1');
  assert.ok(!text.includes('1.3.6.1.4.1.5962') && !text.includes('CompressedSamples'));
});

test('one flipped pixel in one frame is reported as that frame', () => {
  const p = join(work, 'flipped.dcm');
  const edited = original.map((f) => Buffer.from(f));
  edited[3]![1000] ^= 0x01;
  variant(p, { sop: '2.25.1001', frames: edited });
  const [v] = verify(p).verdicts;
  assert.equal(v.status, 'tampered');
  assert.deepEqual(v.difference.frames, ['4']);
  assert.equal(v.difference.header, false);
  assert.match(v.reason, /frame 4 differ/);
});

test('frames 3-5 replaced are reported as a range; two swapped slices are both tampered', () => {
  const p = join(work, 'range.dcm');
  const edited = original.map((f, i) => (i >= 2 && i <= 4 ? Buffer.alloc(f.length) : f));
  variant(p, { sop: '2.25.1001', frames: edited });
  assert.deepEqual(verify(p).verdicts[0].difference.frames, ['3-5']);
  // Swap the pixel data of slices 1 and 2.
  const px = (file: string) => findElement(readDicom(new BufferSource(readFileSync(file))).dataset, Tags.PixelData)!.value!;
  const a = join(work, 'swapped1.dcm');
  const b = join(work, 'swapped2.dcm');
  variant(a, { sop: '2.25.2001', frames: [px(slices[1]!)] });
  variant(b, { sop: '2.25.2002', frames: [px(slices[0]!)] });
  const r = verify(a, b, slices[2]!, slices[3]!);
  assert.equal(r.status, 1);
  const statusOf = (file: string) => r.verdicts.find((v: { file: string }) => v.file === file).status;
  assert.deepEqual([a, b, slices[2]!, slices[3]!].map(statusOf), ['tampered', 'tampered', 'authentic', 'authentic']);
  // The series root pins the change to the two swapped positions.
  assert.equal(r.series.length, 1);
  assert.equal(r.series[0].status, 'tampered');
  assert.deepEqual(r.series[0].changedPositions, [3, 4]); // slices 1 and 2 come after CT_small and the multi-frame in UID order (same position)
});

test('a changed Patient Name is reported as a header change', () => {
  const p = join(work, 'renamed.dcm');
  copyFileSync(ct, p);
  execFileSync('dcmodify', ['-nb', '-q', '-m', '(0010,0010)=OTHER^PATIENT', p]);
  const [v] = verify(p).verdicts;
  assert.equal(v.status, 'tampered');
  assert.equal(v.difference.header, true);
  assert.deepEqual(v.difference.frames, []);
});

test('lossless re-encoding (RLE, JPEG-LS, JPEG lossless, deflate, big endian) stays authentic', () => {
  const cases: Array<[string, string[]]> = [
    ['dcmcrle', []], ['dcmcjpls', ['+el']], ['dcmcjpeg', ['+e1']], ['dcmconv', ['+td']], ['dcmconv', ['+tb']], ['dcmconv', ['+ti']],
  ];
  const outs = cases.map(([tool, args], i) => {
    const p = join(work, `lossless-${i}.dcm`);
    execFileSync(tool, [...args, mf, p], { stdio: 'pipe' });
    return p;
  });
  const r = verify(...outs);
  for (const [i, v] of r.verdicts.entries()) assert.equal(v.status, 'authentic', `${cases[i]!.join(' ')}: ${JSON.stringify(v)}`);
  assert.equal(r.status, 0);
});

test('lossy re-encoding (JPEG-LS near-lossless, JPEG extended) is tampered', () => {
  const a = join(work, 'lossy-jls.dcm');
  const b = join(work, 'lossy-jpeg.dcm');
  execFileSync('dcmcjpls', ['+en', '+md', '3', '+un', mf, a], { stdio: 'pipe' });
  execFileSync('dcmcjpeg', ['+ee', '+un', mf, b], { stdio: 'pipe' });
  for (const v of verify(a, b).verdicts) {
    assert.equal(v.status, 'tampered');
    assert.ok(v.difference.frames.length > 0); // (dcmtk also marks Image Type DERIVED, a header change)
  }
});

test('a truncated file is tampered; a file never logged is unknown (exit 3); non-DICOM is skipped', () => {
  const p = join(work, 'truncated.dcm');
  copyFileSync(ct, p);
  truncateSync(p, statSync(p).size - 1000);
  const t = verify(p);
  assert.equal(t.verdicts[0].status, 'tampered');
  assert.equal(t.status, 1);
  const u = verify(join(REPO, 'examples', 'synthetic-ct-1.dcm'));
  assert.equal(u.verdicts[0].status, 'unknown');
  assert.equal(u.status, 3);
  const n = join(work, 'notes.txt');
  writeFileSync(n, 'hello');
  assert.equal(verify(n).status, 0);
});

test('de-identified outputs recorded with --record verify as derived from their logged original', () => {
  const out = tempDir();
  const r = runCli(['deid', ct, '--out', out, '--data-dir', dataDir, '--record', '-q']);
  assert.equal(r.status, 0, r.stderr);
  const receipt = JSON.parse(readFileSync(join(out, 'custos-receipt.json'), 'utf8'));
  const v = verify(join(out, receipt.instances[0].output.path));
  assert.equal(v.status, 0);
  assert.equal(v.verdicts[0].status, 'derived');
  assert.equal(v.verdicts[0].parentIndex, 0);
  assert.equal(v.verdicts[0].index, receipt.instances[0].logIndex);
});

test('a patient proof kit verifies the study offline, without the data directory', () => {
  const study = findElement(readDicom(new BufferSource(readFileSync(ct))).dataset, Tags.StudyInstanceUID)!.value!.toString('latin1').replace(/\0$/, '');
  const kit = join(work, 'kit.json');
  assert.equal(runCli(['proof-kit', '--study', study, '--out', kit, '--data-dir', dataDir]).status, 0);
  const vkey = runCli(['log', 'key', '--data-dir', dataDir]).stdout.trim();
  const elsewhere = tempDir();
  const ok = runCli(['verify', ct, '--kit', kit, '--log-key', vkey, '--data-dir', elsewhere, '--json']);
  assert.equal(ok.status, 0, ok.stdout + ok.stderr);
  assert.equal(JSON.parse(ok.stdout.split('\n')[0]!).status, 'authentic');
  const bad = runCli(['verify', join(work, 'renamed.dcm'), '--kit', kit, '--data-dir', elsewhere, '--json']);
  assert.equal(JSON.parse(bad.stdout.split('\n')[0]!).status, 'tampered');
  // A kit whose checkpoint was signed by another key is refused.
  const other = runCli(['log', 'key', '--data-dir', tempDir()]).stdout.trim();
  assert.equal(runCli(['verify', ct, '--kit', kit, '--log-key', other, '--data-dir', elsewhere]).status, 1);
});

test('the log is served as tlog-tiles: the checkpoint verifies and the tiles reproduce its root', async () => {
  const vkey = runCli(['log', 'key', '--data-dir', dataDir]).stdout.trim();
  const verifier = parseVerifierKey(vkey);
  const app = Fastify();
  await app.register(logRoutes(() => LogStore.open(logDirOf(dataDir), verifier)));
  const cpRes = await app.inject({ method: 'GET', url: '/log/checkpoint' });
  assert.equal(cpRes.statusCode, 200);
  const cp = parseCheckpoint(openNote(cpRes.body, [verifier]).text);
  const tile = await app.inject({ method: 'GET', url: `/log/tile/0/000.p/${cp.size}` });
  assert.equal(tile.statusCode, 200);
  const t = new MerkleTree();
  for (let i = 0; i < cp.size; i++) t.appendLeafHash(tile.rawPayload.subarray(i * 32, (i + 1) * 32));
  assert.ok(t.root().equals(cp.root));
  const entries = await app.inject({ method: 'GET', url: `/log/tile/entries/000.p/${cp.size}` });
  assert.equal(entries.rawPayload.length, cp.size * 34);
  assert.equal((await app.inject({ method: 'GET', url: '/log/tile/0/001' })).statusCode, 404);
  assert.equal((await app.inject({ method: 'GET', url: '/log/tile/0/12345' })).statusCode, 400);
  await app.close();
});

test('a tlog-proof for one entry verifies offline against its checkpoint and the log key', () => {
  const vkey = runCli(['log', 'key', '--data-dir', dataDir]).stdout.trim();
  const r = runCli(['log', 'proof', '--index', '2', '--data-dir', dataDir]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^c2sp\.org\/tlog-proof@v1\nextra [A-Za-z0-9+/=]+\nindex 2\n/);
  const p = parseTlogProof(r.stdout);
  const cp = parseCheckpoint(openNote(p.checkpoint, [parseVerifierKey(vkey)]).text);
  verifyInclusion(p.index, cp.size, leafHash(p.extra!), p.proof, cp.root);
  const tampered = Buffer.from(p.extra!);
  tampered[0] ^= 1;
  assert.throws(() => verifyInclusion(p.index, cp.size, leafHash(tampered), p.proof, cp.root), { code: 'LOG_ROOT_MISMATCH' });
  assert.equal(runCli(['log', 'proof', '--index', '999', '--data-dir', dataDir]).status, 2);
});

test('a rolled-back log fails the consistency check against the checkpoint seen before', () => {
  const dd = tempDir();
  const files = tempDir();
  copyFileSync(ct, join(files, 'a.dcm'));
  runCli(['sign', files, '--data-dir', dd]);
  const snapshot = tempDir();
  cpSync(logDirOf(dd), snapshot, { recursive: true });
  copyFileSync(mf, join(files, 'b.dcm'));
  runCli(['sign', files, '--data-dir', dd]);
  assert.equal(runCli(['verify', files, '--data-dir', dd]).status, 0); // remembers size 2
  for (const name of ['entries', 'statements.jsonl', 'checkpoint']) copyFileSync(join(snapshot, name), join(logDirOf(dd), name));
  const r = runCli(['verify', join(files, 'a.dcm'), '--data-dir', dd]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /LOG_ROLLBACK/);
});

test('an entry forged into the log storage, or an edited entry, stops the log', () => {
  const dd = tempDir();
  const files = tempDir();
  copyFileSync(ct, join(files, 'a.dcm'));
  runCli(['sign', files, '--data-dir', dd]);
  const entries = join(logDirOf(dd), 'entries');
  const before = readFileSync(entries);
  appendFileSync(entries, Buffer.alloc(32, 0x41));
  const forged = runCli(['verify', files, '--data-dir', dd]);
  assert.equal(forged.status, 1);
  assert.match(forged.stderr, /LOG_CORRUPT: entry \d+ is not backed by a signed statement/);
  assert.match(runCli(['sign', files, '--data-dir', dd]).stderr, /LOG_CORRUPT/);
  const edited = Buffer.from(before);
  edited[5] ^= 1;
  writeFileSync(entries, edited);
  assert.match(runCli(['verify', files, '--data-dir', dd]).stderr, /LOG_CORRUPT: the entries do not reproduce the signed root/);
});

test('killed during a burst of appends, the log reopens verified and keeps every acknowledged entry', async () => {
  const dd = tempDir();
  const files = tempDir();
  for (let i = 0; i < 700; i++) variant(join(files, `f${String(i).padStart(4, '0')}.dcm`), { sop: `2.25.9${i}` });
  const child = spawn(process.execPath, [join(REPO, 'bin', 'custos.js'), 'sign', files, '--data-dir', dd], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise((r) => child.once('exit', r));
  let acked = 0;
  let out = '';
  await new Promise<void>((resolveKill) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const sizes = [...out.matchAll(/^checkpoint (\d+):/gm)].map((m) => Number(m[1]));
      if (sizes.length) acked = Math.max(...sizes);
      if (acked >= 256 && !child.killed) { child.kill('SIGKILL'); resolveKill(); }
    });
    void exited.then(() => resolveKill());
  });
  await exited;
  assert.ok(acked >= 256, `no batch was acknowledged before the kill (${out})`);
  const vkey = runCli(['log', 'key', '--data-dir', dd]).stdout.trim();
  const log = LogStore.open(logDirOf(dd), parseVerifierKey(vkey));
  assert.ok(log.checkpoint.body.size >= acked);
  for (let i = 0; i < acked; i++) assert.ok(log.record(i)?.signed, `acknowledged entry ${i} lost`);
  // Finishing the run records the rest, and everything verifies.
  const rest = runCli(['sign', files, '--data-dir', dd]);
  assert.equal(rest.status, 0, rest.stderr);
  const all = runCli(['verify', files, '--data-dir', dd]);
  assert.equal(all.status, 0, all.stdout.split('\n').filter((l) => !l.startsWith('authentic')).join('\n'));
  rmSync(files, { recursive: true, force: true });
});
