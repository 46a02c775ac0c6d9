/**
 * A bounded fuzz run with a fixed seed (CI): every parser entry point in test/fuzz/targets.ts, a
 * few thousand cases each. The long run (scripts/fuzz.ts) and its result are in docs/security.md.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { SEEDS, TARGETS } from './fuzz/targets.ts';
import { NETWORK_TARGETS, closeNetworkTargets, startNetworkTargets } from './fuzz/network-targets.ts';

const RUNS = Number(process.env.CUSTOS_FUZZ_RUNS ?? 5000);

test('the fuzz seeds are real files of every family', () => { assert.ok(SEEDS.length >= 12, `${SEEDS.length} seed files`); });

// A promise rejected with no one to catch it would stop `custos serve` (Node's default): a failure here.
const stray: string[] = [];
process.on('unhandledRejection', (e) => { stray.push(String(e)); });
before(() => startNetworkTargets());
after(() => closeNetworkTargets());

for (const t of [...TARGETS, ...NETWORK_TARGETS]) {
  // Network cases cost a connection each: fewer of them in the bounded run.
  const runs = NETWORK_TARGETS.includes(t) ? Math.min(RUNS, 2000) : RUNS;
  test(`fuzz: ${t.name} — a valid result or a coded error, never a crash or a hang`, { timeout: 300_000 }, async () => {
    const started = Date.now();
    await fc.assert(t.property as fc.IAsyncProperty<[unknown]>, { seed: 20261202, numRuns: runs, timeout: 5_000, markInterruptAsFailure: true });
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(stray, [], 'no promise rejected unhandled');
    assert.ok(Date.now() - started < 240_000);
  });
}
