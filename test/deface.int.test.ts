import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type PhantomSpec, L, headLabel, writePhantom } from '../bench/head-phantom.ts';
import { BufferSource } from '../src/dicom/byte-source.ts';
import { asciiValue, findElement } from '../src/dicom/dataset.ts';
import { pixelDescription } from '../src/dicom/frames.ts';
import { frameGeometries } from '../src/dicom/geometry.ts';
import { readDicom } from '../src/dicom/read.ts';
import { tag } from '../src/dicom/tag.ts';
import { decodedFrames } from '../src/pipeline/clean-pixels.ts';
import type { Vec3 } from '../src/deid/volume.ts';
import { DEFAULT_DEFACE } from '../src/deid/deface.ts';
import { defaceSeries } from '../src/pipeline/deface-series.ts';
import { dciodvfyErrors, runCli, tempDir } from './helpers.ts';

/** Every .dcm file under a folder. */
function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? walk(p) : n.endsWith('.dcm') ? [p] : [];
  });
}

/** Each frame of each file: its first pixel's position (key), geometry and signed 16-bit values. */
async function framesOf(files: string[]): Promise<Map<string, { origin: Vec3; row: Vec3; col: Vec3; spacing: number; values: Int16Array; rows: number; columns: number; file: string }>> {
  const out = new Map();
  for (const f of files) {
    const source = new BufferSource(readFileSync(f));
    const file = readDicom(source);
    const d = pixelDescription(file.dataset, true)!;
    const { frames } = await decodedFrames(file, source, d);
    frameGeometries(file, d.numberOfFrames).forEach((g, i) => {
      const b = new Uint8Array(frames[i]!);
      const key = g.position!.map((x) => x.toFixed(2)).join(',');
      const o = g.orientation!;
      out.set(key, { origin: g.position!, row: [o[0]!, o[1]!, o[2]!], col: [o[3]!, o[4]!, o[5]!], spacing: g.pixelSpacing![0]!, values: new Int16Array(b.buffer, 0, b.length >> 1), rows: g.rows, columns: g.columns, file: f });
    });
  }
  return out;
}

const SIZE = { size: 128, pixelMm: 2, sliceMm: 2 };
const HEADS: Array<{ name: string; spec: PhantomSpec; encode?: string[] }> = [
  { name: 'ct-axial', spec: { modality: 'CT', acquisition: 'axial', slices: 125, ...SIZE, root: '2.25.9001' } },
  { name: 'mr-sagittal-jpegls', spec: { modality: 'MR', acquisition: 'sagittal', slices: 100, ...SIZE, root: '2.25.9002' }, encode: ['dcmcjpls'] },
  { name: 'ct-coronal-rle', spec: { modality: 'CT', acquisition: 'coronal', slices: 100, ...SIZE, root: '2.25.9003' }, encode: ['dcmcrle'] },
  { name: 'ct-oblique', spec: { modality: 'CT', acquisition: 'oblique', slices: 125, ...SIZE, root: '2.25.9007' } },
  { name: 'mr-axial-enhanced', spec: { modality: 'MR', acquisition: 'axial', slices: 125, ...SIZE, enhanced: true, root: '2.25.9004' } },
];

