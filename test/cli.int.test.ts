import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, readFileSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { PYDICOM, dcmdump, filesUnder, plant, runCli, tempDir, REPO } from './helpers.ts';
import { PLANTED_TOKENS, SAMPLES, makePlanted } from './fixtures.ts';

const sha = (p: string): string => createHash('sha256').update(readFileSync(p)).digest('hex');

test('help and usage errors exit 0 and 2 with a clear message', () => {
  assert.equal(runCli(['--help']).status, 0);
  const h = runCli(['deid', '--help']);
  assert.equal(h.status, 0);
  assert.match(h.stdout, /--option <name>/);
  const none = runCli(['deid', '--out', tempDir()]);
  assert.equal(none.status, 2);
  assert.match(none.stderr, /no input given/);
  const noOut = runCli(['deid', PYDICOM]);
  assert.equal(noOut.status, 2);
  assert.match(noOut.stderr, /--out <dir> is required/);
  const bad = runCli(['deid', join(PYDICOM, 'CT_small.dcm'), '--out', tempDir(), '--option', 'retain-everything']);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /unknown de-identification option\(s\): retain-everything/);
  // With --jobs the worker threads are started before the options are checked: they must not keep
  // the process alive nor leave an output folder behind.
  const out = join(tempDir(), 'out');
  const badWithWorkers = runCli(['deid', join(PYDICOM, 'CT_small.dcm'), join(PYDICOM, 'MR_small.dcm'), '--out', out, '--option', 'retain-everything', '--jobs', '2']);
  assert.equal(badWithWorkers.status, 2);
  assert.match(badWithWorkers.stderr, /unknown de-identification option\(s\): retain-everything/);
  assert.equal(existsSync(out), false);
  assert.equal(runCli(['frobnicate']).status, 2);
  assert.equal(runCli(['deid', '/nonexistent/input', '--out', tempDir()]).status, 2);
});

test('a mixed folder: released, held back, skipped and failed inputs, one line each, a receipt without PHI', () => {
  const inDir = tempDir();
  makePlanted(SAMPLES[0]!, inDir);
  copyFileSync(join(PYDICOM, 'SC_rgb_rle.dcm'), join(inDir, 'capture.dcm'));
  copyFileSync(join(PYDICOM, 'MR_truncated.dcm'), join(inDir, 'truncated.dcm'));
  writeFileSync(join(inDir, 'notes.txt'), 'not DICOM at all\n');
  mkdirSync(join(inDir, 'nested'));
  copyFileSync(join(PYDICOM, 'MR_small.dcm'), join(inDir, 'nested', 'mr.dcm'));
  const out = tempDir();
  const dataDir = tempDir();
  const r = runCli(['deid', inDir, '--out', out, '--data-dir', dataDir]);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stdout, /released 2, held back 1, skipped 1, failed 1 of 5 input\(s\)/);
  const lines = r.stderr.trim().split('\n').filter((l) => !l.startsWith('custos: created'));
  assert.equal(lines.length, 3);
  assert.ok(lines.some((l) => /^failed: .*truncated\.dcm: DICOM_TRUNCATED: /.test(l)));
  assert.ok(lines.some((l) => /^held back: .*capture\.dcm: BURNED_IN_RISK: /.test(l)));
  assert.ok(lines.some((l) => /^skipped: .*notes\.txt: DICOM_NOT_DICOM: /.test(l)));
  // Key created once, owner-only.
  const keyFile = join(dataDir, 'keys', 'deid.key');
  assert.equal(statSync(keyFile).mode & 0o777, 0o600);
  // Receipt: counts, hashes that match the files, no PHI, no key.
  const receiptText = readFileSync(join(out, 'custos-receipt.json'), 'utf8');
  const receipt = JSON.parse(receiptText);
  assert.equal(receipt.kind, 'custos.deid.receipt/v1');
  assert.equal(receipt.profile.edition, '2024b');
  assert.deepEqual(receipt.summary, { ...receipt.summary, inputs: 5, released: 2, heldBack: 1, skipped: 1, failed: 1 });
  for (const token of PLANTED_TOKENS) assert.ok(!receiptText.toUpperCase().includes(token.toUpperCase()), `${token} in receipt`);
  assert.ok(!receiptText.includes(readFileSync(keyFile, 'utf8').trim()));
  const released = receipt.instances.filter((i: { status: string }) => i.status === 'released');
  for (const i of released) {
    assert.equal(sha(join(out, i.output.path)), i.output.sha256);
    assert.ok(i.actions.X > 0 && i.actions.U > 0);
  }
  const held = receipt.instances.find((i: { status: string }) => i.status === 'held');
  assert.equal(held.reason.code, 'BURNED_IN_RISK');
  const dcms = filesUnder(out).filter((f) => f.endsWith('.dcm'));
  assert.equal(dcms.length, 2);
  // Inputs untouched.
  assert.ok(existsSync(join(inDir, 'truncated.dcm')));
});

