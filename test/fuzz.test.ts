/**
 * A bounded fuzz run with a fixed seed (CI): every parser entry point in test/fuzz/targets.ts, a
 * few thousand cases each. The long run (scripts/fuzz.ts) and its result are in docs/security.md.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { SEEDS, TARGETS } from './fuzz/targets.ts';

const RUNS = Number(process.env.CUSTOS_FUZZ_RUNS ?? 5000);

test('the fuzz seeds are real files of every family', () => { assert.ok(SEEDS.length >= 12, `${SEEDS.length} seed files`); });

for (const t of TARGETS) {
  test(`fuzz: ${t.name} — a valid result or a coded error, never a crash or a hang`, { timeout: 300_000 }, async () => {
    const started = Date.now();
    await fc.assert(t.property as fc.IAsyncProperty<[unknown]>, { seed: 20261202, numRuns: RUNS, timeout: 5_000, markInterruptAsFailure: true });
    assert.ok(Date.now() - started < 240_000);
  });
}
