/**
 * The review renderings of the defacing phantoms, committed under docs/defacing/ (docs/deid.md shows
 * them). Usage: node bench/deface-renders.ts [outDir=docs/defacing]
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BufferSource } from '../src/dicom/byte-source.ts';
import { readDicom } from '../src/dicom/read.ts';
import { DEFAULT_DEFACE } from '../src/deid/deface.ts';
import { defaceSeries } from '../src/pipeline/deface-series.ts';
import { type PhantomSpec, writePhantom } from './head-phantom.ts';

const out = process.argv[2] ?? join('docs', 'defacing');
mkdirSync(out, { recursive: true });
const SIZE = { size: 128, pixelMm: 2, sliceMm: 2 };
const cases: Array<[string, PhantomSpec, boolean]> = [
  ['ct-axial', { modality: 'CT', acquisition: 'axial', slices: 125, ...SIZE }, false],
  ['ct-coronal-ears', { modality: 'CT', acquisition: 'coronal', slices: 100, ...SIZE }, true],
  ['mr-sagittal', { modality: 'MR', acquisition: 'sagittal', slices: 100, ...SIZE }, false],
  ['mr-axial-enhanced', { modality: 'MR', acquisition: 'axial', slices: 125, ...SIZE, enhanced: true }, false],
];
for (const [name, spec, ears] of cases) {
  const dir = join(tmpdir(), `custos-phantom-${process.pid}-${name}`);
  const members = writePhantom(dir, spec).map((p) => { const source = new BufferSource(readFileSync(p)); return { source, file: readDicom(source) }; });
  const r = await defaceSeries(members, { ...DEFAULT_DEFACE, ears });
  rmSync(dir, { recursive: true, force: true });
  if (r.status !== 'defaced') throw new Error(`${name}: ${r.status}`);
  writeFileSync(join(out, `${name}-before.png`), r.renders.before);
  writeFileSync(join(out, `${name}-after.png`), r.renders.after);
  console.log(`${name}: brain ${r.report.brainMl} mL, removed ${r.report.removedMl} mL`);
}
