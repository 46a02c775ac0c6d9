/** Temporaries a killed run left behind are removed by the next run: files and the per-thread folders under .custos-tmp. */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { removeStaleTemporaries } from '../src/dicom/file-io.ts';
import { tempDir } from './helpers.ts';

test('the temporary folders and files of a process that is gone are removed; a live process\'s are kept', () => {
  const out = tempDir();
  const dead = 2 ** 22 + 12345; // above pid_max: no such process
  mkdirSync(join(out, '.custos-tmp', `${dead}-0`), { recursive: true });
  mkdirSync(join(out, '.custos-tmp', `${dead}-1`), { recursive: true });
  writeFileSync(join(out, '.custos-tmp', `${dead}-0`, `.x.dcm.${dead}.abc.custos-tmp`), 'partial');
  mkdirSync(join(out, 'series'), { recursive: true });
  writeFileSync(join(out, 'series', `.y.dcm.${dead}.def.custos-tmp`), 'partial');
  writeFileSync(join(out, 'series', 'kept.dcm'), 'complete');
  assert.equal(removeStaleTemporaries(out), 2);
  assert.ok(!existsSync(join(out, '.custos-tmp')), 'the folders of the gone process, and the folder holding them');
  assert.ok(existsSync(join(out, 'series', 'kept.dcm')));
  mkdirSync(join(out, '.custos-tmp', `${process.pid}-0`), { recursive: true });
  removeStaleTemporaries(out);
  assert.ok(existsSync(join(out, '.custos-tmp', `${process.pid}-0`)), 'a live process keeps its folder');
});
