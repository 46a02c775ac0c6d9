/**
 * Signed de-identification receipts: custos deid signs its receipt with the deployment's log key
 * (and with --record puts its digest in the log); custos verify-receipt checks it offline and
 * catches any change, or another deployment's key.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO, runCli, tempDir } from './helpers.ts';

test('custos deid signs its receipt; custos verify-receipt checks it, finds it in the log with --record, and refuses a changed one', () => {
  const dir = tempDir();
  const dataDir = join(dir, 'data');
  const input = join(REPO, 'examples', 'synthetic-ct-1.dcm');
  let r = runCli(['deid', input, '--out', join(dir, 'out'), '--data-dir', dataDir, '-q']);
  assert.equal(r.status, 0, r.stderr);
  const receiptPath = join(dir, 'out', 'custos-receipt.json');
  const receipt = JSON.parse(readFileSync(receiptPath, 'utf8')) as { signature: { algorithm: string; verifierKey: string }; summary: { released: number } };
  assert.equal(receipt.signature.algorithm, 'Ed25519');
  r = runCli(['verify-receipt', receiptPath, '--data-dir', dataDir]);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^valid: signed by custos\.local\/log-[0-9a-f]+\n/);

  // Offline, with only the deployment's verifier key.
  const vkey = runCli(['log', 'key', '--data-dir', dataDir]).stdout.trim().split('\n').pop()!;
  r = runCli(['verify-receipt', receiptPath, '--vkey', vkey, '--data-dir', join(dir, 'elsewhere')]);
  assert.equal(r.status, 0, r.stdout + r.stderr);

  // Changed after signing.
  const changed = join(dir, 'changed.json');
  writeFileSync(changed, JSON.stringify({ ...receipt, summary: { ...receipt.summary, released: 7 } }));
  r = runCli(['verify-receipt', changed, '--data-dir', dataDir]);
  assert.equal(r.status, 1);
  assert.match(r.stdout, /INVALID: the signature does not verify/);

  // Signed by another deployment's key: not trusted here.
  const other = join(dir, 'other');
  assert.equal(runCli(['deid', input, '--out', join(dir, 'out2'), '--data-dir', other, '-q']).status, 0);
  r = runCli(['verify-receipt', join(dir, 'out2', 'custos-receipt.json'), '--data-dir', dataDir]);
  assert.equal(r.status, 1);
  assert.match(r.stdout, /signed by another key/);

  // Recorded in the log.
  assert.equal(runCli(['deid', input, '--out', join(dir, 'out3'), '--data-dir', dataDir, '--record', '-q']).status, 0);
  r = runCli(['verify-receipt', join(dir, 'out3', 'custos-receipt.json'), '--data-dir', dataDir]);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /recorded in the log at entry \d+/);

  r = runCli(['verify-receipt', receiptPath, '--data-dir', join(dir, 'nowhere')]);
  assert.equal(r.status, 2);
});
