/**
 * Batch de-identification throughput, Custos against peers measured in the same run on the same corpus:
 * gdcmanon (GDCM, C++, Basic Profile) and a plain copy of the bytes (the I/O floor).
 * Writes docs/benchmarks.md. Usage: npm run bench [-- N]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { machine, writeSection } from './report.ts';
import { join } from 'node:path';
import { generateCT } from './generate-ct.ts';
import { type Result, gdcmanonCertificate, measureAll, release } from './run-tools.ts';

const N = Number(process.argv[2] ?? 2000); // issue 6: 2,000 CT slices
const RUNS = 7;
const corpus = join('bench', 'corpus', `ct-${N}`);
if (!existsSync(corpus) || readdirSync(corpus).length < N) generateCT(N, corpus);
const bytes = readdirSync(corpus).reduce((n, f) => n + statSync(join(corpus, f)).size, 0);
const work = mkdtempSync(join(tmpdir(), 'custos-bench-'));
const cert = gdcmanonCertificate(work);

/** Orthanc's REST anonymization, inside a private network namespace (it listens on every interface). */
function measureOrthanc(): Result | undefined {
  const samples: Array<{ s: number; rss: number }> = [];
  for (let i = 0; i < RUNS; i++) {
    const out = join(work, `orthanc-out-${i}`);
    const dir = join(work, `orthanc-${i}`);
    const r = spawnSync('unshare', ['-n', 'bash', '-c', `ip link set lo up && ${JSON.stringify(node)} bench/peers/orthanc-anonymize.ts ${corpus} ${out} ${dir}`], { encoding: 'utf8' });
    if (r.status !== 0) { console.error(`Orthanc peer skipped: ${r.stderr.trim().split('\n').pop()}`); return undefined; }
    const j = JSON.parse(r.stdout.trim().split('\n').pop()!) as { seconds: number; rssKB: number };
    samples.push({ s: j.seconds, rss: j.rssKB });
    release(out);
    release(dir);
  }
  samples.sort((a, b) => a.s - b.s);
  return { name: 'Orthanc /instances/{id}/anonymize (REST, 2 at a time; upload not counted)', seconds: samples[Math.floor(RUNS / 2)]!.s, rssKB: Math.max(...samples.map((x) => x.rss)) };
}

const node = process.execPath;
const orthanc = existsSync('/usr/sbin/Orthanc') ? measureOrthanc() : undefined;
// One untimed start fills Node's compile cache, as any earlier use of the command would have.
execFileSync(node, ['bin/custos.js', 'deid', '--help'], { stdio: 'ignore' });
const [custosResult, gdcm, dcmjs, copy, hashFloor] = measureAll([
  { name: 'custos deid (basic)', cmd: (out) => [node, 'bin/custos.js', 'deid', corpus, '--out', out, '--data-dir', work, '-q'] },
  { name: 'gdcmanon -e (basic)', cmd: (out) => ['sh', '-c', `mkdir -p ${out} && gdcmanon -e --certificate ${cert} -i ${corpus} -o ${out} -r`] },
  { name: 'dcmjs anonymizer (cleanTags, bench/peers)', cmd: (out) => [node, 'bench/peers/dcmjs-anonymize.ts', corpus, out] },
  { name: 'cp -r (I/O floor)', cmd: (out) => ['cp', '-r', corpus, out] },
  // What hashing alone costs: every input read and hashed once, on one thread, by OpenSSL (the SHA-256
  // Node uses; coreutils' sha256sum does not use the CPU's SHA instructions here and is 4× slower).
  { name: 'openssl dgst -sha256 of every input (read + hash floor, 1 thread)', cmd: () => ['sh', '-c', `find ${corpus} -type f -print0 | xargs -0 openssl dgst -sha256 > /dev/null`] },
], RUNS, work);
const results = [custosResult!, gdcm!, dcmjs!, ...(orthanc ? [orthanc] : []), copy!, hashFloor!];
rmSync(work, { recursive: true, force: true });

