/**
 * The long fuzz run: every target of test/fuzz/targets.ts for `cases` cases in all (default
 * 1,000,000, shared equally), from a random seed (or the one given), printing per target the cases,
 * the time, the peak memory and any counterexample with its seed and path to replay it.
 * Usage: node scripts/fuzz.ts [cases=1000000] [seed]
 */
import fc from 'fast-check';
import { TARGETS as PARSERS } from '../test/fuzz/targets.ts';
import { NETWORK_TARGETS, closeNetworkTargets, startNetworkTargets } from '../test/fuzz/network-targets.ts';

const TARGETS = [...PARSERS, ...NETWORK_TARGETS];

const total = Number(process.argv[2] ?? 1_000_000);
const seed = Number(process.argv[3] ?? Math.floor(Math.random() * 2 ** 31));
const perTarget = Math.ceil(total / TARGETS.length);
console.log(`fuzz: ${TARGETS.length} targets × ${perTarget} cases, seed ${seed}, Node ${process.version}`);
let failed = 0;
await startNetworkTargets();
for (const t of TARGETS) {
  const started = Date.now();
  const r = await fc.check(t.property as fc.IAsyncProperty<[unknown]>, { seed, numRuns: perTarget, timeout: 5_000, markInterruptAsFailure: true });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  const peak = (process.resourceUsage().maxRSS / 1024).toFixed(0);
  if (r.failed) {
    failed++;
    console.log(`FAIL  ${t.name}: after ${r.numRuns} cases (${seconds} s); seed ${r.seed}, path ${r.counterexamplePath}: ${String(r.errorInstance).slice(0, 500)}`);
  } else {
    console.log(`ok    ${t.name}: ${r.numRuns} cases in ${seconds} s, peak RSS ${peak} MiB`);
  }
}
await closeNetworkTargets();
process.exitCode = failed ? 1 : 0;
