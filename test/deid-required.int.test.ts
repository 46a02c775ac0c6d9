/** The batch tool refuses what the gateway refuses: an instance without the UIDs that place it is not released. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO, runCli, tempDir } from './helpers.ts';

test('custos deid does not release an instance without a Study Instance UID (DICOM_MISSING_ATTRIBUTE), as the gateway does not', () => {
  const dir = tempDir();
  const file = join(dir, 'no-study.dcm');
  copyFileSync(join(REPO, 'examples', 'synthetic-ct-1.dcm'), file);
  execFileSync('dcmodify', ['-nb', '-e', '(0020,000D)', file]);
  const out = join(dir, 'out');
  const r = runCli(['deid', file, '--out', out]);
  assert.equal(r.status, 1, r.stdout);
  assert.match(r.stderr, /failed: .*DICOM_MISSING_ATTRIBUTE: Study Instance UID \(0020,000D\) is missing or empty/);
  const receipt = JSON.parse(readFileSync(join(out, 'custos-receipt.json'), 'utf8')) as { summary: { released: number; failed: number } };
  assert.deepEqual({ released: receipt.summary.released, failed: receipt.summary.failed }, { released: 0, failed: 1 });
});
