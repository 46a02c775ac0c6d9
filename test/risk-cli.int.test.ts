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

test('custos deid --max-risk: a release above the threshold is generalized in its headers (valid for dciodvfy), the receipt records the risk; too few patients are withheld', async () => {
  const { spawnSync } = await import('node:child_process');
  const { readdirSync, existsSync } = await import('node:fs');
  const rows = [
    ...Array.from({ length: 6 }, (_, i) => ({ patient: `A${i}`, age: '040Y', sex: 'F', weight: '70' })),
    ...Array.from({ length: 6 }, (_, i) => ({ patient: `B${i}`, age: '042Y', sex: 'M', weight: '80' })),
    { patient: 'C0', age: '067Y', sex: 'F', weight: '70' },
  ];
  const work = tempDir('custos-risk-');
  writeCohort(join(work, 'in'), rows);
  const plain = runCli(['deid', join(work, 'in'), '--out', join(work, 'plain'), '--option', 'retain-patient-characteristics', '--data-dir', join(work, 'data'), '-q']);
  assert.equal(plain.status, 0, plain.stderr);
  const r = runCli(['deid', join(work, 'in'), '--out', join(work, 'out'), '--option', 'retain-patient-characteristics', '--max-risk', '0.2', '--data-dir', join(work, 'data'), '-q']);
  assert.equal(r.status, 0, r.stderr);
  const receipt = JSON.parse(readFileSync(join(work, 'out', 'custos-receipt.json'), 'utf8')) as { risk: { measured: { k: number; uniques: number }; generalization: { levels: Record<string, number>; after: { maxProsecutorRisk: number } } }; summary: { released: number } };
  assert.equal(receipt.risk.measured.uniques, 1);
  assert.ok(receipt.risk.generalization.after.maxProsecutorRisk <= 0.2);
  assert.ok(receipt.risk.generalization.levels.PatientAge! > 0);
  assert.equal(receipt.summary.released, 13);
  // The measured risk of the output agrees, and its headers are no less valid than without generalization.
  const after = JSON.parse(runCli(['risk', join(work, 'out'), '--threshold', '0.2', '--json']).stdout) as { maxProsecutorRisk: number };
  assert.ok(after.maxProsecutorRisk <= 0.2);
  const errors = (dir: string): number => readdirSync(dir).filter((f) => f.endsWith('.dcm')).reduce((n, f) => n + (spawnSync('dciodvfy', [join(dir, f)], { encoding: 'utf8' }).stderr.match(/^Error/gm)?.length ?? 0), 0);
  assert.equal(errors(join(work, 'out')), errors(join(work, 'plain')));
  // One patient alone cannot meet any threshold: withheld, nothing written.
  writeCohort(join(work, 'one'), [{ patient: 'Z0', age: '050Y', sex: 'M', weight: '90' }]);
  const one = runCli(['deid', join(work, 'one'), '--out', join(work, 'one-out'), '--option', 'retain-patient-characteristics', '--max-risk', '0.09', '--data-dir', join(work, 'data'), '-q']);
  assert.equal(one.status, 0, one.stderr);
  const r1 = JSON.parse(readFileSync(join(work, 'one-out', 'custos-receipt.json'), 'utf8')) as { risk: { withheld: boolean }; summary: { released: number; withheldByReason: Record<string, number> }; instances: Array<{ status: string; reasons?: string[] }> };
  assert.equal(r1.risk.withheld, true);
  assert.deepEqual([r1.summary.released, r1.summary.withheldByReason], [0, { REIDENTIFICATION_RISK: 1 }]);
  assert.deepEqual(r1.instances.map((i) => i.reasons), [['REIDENTIFICATION_RISK']]);
  assert.ok(!readdirSync(join(work, 'one-out')).some((f) => f.endsWith('.dcm')) && !existsSync(join(work, 'one-out', '0.dcm')));
});
