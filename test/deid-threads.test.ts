/** When `custos deid` shares a run with worker threads (pure estimate; the outputs are the same either way: cli.int.test.ts). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { staysOnMainThread } from '../src/cli/deid-command.ts';

test('a run stays on the main thread while its estimated work is shorter than a worker is worth', () => {
  const onMain = staysOnMainThread;
  assert.ok(onMain(500, 130_000), '500 MR slices of 130 KB (measured: one thread faster)');
  assert.ok(onMain(500, 220_000), '500 JPEG-LS CT slices of 220 KB (measured: one thread faster)');
  assert.ok(onMain(600, 530_000), '600 CT slices (measured: one thread faster)');
  assert.ok(!onMain(2000, 530_000), '2,000 CT slices (measured: two threads 1.3× faster)');
  assert.ok(!onMain(5000, 2_000), 'many tiny files: per-file work alone');
});
