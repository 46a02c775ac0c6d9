/** Input expansion for the batch commands: folders, links, hidden files, the output folder, duplicates. */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { collectInputs } from '../src/cli/walk.ts';

test('inputs: folders recursively in name order, by real path, once each; hidden entries and the output folder left out', (t) => {
  const root = realpathSync(mkdtempSync(join(tmpdir(), 'custos-walk-')));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const data = join(root, 'data');
  mkdirSync(join(data, 'b', 'c'), { recursive: true });
  mkdirSync(join(data, '.hidden'));
  mkdirSync(join(data, 'out'));
  for (const f of ['a.dcm', 'b/z.dcm', 'b/c/y.dcm', '.hidden/x.dcm', '.dot.dcm', 'out/o.dcm']) writeFileSync(join(data, f), 'x');
  writeFileSync(join(root, 'elsewhere.dcm'), 'x');
  symlinkSync(join(root, 'elsewhere.dcm'), join(data, 'link.dcm')); // a link to a file outside: followed
  symlinkSync(join(data, 'b'), join(data, 'b-again')); // a link to a folder already walked: no duplicates
  symlinkSync(join(root, 'data'), join(root, 'data-link'));
  symlinkSync(data, join(data, 'b', 'c', 'loop')); // a link back to an ancestor: walked once

  const got = collectInputs([join(root, 'data-link'), join(data, 'a.dcm')], join(data, 'out'));
  assert.deepEqual(got, [join(data, 'a.dcm'), join(data, 'b', 'c', 'y.dcm'), join(data, 'b', 'z.dcm'), join(root, 'elsewhere.dcm')].sort());
});

test('inputs: a missing input, or a broken link inside a folder, is a usage error naming it', (t) => {
  const root = realpathSync(mkdtempSync(join(tmpdir(), 'custos-walk-')));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  assert.throws(() => collectInputs([join(root, 'nope')]), (e: Error & { code?: string }) => e.code === 'USAGE' && e.message.includes('nope'));
  symlinkSync(join(root, 'gone.dcm'), join(root, 'broken.dcm'));
  assert.throws(() => collectInputs([root]), (e: Error & { code?: string }) => e.code === 'USAGE' && e.message.includes('broken.dcm'));
});
