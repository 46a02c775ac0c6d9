/**
 * PACS sweep rate over DICOMweb against Orthanc (issue 26): metadata only and full, each beside the
 * archive's own floor measured in the same run (QIDO-RS listing alone; WADO-RS fetch of every instance).
 * Writes the "sweep" section of docs/benchmarks.md. Usage: node bench/sweep-rate.ts [N=500]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateCT } from './generate-ct.ts';
import { machine, writeSection } from './report.ts';

const N = Number(process.argv[2] ?? 500);
const RUNS = 3;
const corpus = join('bench', 'corpus', `sweep-ct-${N}`);
if (!existsSync(corpus) || readdirSync(corpus).length < N) generateCT(N, corpus, 125, '2.25.1414213562');
const mb = readdirSync(corpus).reduce((n, f) => n + statSync(join(corpus, f)).size, 0) / 1e6;

interface Run { n: number; peerList: number; peerFetch: number; metadata: number; full: number; counts: Record<string, Record<string, number>>; rssMB: number }
const runs: Run[] = [];
for (let i = 0; i < RUNS; i++) {
  const work = mkdtempSync(join(tmpdir(), 'custos-sweepbench-'));
  const r = spawnSync('unshare', ['-n', 'sh', '-c', 'ip link set lo up && exec "$0" bench/peers/sweep-run.ts "$@"', process.execPath, work, corpus], { encoding: 'utf8', maxBuffer: 64 << 20 });
  rmSync(work, { recursive: true, force: true });
  if (r.status !== 0) throw new Error(`sweep run failed:\n${r.stderr.slice(-3000)}`);
  runs.push(JSON.parse(r.stdout.trim().split('\n').pop()!) as Run);
  console.error(`run ${i + 1}: ${JSON.stringify(runs.at(-1))}`);
}
const med = (f: (r: Run) => number): number => { const v = runs.map(f).sort((a, b) => a - b); return v[Math.floor(v.length / 2)]!; };
const row = (label: string, f: (r: Run) => number, bytes: boolean): string => {
  const s = med(f);
  return `| ${label} | ${s.toFixed(2)} s | ${(N / s).toFixed(0)}/s${bytes ? ` (${(mb / s).toFixed(0)} MB/s)` : ''} |`;
};
const full = runs[0]!.counts.full!;
writeSection('sweep', `## PACS sweep over DICOMweb against Orthanc (issue 26)

bench/sweep-rate.ts — ${machine()}. ${N} CT slices (512×512×16-bit, ${mb.toFixed(0)} MB, 4 studies) recorded
with \`custos sign\` and stored in Orthanc ${'1.10'} with its DICOMweb plugin, on loopback in a private
network namespace; median of ${RUNS} runs, each a fresh Orthanc.

| what | wall time | instances/s |
|---|---|---|
${row('peer: QIDO-RS listing of every study\'s instances, nothing else', (r) => r.peerList, false)}
${row('Custos sweep, metadata only (listing, judged against the log)', (r) => r.metadata, false)}
${row('peer: WADO-RS fetch of every instance, bytes discarded', (r) => r.peerFetch, true)}
${row('Custos sweep, full (every instance fetched, decoded frames hashed, proven against the checkpoint)', (r) => r.full, true)}

The full sweep found ${full.authentic} authentic of ${N} (nothing else). Peak RSS of the sweeping process
${Math.max(...runs.map((r) => r.rssMB)).toFixed(0)} MB: instances are fetched and checked one at a time.`);
