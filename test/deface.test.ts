import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type SliceGeometry, assembleVolume, patientToVoxel, voxelToPatient } from '../src/deid/volume.ts';
import { shearPlane, cutTest, otsuThreshold } from '../src/deid/deface.ts';
import { greyPng } from '../src/deid/png.ts';

const axial = (n: number, z: (k: number) => number, over: Partial<SliceGeometry> = {}): SliceGeometry[] =>
  Array.from({ length: n }, (_, k) => ({ frameOfReferenceUID: '1.2.3', position: [-100, -100, z(k)] as const, orientation: [1, 0, 0, 0, 1, 0], pixelSpacing: [0.5, 0.5], rows: 64, columns: 64, ...over }));

test('slices in any order assemble into one volume along the normal; positions map both ways', () => {
  const slices = axial(20, (k) => 40 - 2.5 * k); // given top to bottom
  const r = assembleVolume(slices);
  assert.ok(r.ok);
  assert.deepEqual(r.geometry.order, Array.from({ length: 20 }, (_, k) => 19 - k));
  assert.deepEqual(r.geometry.spacing, [0.5, 0.5, 2.5]);
  const p = voxelToPatient(r.geometry, 10, 4, 3);
  assert.deepEqual(p, [-95, -98, 40 - 2.5 * 19 + 7.5]);
  assert.deepEqual(patientToVoxel(r.geometry, p).map((x) => Math.round(x * 1e6) / 1e6), [10, 4, 3]);
});

test('a series that is not one regular volume is refused with the reason', () => {
  const reason = (s: SliceGeometry[]): string => { const r = assembleVolume(s); assert.ok(!r.ok); return r.reason; };
  assert.match(reason(axial(5, (k) => k)), /at least 16/);
  assert.match(reason(axial(20, (k) => (k < 10 ? k * 2 : k * 2 + 2))), /irregular/); // a missing slice
  assert.match(reason(axial(20, (k) => Math.floor(k / 2) * 2)), /same position/);
  assert.match(reason(axial(20, (k) => k * 2).map((s, k) => ({ ...s, position: [-100, -100 + k * 0.5, k * 2] as const }))), /tilted or sheared/);
  assert.match(reason(axial(20, (k) => k * 2).map((s, k) => (k === 7 ? { ...s, orientation: [0, 1, 0, 0, 0, -1] } : s))), /orientation differs/);
  assert.match(reason(axial(20, (k) => k * 2).map((s, k) => (k === 3 ? { ...s, position: undefined } : s))), /slice 4: Image Position/);
  assert.match(reason(axial(20, (k) => k * 2).map((s, k) => (k === 3 ? { ...s, frameOfReferenceUID: '9.9' } : s))), /frames of reference/);
});

test('the shear line supports the brain outline on its anterior-inferior side', () => {
  // A brain-like ellipse in (anterior, superior): every point stays behind the line.
  const pts: Array<[number, number]> = [];
  for (let t = 0; t < 360; t += 2) pts.push([-5 + 80 * Math.cos((t * Math.PI) / 180), 35 + 62 * Math.sin((t * Math.PI) / 180)]);
  const plane = shearPlane(pts)!;
  assert.ok(plane.n[0] > 0 && plane.n[1] < 0, 'faces forward and down');
  for (const p of pts) assert.ok(plane.n[0] * p[0] + plane.n[1] * p[1] <= plane.offset + 1e-9);
  // A nose in front of and below the brain is beyond it; the crown is not.
  assert.ok(plane.n[0] * 100 + plane.n[1] * -20 > plane.offset);
  assert.ok(plane.n[0] * 0 + plane.n[1] * 100 < plane.offset);
  // Patient space: anterior is -y (LPS).
  const test2 = cutTest({ normal: [0, -plane.n[0], plane.n[1]], offset: plane.offset, front: { anterior: 80, belowSuperior: 35 }, ears: { centreX: 0, halfWidth: 78, superiorMax: 45, superiorMin: -55 } });
  assert.equal(test2([0, -100, -20]), true);
  assert.equal(test2([0, 0, 100]), false);
  assert.equal(test2([85, 0, 0]), true, 'an ear');
  assert.equal(test2([85, 0, 90]), false, 'above the ears');
  assert.equal(test2([30, -82, 10]), true, 'in front of the brain, below its front');
  assert.equal(test2([0, -85, 50]), false, 'the forehead above it');
});

test('Otsu threshold separates background from tissue; PNG is well formed', () => {
  const v = new Float32Array(1000);
  for (let i = 0; i < 1000; i++) v[i] = i < 600 ? (i % 7) : 400 + (i % 50);
  const t = otsuThreshold(v);
  assert.ok(t > 6 && t < 400, String(t));
  const png = greyPng(3, 2, new Uint8Array([0, 128, 255, 1, 2, 3]));
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  assert.equal(png.subarray(12, 16).toString('latin1'), 'IHDR');
  assert.equal(png.readUInt32BE(16), 3);
});
