/**
 * `custos risk` on generated DICOM cohorts (synthetic values): k and the risks equal an independent
 * group-by over the values written; a unique patient is reported and generalized below the threshold.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { BufferSource } from '../src/dicom/byte-source.ts';
import { putElement } from '../src/dicom/dataset.ts';
import { writeChunksAtomic } from '../src/dicom/file-io.ts';
import { readDicom } from '../src/dicom/read.ts';
import { Tags, tag } from '../src/dicom/tag.ts';
import { encodePart10 } from '../src/dicom/write.ts';
import { REPO, runCli, tempDir } from './helpers.ts';

const SAMPLE = join(REPO, 'examples', 'synthetic-ct-1.dcm');

/** One file per (patient, study) with the given values; UIDs made up under 2.25. */
function writeCohort(dir: string, rows: Array<{ patient: string; age: string; sex: string; weight: string }>): void {
  mkdirSync(dir, { recursive: true });
  const src = new BufferSource(readFileSync(SAMPLE));
  const base = readDicom(src);
  const text = (t: number, vr: 'LO' | 'AS' | 'CS' | 'DS' | 'UI', v: string) => ({ tag: t, vr, value: Buffer.from(v.length % 2 ? v + (vr === 'UI' ? '\0' : ' ') : v, 'latin1') });
  rows.forEach((r, i) => {
    const ds = { elements: [...base.dataset.elements] };
    for (const el of [
      text(Tags.PatientID, 'LO', r.patient), text(tag(0x0010, 0x1010), 'AS', r.age), text(tag(0x0010, 0x0040), 'CS', r.sex), text(tag(0x0010, 0x1030), 'DS', r.weight),
      text(Tags.StudyInstanceUID, 'UI', `2.25.77.1.${i}`), text(Tags.SeriesInstanceUID, 'UI', `2.25.77.2.${i}`), text(Tags.SOPInstanceUID, 'UI', `2.25.77.3.${i}`),
    ]) putElement(ds, el);
    writeChunksAtomic(join(dir, `${i}.dcm`), encodePart10(base.meta, ds, base.transferSyntax, src), src);
  });
}

test('custos risk on 1,200 generated records: k, maximum and average risk, uniques equal a plain group-by', () => {
  let seed = 11;
  const rnd = (n: number): number => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed % n; };
  const rows = Array.from({ length: 1200 }, (_, i) => ({ patient: `SYN${i}`, age: `0${20 + rnd(12)}Y`, sex: ['F', 'M'][rnd(2)]!, weight: String(60 + 5 * rnd(6)) }));
  const dir = join(tempDir('custos-risk-'), 'cohort');
  writeCohort(dir, rows);
  const r = runCli(['risk', dir, '--quasi', 'PatientAge,PatientSex,PatientWeight', '--json', '--threshold', '0.2']);
  const out = JSON.parse(r.stdout) as { records: number; k: number; classes: number; maxProsecutorRisk: number; avgProsecutorRisk: number; uniques: number; recordsAboveThreshold: number };
  const groups = new Map<string, number>();
  for (const x of rows) groups.set(`${x.age}|${x.sex}|${x.weight}`, (groups.get(`${x.age}|${x.sex}|${x.weight}`) ?? 0) + 1);
  const k = Math.min(...groups.values());
  assert.equal(out.records, 1200);
  assert.equal(out.classes, groups.size);
  assert.equal(out.k, k);
  assert.equal(out.maxProsecutorRisk, 1 / k);
  assert.ok(Math.abs(out.avgProsecutorRisk - groups.size / 1200) < 1e-12);
  assert.equal(out.uniques, [...groups.values()].filter((n) => n === 1).length);
  assert.equal(out.recordsAboveThreshold, [...groups.values()].filter((n) => 1 / n > 0.2).reduce((s, n) => s + n, 0));
  assert.equal(r.status, 1 / k > 0.2 ? 1 : 0);
});

test('custos risk: the one 67-year-old is unique and reported with age as the driver, then generalized below the threshold', () => {
  const rows = [
    ...Array.from({ length: 6 }, (_, i) => ({ patient: `A${i}`, age: '040Y', sex: 'F', weight: '70' })),
    ...Array.from({ length: 6 }, (_, i) => ({ patient: `B${i}`, age: '042Y', sex: 'M', weight: '80' })),
    { patient: 'C0', age: '067Y', sex: 'F', weight: '70' },
  ];
  const dir = join(tempDir('custos-risk-'), 'unique');
  writeCohort(dir, rows);
  const r = runCli(['risk', dir, '--quasi', 'PatientAge,PatientSex,PatientWeight', '--threshold', '0.2', '--generalize', '--json']);
  assert.equal(r.status, 1);
  const out = JSON.parse(r.stdout) as { uniques: number; drivers: Array<{ attribute: string }>; generalization: { met: boolean; levels: Record<string, number>; report: { maxProsecutorRisk: number; k: number } } };
  assert.equal(out.uniques, 1);
  assert.equal(out.drivers[0]!.attribute, 'PatientAge');
  assert.equal(out.generalization.met, true);
  assert.ok(out.generalization.report.maxProsecutorRisk <= 0.2);
  assert.ok(out.generalization.levels.PatientAge! > 0);
  const text = runCli(['risk', dir, '--quasi', 'PatientAge,PatientSex,PatientWeight', '--threshold', '0.2']);
  assert.match(text.stdout, /unique: 1\n\s+driven by: PatientAge/);
});
