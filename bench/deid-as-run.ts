/**
 * Batch de-identification the way users run it (issue 29): the README's command (`./custos deid` in
 * the project folder), `npx custos deid`, and the direct call (`node bin/custos.js`), beside gdcmanon
 * (GDCM, C++, Basic Profile) in the same run, on 1,000 and 10,000 CT slices (512×512) and 1,000 small
 * MR slices (256×256), where start-up weighs most. Writes its section of docs/benchmarks.md.
 * Usage: node bench/deid-as-run.ts [rounds=5]
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SAMPLE, generateCT, generateSeries } from './generate-ct.ts';
import { machine, writeSection } from './report.ts';
import { gdcmanonCertificate, measureAll } from './run-tools.ts';

const ROUNDS = Number(process.argv[2] ?? 5);
const work = mkdtempSync(join(tmpdir(), 'custos-asrun-'));
const cert = gdcmanonCertificate(work);
const node = process.execPath;
const MR_SAMPLE = SAMPLE.replace('CT_small', 'MR_small');
const corpora: Array<{ label: string; dir: string; n: number; rounds: number; make: () => void }> = [
  { label: '1,000 CT slices 512×512', dir: join('bench', 'corpus', 'ct-1000'), n: 1000, rounds: ROUNDS, make: () => generateCT(1000, join('bench', 'corpus', 'ct-1000')) },
  { label: '1,000 MR slices 256×256', dir: join('bench', 'corpus', 'mr-1000'), n: 1000, rounds: ROUNDS, make: () => generateSeries(1000, join('bench', 'corpus', 'mr-1000'), { sample: MR_SAMPLE, size: 256, prefix: 'mr', slicesPerStudy: 176, root: '2.25.27182818284590452353602874713526', texture: 'phantom' }) },
  { label: '10,000 CT slices 512×512', dir: join('bench', 'corpus', 'ct-10000'), n: 10_000, rounds: Math.max(1, Math.min(ROUNDS, 3)), make: () => generateCT(10_000, join('bench', 'corpus', 'ct-10000')) },
];
// Compile caches warm, as after any earlier use of the command.
execFileSync('./custos', ['--version'], { stdio: 'ignore' });
execFileSync('npx', ['custos', '--version'], { stdio: 'ignore' });
const rows: string[] = [];
const verdicts: string[] = [];
for (const c of corpora) {
  if (!existsSync(c.dir) || readdirSync(c.dir).length < c.n) c.make();
  const mb = readdirSync(c.dir).reduce((n, f) => n + statSync(join(c.dir, f)).size, 0) / 1e6;
  const [readme, npx, direct, gdcm] = measureAll([
    { name: 'README: ./custos deid', cmd: (out) => ['./custos', 'deid', c.dir, '--out', out, '--data-dir', work, '-q'] },
    { name: 'npx custos deid', cmd: (out) => ['npx', 'custos', 'deid', c.dir, '--out', out, '--data-dir', work, '-q'] },
    { name: 'node bin/custos.js deid (direct)', cmd: (out) => [node, 'bin/custos.js', 'deid', c.dir, '--out', out, '--data-dir', work, '-q'] },
    { name: 'gdcmanon -e', cmd: (out) => ['sh', '-c', `mkdir -p ${out} && gdcmanon -e --certificate ${cert} -i ${c.dir} -o ${out} -r`] },
  ], c.rounds, join(work, c.dir.split('/').pop()!));
  for (const r of [readme!, npx!, direct!, gdcm!]) {
    rows.push(`| ${r === readme ? `${c.label} (${mb.toFixed(0)} MB)` : ''} | ${r.name} | ${r.seconds.toFixed(2)} s | ${(c.n / r.seconds).toFixed(0)} | ${r.cpuSeconds?.toFixed(2)} s | ${(gdcm!.seconds / r.seconds).toFixed(2)}× |`);
  }
  verdicts.push(`- ${c.label}: the README's command at ${(gdcm!.seconds / readme!.seconds).toFixed(2)}× gdcmanon's speed (${readme!.seconds < gdcm!.seconds * 1.0 ? 'ahead' : 'behind'}); npx ${(gdcm!.seconds / npx!.seconds).toFixed(2)}×`);
}
rmSync(work, { recursive: true, force: true });
const md = `## Batch de-identification as users run it

bench/deid-as-run.ts — ${machine()}. Median wall time of whole commands (start-up included, compile
caches warm, inputs in the page cache), rounds taken in turns; ${ROUNDS} rounds (10,000 slices: ${Math.min(ROUNDS, 3)}).

| corpus | command | time | instances/s | CPU (user+sys) | speed vs gdcmanon |
|---|---|---|---|---|---|
${rows.join('\n')}

This run:
${verdicts.join('\n')}

What limits it (measured 2026-12-03 on this machine, quiet, inputs in the page cache): on 10,000
slices the README's command is level with or ahead of gdcmanon; on 1,000 it is not, for two costs
that gdcmanon does not have. (1) The receipt's SHA-256 of every input and every output (a product
decision: both digests stay, each byte hashed once per digest): one pass over 1,000 CT slices
(531 MB) takes Node's SHA-256 310 ms on one core, so 0.62 s of CPU for the two, where gdcmanon's
whole run uses 0.84 s. (2) Fixed start-up: a run of 10 files takes 0.27–0.28 s (Node, Custos's
modules, the key, the signed receipt), and a worker thread 0.15–0.3 s more before its first file;
one thread does the 1,000 CT slices in 1.57–1.61 s, two in 1.37–1.46 s. Parsing and rewriting
headers is about a tenth of the CPU (profile: kernel writes and file creation, then hashing). On
10,000 slices the start-up is spread thin and two threads carry the hashing, so Custos comes out
ahead; on 1,000 small MR slices start-up weighs most (0.44×). \`npx\` adds about 0.85 s to every call
(npx itself), the reason the README's command is \`./custos\`.

Tried and not kept (2026-12-03): hashing on libuv's thread pool (WebCrypto) while the thread parses
and writes, the output joined into one buffer: 1,000 CT slices took 2.27–2.40 s on two threads
against 1.71–1.87 s as it is (4 interleaved rounds each; one thread: no gain), the copies into
WebCrypto and the extra wake-ups costing more than the overlap gained on two cores.
`;
writeSection('deid-as-run', md);
console.log(md);
