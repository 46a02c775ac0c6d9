/**
 * Batch de-identification of other series than uncompressed CT (issue 6): an MR series, and CT in
 * the lossless compressed syntaxes JPEG-LS and JPEG 2000, against gdcmanon and a plain copy measured
 * in the same run on the same files. Header-only de-identification passes compressed pixel data
 * through as it is (no decoding), like gdcmanon. Writes its section of docs/benchmarks.md.
 * Usage: node bench/deid-variants.ts [N=500]
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSeries } from './generate-ct.ts';
import { machine, writeSection } from './report.ts';
import { type Result, gdcmanonCertificate, measureAll } from './run-tools.ts';

const N = Number(process.argv[2] ?? 500);
const RUNS = 5;
const PYDICOM = '/usr/lib/python3/dist-packages/pydicom/data/test_files';
const corpusDir = (name: string): string => join('bench', 'corpus', `${name}-${N}`);

/** A corpus folder, made once (kept out of git): `make` writes the files into it. */
function corpus(name: string, make: (dir: string) => void): string {
  const dir = corpusDir(name);
  if (!existsSync(dir) || readdirSync(dir).length < N) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    make(dir);
  }
  return dir;
}

const root = '2.25.27182818284590452353602874713526';
const ctPhantom = corpus('ct-phantom', (dir) => generateSeries(N, dir, { sample: join(PYDICOM, 'CT_small.dcm'), size: 512, prefix: 'ct', slicesPerStudy: 125, root: `${root}.1`, texture: 'phantom' }));
/** The phantom CT re-encoded by GDCM (lossless), one process per file. */
const recoded = (name: string, flag: string): string => corpus(name, (dir) => {
  for (const f of readdirSync(ctPhantom).sort()) execFileSync('gdcmconv', [flag, join(ctPhantom, f), join(dir, f)]);
});
const corpora = [
  { name: 'MR, 256×256×16-bit, explicit VR little endian', dir: corpus('mr-phantom', (dir) => generateSeries(N, dir, { sample: join(PYDICOM, 'MR_small.dcm'), size: 256, prefix: 'mr', slicesPerStudy: 100, root: `${root}.2`, texture: 'phantom' })) },
  { name: 'CT, 512×512×16-bit, JPEG-LS lossless', dir: recoded('ct-jpegls', '--jpegls') },
  { name: 'CT, 512×512×16-bit, JPEG 2000 lossless', dir: recoded('ct-j2k', '--j2k') },
];

const work = mkdtempSync(join(tmpdir(), 'custos-bench-variants-'));
const cert = gdcmanonCertificate(work);
const node = process.execPath;
execFileSync(node, ['bin/custos.js', 'deid', '--help'], { stdio: 'ignore' }); // Node's compile cache, as after any earlier use

const rows: string[] = [];
const verdicts: string[] = [];
for (const [k, c] of corpora.entries()) {
  const bytes = readdirSync(c.dir).reduce((n, f) => n + statSync(join(c.dir, f)).size, 0);
  const [custos, gdcm, copy] = measureAll([
    { name: 'custos deid (basic)', cmd: (out) => [node, 'bin/custos.js', 'deid', c.dir, '--out', out, '--data-dir', work, '-q'] },
    { name: 'gdcmanon -e (basic)', cmd: (out) => ['sh', '-c', `mkdir -p ${out} && gdcmanon -e --certificate ${cert} -i ${c.dir} -o ${out} -r`] },
    { name: 'cp -r', cmd: (out) => ['cp', '-r', c.dir, out] },
  ], RUNS, join(work, `series-${k}`)) as [Result, Result, Result]; // outputs apart: the two CT series share their UIDs
  for (const r of [custos, gdcm, copy]) {
    rows.push(`| ${c.name} (${(bytes / 1e6).toFixed(0)} MB) | ${r.name} | ${(N / r.seconds).toFixed(0)} | ${(bytes / 1e6 / r.seconds).toFixed(0)} | ${(r.rssKB / 1024).toFixed(0)} | ${r.cpuSeconds!.toFixed(2)} s | ${(r.seconds / custos.seconds).toFixed(2)} |`);
  }
  verdicts.push(`- ${c.name}: ${(gdcm.seconds / custos.seconds).toFixed(2)}× gdcmanon's speed, ${(custos.seconds / copy.seconds).toFixed(2)}× the plain copy's time.`);
}
rmSync(work, { recursive: true, force: true });

const md = `## Batch de-identification of other series: MR, JPEG-LS and JPEG 2000 CT

bench/deid-variants.ts — ${machine()}.

${N} instances per series (bench/generate-ct.ts from the Debian samples MR_small.dcm and CT_small.dcm,
synthetic tissue with noise; the CT re-encoded losslessly by \`gdcmconv --jpegls\` and \`--j2k\`).
Median of ${RUNS} runs in rounds, each after \`sync\`, whole command timed, inputs in the page cache; as
above, Custos hashes every input and output for its receipt and the peers do not. Compressed pixel
data is passed through as it is by both de-identifiers (nothing is decoded).

| series | tool | instances/s | MB/s | peak RSS (MB) | CPU (user+sys) | time relative to Custos |
|---|---|---|---|---|---|---|
${rows.join('\n')}

${verdicts.join('\n')}

Smaller files shift the cost from bytes to files. Each of these runs is shorter than a worker thread
is worth (about 0.8 s of work, see \`--jobs\`), so Custos works on one thread, like gdcmanon. Per file
the two do about the same work apart from the receipt's two SHA-256 passes; what separates them on
a run this short is Node's start-up and loading Custos's modules, about 0.15 s of every command
(gdcmanon starts in a few milliseconds), which weighs most on the smallest files (MR).
`;
writeSection('deid-variants', md);
console.log(md);
