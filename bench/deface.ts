/**
 * Defacing (Clean Recognizable Visual Features) per series: a 200-slice 512×512 head CT and a
 * 176-slice 256×256 sagittal head MR (bench/head-phantom.ts), de-identified by `custos deid` with and
 * without the option, beside gdcmanon (header-only Basic Profile, GDCM) on the same series in the
 * same run: what defacing adds to a run. No defacing tool runs here to compare with (pydeface,
 * quickshear, mri_deface need FSL or Python packages not in Debian). Also the defacing step alone,
 * in process. Writes its section of docs/benchmarks.md. Usage: node bench/deface.ts [rounds=3]
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BufferSource } from '../src/dicom/byte-source.ts';
import { readDicom } from '../src/dicom/read.ts';
import { DEFAULT_DEFACE } from '../src/deid/deface.ts';
import { defaceSeries } from '../src/pipeline/deface-series.ts';
import { type PhantomSpec, writePhantom } from './head-phantom.ts';
import { machine, writeSection } from './report.ts';
import { gdcmanonCertificate, measureAll } from './run-tools.ts';

const rounds = Number(process.argv[2] ?? 3);
const work = mkdtempSync(join(tmpdir(), 'custos-deface-bench-'));
const cert = gdcmanonCertificate(work);
const node = process.execPath;
const series: Array<[string, PhantomSpec]> = [
  ['CT, 200 axial slices of 512×512 (0.5 mm, 1.25 mm apart)', { modality: 'CT', acquisition: 'axial', size: 512, pixelMm: 0.5, slices: 200, sliceMm: 1.25 }],
  ['MR, 176 sagittal slices of 256×256 (1 mm)', { modality: 'MR', acquisition: 'sagittal', size: 256, pixelMm: 1, slices: 176, sliceMm: 1 }],
];
const rows: string[] = [];
for (const [label, spec] of series) {
  const dir = join(work, `in-${spec.modality}`);
  const files = writePhantom(dir, spec);
  // The defacing step alone, in this process: assembly, decoding, detection, the cut, renderings, re-encoding.
  const members = files.map((p) => { const source = new BufferSource(readFileSync(p)); return { source, file: readDicom(source) }; });
  const t = performance.now();
  const r = await defaceSeries(members, { ...DEFAULT_DEFACE });
  const step = (performance.now() - t) / 1000;
  if (r.status !== 'defaced') throw new Error(`${label}: ${r.status}`);
  const results = measureAll([
    { name: 'custos deid --option clean-recognizable-visual-features', cmd: (out) => [node, 'bin/custos.js', 'deid', dir, '--out', out, '--option', 'clean-recognizable-visual-features', '--review', `${out}-review`, '--data-dir', work, '-q'] },
    { name: 'custos deid (header only)', cmd: (out) => [node, 'bin/custos.js', 'deid', dir, '--out', out, '--data-dir', work, '-q'] },
    { name: 'peer: gdcmanon -e (header only)', cmd: (out) => ['sh', '-c', `mkdir -p ${out} && gdcmanon -e --certificate ${cert} -i ${dir} -o ${out} -r`] },
  ], rounds, join(work, `runs-${spec.modality}`));
  rows.push(`| ${label} | defacing step alone | ${step.toFixed(2)} s | |`);
  for (const x of results) rows.push(`| | ${x.name} | ${x.seconds.toFixed(2)} s | ${Math.round(x.rssKB / 1024)} MB |`);
  rmSync(dir, { recursive: true, force: true });
}
rmSync(work, { recursive: true, force: true });
const md = `## Defacing (Clean Recognizable Visual Features)

bench/deface.ts — ${machine()}. Synthetic head phantoms (bench/head-phantom.ts), explicit VR little
endian; median of ${rounds} rounds, whole runs including start-up.

| series | run | time | peak memory |
|---|---|---|---|
${rows.join('\n')}

The defacing step decodes every frame once, detects on a copy coarsened to about 2 mm, cuts at full
resolution and re-encodes the frames it changed. A series is held in memory whole while it is defaced
(about twice its pixel data). No defacing tool runs on this machine to compare with (pydeface,
quickshear and mri_deface need FSL or Python packages that Debian does not carry); gdcmanon, which
does not deface, shows the cost of the header-only work on the same files.
`;
writeSection('deface', md);
console.log(md);