const custos = results[0]!;
const verdict = (met: boolean, detail: string): string => `${met ? 'met' : 'missed'} (${detail})`;
const rows = results.map((r) => `| ${r.name} | ${(N / r.seconds).toFixed(0)} | ${(bytes / 1e6 / r.seconds).toFixed(0)} | ${(r.rssKB / 1024).toFixed(0)} | ${r.cpuSeconds === undefined ? 'n/a' : `${r.cpuSeconds.toFixed(2)} s (${((r.cpuSeconds / r.seconds) * 100).toFixed(0)}%)`} | ${(r.seconds / custos.seconds).toFixed(2)} |`);
const md = `## Batch de-identification, Basic Profile, uncompressed CT

bench/deid-throughput.ts — ${machine()}.

Corpus: ${N} generated CT slices, 512×512×16-bit, explicit VR little endian, ${(bytes / 1e6).toFixed(0)} MB
(bench/generate-ct.ts, from the Debian sample CT_small.dcm). Median of ${RUNS} runs, taken in rounds (each tool once per
round), each after \`sync\`; wall time of the whole command (process start included, Node's compile
cache warm), input files in the page cache; Orthanc is timed from inside its harness, after the upload. Custos hashes every input and output (SHA-256, for the receipt); the peers do not.

| tool | instances/s | MB/s | peak RSS (MB) | CPU time (user+sys, % of wall) | time relative to Custos |
|---|---|---|---|---|---|
${rows.join('\n')}

Targets (issue 6), this run:
- faster than gdcmanon: ${verdict(custos.seconds < gdcm!.seconds, `${(gdcm!.seconds / custos.seconds).toFixed(2)}× its speed`)}
- ≥ 10× Orthanc's anonymize: ${orthanc ? verdict(orthanc.seconds / custos.seconds >= 10, `${(orthanc.seconds / custos.seconds).toFixed(1)}×`) : 'not measured (Orthanc not installed)'}
- within 3× of the plain copy: ${verdict(custos.seconds <= 3 * copy!.seconds, `${(custos.seconds / copy!.seconds).toFixed(2)}× its time`)}

What limits Custos here (perf, whole run): SHA-256. The receipt records the SHA-256 of every input
and every output, so each run hashes the corpus twice, where the peers hash nothing: reading and
hashing it once takes OpenSSL ${hashFloor!.seconds.toFixed(2)} s on one core; hashing it twice on two cores takes Custos
roughly as long, of its ${custos.seconds.toFixed(2)} s. Against gdcmanon the result swings with this machine: on
2026-12-01 the medians of 5–7 rounds put Custos at 0.91× to 1.13× gdcmanon's speed (this bench twice,
and ad-hoc comparisons 0.94–0.96×), so the two are level within this VM's noise and the target is
not reliably met. Measured that day with the output's digest left out (an experiment, not kept):
1.62 s against gdcmanon's 1.87 s and 1.95 s with it, medians of 7 rounds. A receipt whose digests
shared the pixel data's hash between input and output would hash the corpus once and put Custos
clearly ahead, but its digests could no longer be checked with \`sha256sum\`: that is a product
decision, not one to take for a benchmark. Then the
kernel's copies into and out of the page cache, creating two thousand files, and Node's start-up;
parsing and rewriting the headers is about a tenth. Runs longer than about 0.8 s on one thread are
shared by the main thread and one worker per further core (\`--jobs\`). Two threads do this run about
1.3× faster than one, not 2×: Node takes 0.06 s to start and a worker 0.15–0.2 s more (an isolate,
then Custos's modules, compile cache warm), so the worker, started at about 0.11 s before this
thread loads its own modules, has its first files at about 0.3 s and de-identifies them cold (its
first 16 files at about 6 ms each, against 1.5 ms once compiled); and the kernel's share grows with
two writers.

The plain-copy target is out of reach for any tool that reads the bytes: \`cp\` copies inside the
kernel (copy_file_range, no copy to or from the process, no hash), and gdcmanon, which hashes
nothing, takes about as long as Custos. Two properties of this virtual machine shape every figure:
its root file system is ext4 without a journal, where each file creation scans past the inodes
deleted in the last minute (so the bench truncates outputs between runs and deletes them only at the
end: deleting 2,000 files before a run made it up to twice as slow); and pages the host has taken
back are slow to touch again, so the same run varies by ±30 % in system time.
`;
writeSection('deid', md);
console.log(md);
