/**
 * DICOM Digital Signatures (PS3.15 Annex C) against an independent implementation, dcmtk's dcmsign:
 * dcmsign verifies what Custos signs and Custos verifies what dcmsign signs, on uncompressed and
 * compressed instances; a changed signed attribute fails in both. Synthetic and pydicom test data.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { PYDICOM, REPO, runCli, tempDir } from './helpers.ts';

const work = tempDir('custos-dsig-');
const dataDir = join(work, 'data');
const CASES: Array<[string, string]> = [
  ['uncompressed (Explicit VR Little Endian)', join(REPO, 'examples', 'synthetic-ct-1.dcm')],
  ['uncompressed (Implicit VR Little Endian, written explicit)', join(PYDICOM, 'rtplan.dcm')],
  ['JPEG-LS lossless', join(PYDICOM, 'MR_small_jpeg_ls_lossless.dcm')],
  ['RLE, 2 frames', join(PYDICOM, 'SC_rgb_rle_2frame.dcm')],
  ['JPEG 2000', join(PYDICOM, 'JPEG2000.dcm')],
];

const dcmsign = (args: string[]) => spawnSync('dcmsign', args, { encoding: 'utf8' });
const modify = (file: string, what: string): void => { assert.equal(spawnSync('dcmodify', ['-nb', '-i', what, file]).status, 0); };
// An openssl CA and the signer certificate it issued, for dcmsign's signatures.
const ca = join(work, 'ca');
function opensslCa(): { key: string; cert: string; caCert: string } {
  const run = (args: string[]) => { const r = spawnSync('openssl', args, { encoding: 'utf8' }); assert.equal(r.status, 0, r.stderr); };
  spawnSync('mkdir', ['-p', ca]);
  run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(ca, 'ca.key'), '-out', join(ca, 'ca.pem'), '-days', '30', '-subj', '/CN=Test Hospital CA']);
  run(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(ca, 'signer.key'), '-out', join(ca, 'signer.csr'), '-subj', '/CN=Test Radiology Signer']);
  run(['x509', '-req', '-in', join(ca, 'signer.csr'), '-CA', join(ca, 'ca.pem'), '-CAkey', join(ca, 'ca.key'), '-CAcreateserial', '-out', join(ca, 'signer.pem'), '-days', '30']);
  return { key: join(ca, 'signer.key'), cert: join(ca, 'signer.pem'), caCert: join(ca, 'ca.pem') };
}

test('custos dicom-sign: dcmsign verifies each signature (self-signed certificate trusted), and refuses it once a signed attribute changed', () => {
  for (const [label, input] of CASES) {
    const out = join(work, 'custos', label.replace(/\W+/g, '-'));
    const r = runCli(['dicom-sign', input, '--out', out, '--data-dir', dataDir]);
    assert.equal(r.status, 0, `${label}: ${r.stdout}${r.stderr}`);
    const signed = join(out, input.split('/').pop()!);
    const cert = join(dataDir, 'keys', 'dicom-signing-cert.pem');
    assert.ok(existsSync(cert));
    const ok = dcmsign(['--verify', '+cf', cert, signed]);
    assert.equal(ok.status, 0, `${label}: dcmsign: ${ok.stdout}${ok.stderr}`);
    assert.match(ok.stdout + ok.stderr, /Signature Verification : OK/);
    const changed = join(work, `changed-${label.replace(/\W+/g, '-')}.dcm`);
    copyFileSync(signed, changed);
    modify(changed, '(0020,000D)=2.25.4711'); // an attribute that was signed (one added later is not covered)
    const bad = dcmsign(['--verify', '+cf', cert, changed]);
    assert.notEqual(bad.status, 0, `${label}: dcmsign must refuse`);
    assert.match(bad.stdout + bad.stderr, /signature is invalid|verification failed/);
    // And Custos's own verify says the same (beside the log's verdict: these were never logged).
    const v = runCli(['verify', signed, '--json', '--data-dir', dataDir]);
    const line = JSON.parse(v.stdout.trim().split('\n')[0]!) as { signatures: Array<{ valid: boolean; trusted?: boolean }> };
    assert.deepEqual(line.signatures.map((s) => [s.valid, s.trusted]), [[true, true]], label);
    const vb = runCli(['verify', changed, '--json', '--data-dir', dataDir]);
    assert.equal(vb.status, 1);
    assert.equal((JSON.parse(vb.stdout.trim().split('\n')[0]!) as { signatures: Array<{ valid: boolean; reason: string }> }).signatures[0]!.valid, false);
  }
});

test('dcmsign --sign: Custos verifies each signature (chained to the hospital CA given with --trust), and refuses a changed attribute', () => {
  const { key, cert, caCert } = opensslCa();
  for (const [label, input] of CASES.filter(([l]) => !l.includes('Implicit'))) {
    const signed = join(work, `dcmsign-${label.replace(/\W+/g, '-')}.dcm`);
    const s = dcmsign(['--sign', key, cert, '--mac-sha256', '--profile-base', input, signed]);
    assert.equal(s.status, 0, `${label}: ${s.stdout}${s.stderr}`);
    const v = runCli(['verify', signed, '--trust', caCert, '--data-dir', join(work, 'empty')]);
    assert.match(v.stdout, /DICOM signature 1: valid, CN=Test Radiology Signer \(SHA256 over \d+ attributes, \d{14}[^)]*certificate trusted\)/, `${label}: ${v.stdout}${v.stderr}`);
    const untrusted = runCli(['verify', signed, '--data-dir', join(work, 'empty')]);
    assert.doesNotMatch(untrusted.stdout, /certificate trusted/);
    const changed = `${signed}.changed.dcm`;
    copyFileSync(signed, changed);
    modify(changed, '(0010,0010)=Changed^After');
    const vb = runCli(['verify', changed, '--trust', caCert, '--data-dir', join(work, 'empty')]);
    assert.equal(vb.status, 1, label);
    assert.match(vb.stdout, /DICOM signature 1: INVALID.*the signature does not match: a signed attribute was changed/);
  }
});

test('a signed copy of a logged original is still authentic in the log, and its signature is reported beside', () => {
  const input = join(REPO, 'examples', 'synthetic-ct-2.dcm');
  const dir = join(work, 'logged');
  assert.equal(runCli(['sign', input, '--data-dir', dir]).status, 0);
  assert.equal(runCli(['dicom-sign', input, '--out', join(work, 'logged-out'), '--data-dir', dir]).status, 0);
  const v = runCli(['verify', join(work, 'logged-out', 'synthetic-ct-2.dcm'), '--data-dir', dir]);
  assert.equal(v.status, 0, v.stdout + v.stderr);
  assert.match(v.stdout, /^authentic .*\n\s+DICOM signature 1: valid, .*certificate trusted/);
  assert.ok(readFileSync(join(dir, 'keys', 'dicom-signing-key.pem'), 'utf8').startsWith('-----BEGIN PRIVATE KEY-----'));
});

test('dicom-sign refuses what it cannot sign with a specific code, and keeps going', () => {
  const r = runCli(['dicom-sign', join(PYDICOM, 'MR_small_bigendian.dcm'), join(REPO, 'examples', 'synthetic-ct-1.dcm'), '--out', join(work, 'mixed'), '--data-dir', dataDir]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /DICOM_SIGNATURE_UNSUPPORTED/);
  assert.match(r.stdout, /signed 1, failed 1/);
});