test('exit 0 when every input is released or held back; a recipient key gives other pseudonyms', () => {
  const inDir = tempDir();
  makePlanted(SAMPLES[0]!, inDir);
  const dataDir = tempDir();
  const a = tempDir();
  const b = tempDir();
  assert.equal(runCli(['deid', inDir, '--out', a, '--data-dir', dataDir, '-q']).status, 0);
  assert.equal(runCli(['deid', inDir, '--out', b, '--data-dir', dataDir, '-q', '--recipient', 'vendor-a']).status, 0);
  const ra = JSON.parse(readFileSync(join(a, 'custos-receipt.json'), 'utf8'));
  const rb = JSON.parse(readFileSync(join(b, 'custos-receipt.json'), 'utf8'));
  assert.notEqual(ra.keyId, rb.keyId);
  assert.equal(rb.recipient, 'vendor-a');
  assert.notEqual(ra.instances[0].output.path, rb.instances[0].output.path);
  // CUSTOS_DATA_DIR is honoured.
  const c = tempDir();
  assert.equal(runCli(['deid', inDir, '--out', c, '-q'], { env: { CUSTOS_DATA_DIR: dataDir } }).status, 0);
  assert.equal(JSON.parse(readFileSync(join(c, 'custos-receipt.json'), 'utf8')).keyId, ra.keyId);
  // The output folder may not be an input.
  const same = runCli(['deid', inDir, '--out', inDir, '--data-dir', dataDir]);
  assert.equal(same.status, 2);
});

function series(n: number): string {
  const dir = tempDir();
  const base = plant(join(PYDICOM, 'CT_small.dcm'), dir, 'base.dcm', { '(0010,0010)': 'DOE^JOHN', '(0010,0020)': 'PID4711X' });
  for (let i = 0; i < n; i++) {
    plant(base, dir, `slice-${String(i).padStart(4, '0')}.dcm`, { '(0008,0018)': `1.2.826.0.1.3680043.9.7433.99.${i + 1}`, '(0020,0013)': String(i + 1) });
  }
  return dir;
}

test('worker threads give the same outputs as one thread', () => {
  const inDir = series(70);
  const dataDir = tempDir();
  const one = tempDir();
  const many = tempDir();
  assert.equal(runCli(['deid', inDir, '--out', one, '--data-dir', dataDir, '--jobs', '1', '-q']).status, 0);
  assert.equal(runCli(['deid', inDir, '--out', many, '--data-dir', dataDir, '--jobs', '2', '-q']).status, 0);
  const r1 = readFileSync(join(one, 'custos-receipt.json'), 'utf8');
  const r2 = readFileSync(join(many, 'custos-receipt.json'), 'utf8');
  assert.equal(r1, r2);
  assert.equal(JSON.parse(r1).summary.released, 71);
  const f1 = filesUnder(one).filter((f) => f.endsWith('.dcm'));
  assert.equal(f1.length, 71);
  for (const f of f1) assert.equal(sha(f), sha(f.replace(one, many)));
});

test('a run killed mid-way leaves only complete files; the next run cleans up and finishes', async () => {
  const inDir = series(150);
  const dataDir = tempDir();
  const out = tempDir();
  const child = spawn(process.execPath, [join(REPO, 'bin', 'custos.js'), 'deid', inDir, '--out', out, '--data-dir', dataDir, '--jobs', '2', '-q'], { stdio: 'ignore' });
  const exited = new Promise((r) => child.once('exit', r)); // listen before anything can make it exit
  await new Promise((r) => setTimeout(r, 900));
  child.kill('SIGKILL');
  await exited;
  for (const f of filesUnder(out).filter((p) => p.endsWith('.dcm'))) assert.doesNotThrow(() => dcmdump(f), `partial file ${f}`);
  const rerun = runCli(['deid', inDir, '--out', out, '--data-dir', dataDir, '-q']);
  assert.equal(rerun.status, 0, rerun.stderr);
  assert.equal(filesUnder(out).filter((p) => p.endsWith('.custos-tmp')).length, 0);
  assert.ok(!existsSync(join(out, '.custos-tmp')), 'the temporary folders of both runs are gone');
  assert.equal(filesUnder(out).filter((p) => p.endsWith('.dcm')).length, 151);
});