test('clean-recognizable-visual-features defaces head CT and MR phantoms (axial, sagittal, coronal, oblique, enhanced): face and ears gone, every brain voxel unchanged, no new dciodvfy errors; a torso is untouched; broken geometry is held back', async () => {
  const work = tempDir('custos-deface-');
  const input = join(work, 'in');
  for (const h of HEADS) {
    const dir = join(input, h.name);
    const files = writePhantom(dir, h.spec);
    for (const f of files) {
      if (!h.encode) continue;
      const r = spawnSync(h.encode[0]!, [f, `${f}.enc`], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      renameSync(`${f}.enc`, f);
    }
  }
  writePhantom(join(input, 'torso'), { body: 'torso', modality: 'CT', acquisition: 'axial', slices: 60, ...SIZE, root: '2.25.9005' });
  writePhantom(join(input, 'broken'), { modality: 'CT', acquisition: 'axial', slices: 125, ...SIZE, root: '2.25.9006', drop: 60 });

  const out = join(work, 'out');
  const r = runCli(['deid', input, '--out', out, '--option', 'clean-recognizable-visual-features', '--deface-ears', '--receipt', join(work, 'receipt.json'), '--data-dir', join(work, 'data'), '-q']);
  assert.equal(r.status, 0, r.stderr);
  type Defacing = { outcome: string; series?: string; modality?: string; acquisition?: string; code?: string; message?: string; instances: number; plane?: { normal: Vec3; offsetMm: number }; renders?: { before: string; after: string } };
  const receipt = JSON.parse(readFileSync(join(work, 'receipt.json'), 'utf8')) as { profile: { methodCodes: string[] }; defacing: Defacing[]; summary: { released: number; heldBack: number } };
  assert.ok(receipt.profile.methodCodes.includes('113102'));
  const defaced = receipt.defacing.filter((d) => d.outcome === 'defaced');
  assert.deepEqual(defaced.map((d) => `${d.modality} ${d.acquisition}`).sort(), ['CT axial', 'CT coronal', 'CT oblique', 'MR axial', 'MR sagittal']);
  const held = receipt.defacing.filter((d) => d.outcome === 'held');
  assert.equal(held.length, 1);
  assert.equal(held[0]!.code, 'VOLUME_GEOMETRY');
  assert.match(held[0]!.message!, /irregular/);
  assert.equal(receipt.defacing.filter((d) => d.outcome === 'no-face').length, 1);
  assert.equal(receipt.summary.heldBack, 124);
  assert.equal(receipt.summary.released, 125 + 100 + 100 + 125 + 1 + 60);

  for (const d of defaced) {
    // Review renderings beside the receipt, outside the output, that differ.
    const before = readFileSync(join(work, d.renders!.before));
    const after = readFileSync(join(work, d.renders!.after));
    assert.equal(before.subarray(1, 4).toString('latin1'), 'PNG');
    assert.notDeepEqual(before, after);
    assert.ok(!d.renders!.before.startsWith('out/'));
  }

  const outputs = walk(out);
  for (const h of HEADS) {
    const inFrames = await framesOf(walk(join(input, h.name)));
    const entry = defaced.find((d) => d.modality === h.spec.modality && d.acquisition === h.spec.acquisition)!;
    const outFiles = outputs.filter((f) => f.includes(`/${entry.series}/`));
    assert.ok(outFiles.length > 0, h.name);
    const first = readDicom(new BufferSource(readFileSync(outFiles[0]!)));
    assert.equal(asciiValue(first.meta, tag(0x0002, 0x0010)), asciiValue(readDicom(new BufferSource(readFileSync(walk(join(input, h.name))[0]!))).meta, tag(0x0002, 0x0010)), `${h.name}: re-encoded in its own transfer syntax`);
    assert.equal(asciiValue(first.dataset, tag(0x0028, 0x0302)), 'NO');
    assert.ok(findElement(first.dataset, tag(0x0012, 0x0064))!.items!.some((i) => asciiValue(i, tag(0x0008, 0x0100)) === '113102'));
    const outFrames = await framesOf(outFiles);
    assert.equal(outFrames.size, inFrames.size, h.name);
    const air = h.spec.modality === 'CT' ? 24 : 0;
    const count: Record<string, number> = {};
    const bad: Record<string, number> = {};
    const plane = entry.plane!;
    for (const [key, o] of outFrames) {
      const i = inFrames.get(key)!;
      assert.ok(i, `${h.name}: frame at ${key} has its input`);
      for (let rr = 0; rr < o.rows; rr++) for (let c = 0; c < o.columns; c++) {
        const p: Vec3 = [0, 1, 2].map((a) => o.origin[a]! + c * o.spacing * o.row[a]! + rr * o.spacing * o.col[a]!) as unknown as Vec3;
        const label = headLabel(p);
        const v = o.values[rr * o.columns + c]!;
        const was = i.values[rr * o.columns + c]!;
        const check = (what: string, ok: boolean): void => { count[what] = (count[what] ?? 0) + 1; if (!ok) bad[what] = (bad[what] ?? 0) + 1; };
        if (label === L.brain) check('brain unchanged', v === was);
        if (label === L.nose || label === L.lips || label === L.chin) check('face gone', v === air);
        if (label === L.eye && p[1] < -82) check('front of the eyes gone', v === air); // the front 2 mm of a 24 mm eye
        if (label === L.ear && Math.abs(p[0]) > 80) check('ears gone', v === air);
        // Nothing but air in front of the plane: no surface there for a rendering to show.
        if (plane.normal[0] * p[0] + plane.normal[1] * p[1] + plane.normal[2] * p[2] > plane.offsetMm + 0.01) check('air in front of the plane', v === air);
      }
    }
    for (const what of ['brain unchanged', 'face gone', 'front of the eyes gone', 'ears gone', 'air in front of the plane']) {
      assert.ok((count[what] ?? 0) > (what.includes('eyes') ? 10 : 100), `${h.name}: ${what}: only ${count[what] ?? 0} voxels checked`);
      assert.equal(bad[what] ?? 0, 0, `${h.name}: ${what}: ${bad[what]} of ${count[what]} voxels wrong`);
    }
    // dciodvfy: no error the input did not have (first and middle instance, or the enhanced one).
    for (const f of [outFiles[0]!, outFiles[outFiles.length >> 1]!]) {
      const ds = readDicom(new BufferSource(readFileSync(f)), { stopAtPixelData: true }).dataset;
      const inst = asciiValue(ds, tag(0x0020, 0x0013));
      const src = walk(join(input, h.name)).find((x) => asciiValue(readDicom(new BufferSource(readFileSync(x)), { stopAtPixelData: true }).dataset, tag(0x0020, 0x0013)) === inst)!;
      const known = new Set(dciodvfyErrors(src));
      assert.deepEqual(dciodvfyErrors(f).filter((e) => !known.has(e)), [], `${h.name}: new dciodvfy errors`);
    }
  }

  // The torso: released with its pixel data byte for byte, as a series found to show no face.
  const torsoIn = await framesOf(walk(join(input, 'torso')));
  const torsoSeries = receipt.defacing.find((d) => d.outcome === 'no-face')!.series!;
  const torsoOut = outputs.filter((f) => f.includes(`/${torsoSeries}/`));
  assert.equal(torsoOut.length, 60);
  for (const [key, o] of await framesOf(torsoOut)) assert.deepEqual(o.values, torsoIn.get(key)!.values);
  assert.ok(!existsSync(join(out, 'custos-review')));
});

test('a series described as the head whose data shows no head is held back for review', async () => {
  const work = tempDir('custos-deface-');
  // A torso labelled HEAD: the data shows no head, the header says there is one.
  writePhantom(join(work, 'in'), { body: 'torso', modality: 'CT', acquisition: 'axial', slices: 40, ...SIZE, root: '2.25.9101', bodyPart: 'HEAD' });
  const r = runCli(['deid', join(work, 'in'), '--out', join(work, 'out'), '--option', 'clean-recognizable-visual-features', '--data-dir', join(work, 'data'), '-q']);
  assert.equal(r.status, 0, r.stderr);
  const receipt = JSON.parse(readFileSync(join(work, 'out', 'custos-receipt.json'), 'utf8')) as { instances: Array<{ status: string; reason?: { code: string; message: string } }> };
  assert.equal(receipt.instances.length, 40);
  for (const i of receipt.instances) {
    assert.equal(i.status, 'held');
    assert.equal(i.reason!.code, 'DEFACE_UNCERTAIN');
    assert.match(i.reason!.message, /described as a head, but no head was found/);
  }
});

test('a series holding two frames of reference is defaced as two volumes; one that cannot be assembled holds the whole series', async () => {
  const work = tempDir('custos-deface-');
  const load = (paths: string[]) => paths.map((p) => { const source = new BufferSource(readFileSync(p)); return { source, file: readDicom(source) }; });
  const a = writePhantom(join(work, 'a'), { modality: 'MR', acquisition: 'sagittal', slices: 100, ...SIZE, root: '2.25.9201', series: '2.25.9200' });
  const b = writePhantom(join(work, 'b'), { modality: 'MR', acquisition: 'coronal', slices: 100, ...SIZE, root: '2.25.9202', series: '2.25.9200' });
  const r = await defaceSeries(load([...a, ...b]), { ...DEFAULT_DEFACE });
  assert.equal(r.status, 'defaced');
  if (r.status !== 'defaced') return;
  assert.equal(r.report.volumes, 2);
  assert.ok(r.pixels.slice(0, 100).some(Boolean) && r.pixels.slice(100).some(Boolean), 'both volumes have their face removed');
  const broken = writePhantom(join(work, 'c'), { modality: 'MR', acquisition: 'axial', slices: 40, ...SIZE, root: '2.25.9203', series: '2.25.9200', drop: 20 });
  const held = await defaceSeries(load([...a, ...broken]), { ...DEFAULT_DEFACE });
  assert.equal(held.status, 'held');
  if (held.status === 'held') assert.match(held.message, /one of the series' 2 frames of reference: .*irregular/);
});
