import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type RiskInput, generalizeToThreshold, measureRisk, tupleOf } from '../src/deid/risk.ts';

const Q = ['PatientAge', 'PatientSex', 'PatientWeight'];
const rec = (patient: string, age: string, sex: string, weight: string): RiskInput => ({ patient, values: { PatientAge: age, PatientSex: sex, PatientWeight: weight } });
// Synthetic cohort: p6 is the only 67-year-old, unique on age + sex + weight.
const COHORT = [
  rec('p1', '040Y', 'F', '70'), rec('p2', '040Y', 'F', '70'), rec('p3', '040Y', 'F', '70'),
  rec('p4', '041Y', 'M', '80'), rec('p5', '043Y', 'M', '80'), rec('p6', '067Y', 'F', '70'),
];

test('risk: classes, k, prosecutor risk, records above threshold, uniques and drivers of a hand-computed cohort', () => {
  const r = measureRisk(COHORT, { threshold: 0.5, quasi: Q });
  // Classes: {p1,p2,p3}, {p4}, {p5}, {p6}.
  assert.equal(r.records, 6);
  assert.equal(r.classes, 4);
  assert.equal(r.k, 1);
  assert.equal(r.maxProsecutorRisk, 1);
  assert.equal(r.avgProsecutorRisk, 4 / 6);
  assert.equal(r.uniques, 3);
  assert.equal(r.recordsAboveThreshold, 3);
  // Without age: (F,70)x4 and (M,80)x2, nobody above 0.5; sex or weight alone change nothing.
  assert.deepEqual(r.drivers, [{ attribute: 'PatientAge', recordsAboveThresholdWithout: 0 }]);
});

test('risk: the unique patient is generalized below the threshold, with the hierarchy and its information loss reported', () => {
  const g = generalizeToThreshold(COHORT, { threshold: 0.5, quasi: Q });
  assert.deepEqual(g.levels, { PatientAge: 4, PatientSex: 0, PatientWeight: 0 });
  assert.deepEqual(g.steps.map((s) => `${s.attribute}:${s.level}`), ['PatientAge:1', 'PatientAge:2', 'PatientAge:3', 'PatientAge:4']);
  assert.equal(g.report.k, 2);
  assert.equal(g.report.maxProsecutorRisk, 0.5);
  assert.equal(g.report.recordsAboveThreshold, 0);
  assert.equal(g.informationLoss, 1 / 3);
  // p6 stays unique until age is suppressed; a threshold of 1 needs no generalization at all.
  assert.deepEqual(generalizeToThreshold(COHORT, { threshold: 1, quasi: Q }).steps, []);
});

test('risk: journalist risk against population counts, which hold even for a first release of one record', () => {
  const population = new Map([
    [tupleOf(COHORT[0]!.values, Q, {}), 50], [tupleOf(COHORT[3]!.values, Q, {}), 10], [tupleOf(COHORT[4]!.values, Q, {}), 1], [tupleOf(COHORT[5]!.values, Q, {}), 2],
  ]);
  const r = measureRisk(COHORT, { threshold: 0.09, quasi: Q, population: (t) => population.get(t) });
  assert.equal(r.journalist!.maxRisk, 1);
  assert.ok(Math.abs(r.journalist!.avgRisk - (3 * 0.02 + 0.1 + 1 + 0.5) / 6) < 1e-12);
  assert.equal(r.journalist!.recordsAboveThreshold, 3);
  // One record alone: the release says k = 1 (risk 1), the population says 1 in 50.
  const first = measureRisk([COHORT[0]!], { threshold: 0.09, quasi: Q, population: (t) => population.get(t) });
  assert.equal(first.maxProsecutorRisk, 1);
  assert.equal(first.journalist!.maxRisk, 0.02);
});

test('risk: cumulative risk across two releases to one recipient links each patient\'s studies, and is higher than either alone', () => {
  const q = ['PatientSex', 'StudyDate'];
  const study = (patient: string, date: string): RiskInput => ({ patient, values: { PatientSex: 'M', StudyDate: date } });
  const first = [study('q1', '20260105'), study('q2', '20260105'), study('q3', '20260212'), study('q4', '20260212')];
  const second = [study('q1', '20260303'), study('q3', '20260303'), study('q2', '20260410'), study('q4', '20260410')];
  const a = measureRisk(first, { threshold: 0.09, quasi: q });
  const b = measureRisk(second, { threshold: 0.09, quasi: q });
  const both = measureRisk(second, { threshold: 0.09, quasi: q, prior: first });
  assert.deepEqual([a.k, a.maxProsecutorRisk, a.avgProsecutorRisk], [2, 0.5, 0.5]);
  assert.deepEqual([b.k, b.maxProsecutorRisk, b.avgProsecutorRisk], [2, 0.5, 0.5]);
  // q1 {Jan 5, Mar 3}, q2 {Jan 5, Apr 10}, q3 {Feb 12, Mar 3}, q4 {Feb 12, Apr 10}: every patient unique.
  assert.deepEqual([both.k, both.maxProsecutorRisk, both.avgProsecutorRisk, both.uniques], [1, 1, 1, 4]);
  assert.ok(both.avgProsecutorRisk > Math.max(a.avgProsecutorRisk, b.avgProsecutorRisk));
  // Dates to the month: Jan/Feb and Mar/Apr each pair two patients again.
  assert.equal(measureRisk(second, { threshold: 0.09, quasi: q, prior: first, levels: { StudyDate: 2 } }).k, 4);
});

test('risk cross-check: on 5,000 generated records, k, maximum and average risk equal a plain group-by', () => {
  let seed = 7;
  const rnd = (n: number): number => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed % n; };
  const sexes = ['F', 'M', 'O'];
  const records: RiskInput[] = Array.from({ length: 5000 }, (_, i) => rec(`p${i}`, `0${String(20 + rnd(60)).padStart(2, '0')}Y`, sexes[rnd(3)]!, String(45 + rnd(50))));
  const levelSets: Array<Record<string, number>> = [{}, { PatientAge: 1 }, { PatientAge: 2, PatientWeight: 2 }, { PatientAge: 3, PatientWeight: 3, PatientSex: 1 }];
  for (const levels of levelSets) {
    const r = measureRisk(records, { threshold: 0.09, quasi: Q, levels });
    // Independent: bands computed here directly, then a group-by.
    const age = (a: string): string => { const y = Number(a.slice(0, 3)); const w = [0, 5, 10, 20][(levels as Record<string, number>).PatientAge ?? 0]!; return w ? String(Math.floor(y / w)) : String(y); };
    const wt = (x: string): string => { const w = [0, 5, 10, 20][(levels as Record<string, number>).PatientWeight ?? 0]!; return w ? String(Math.floor(Number(x) / w)) : x; };
    const sex = (s: string): string => ((levels as Record<string, number>).PatientSex ? '*' : s);
    const groups = new Map<string, number>();
    for (const x of records) { const key = `${age(x.values.PatientAge!)}|${sex(x.values.PatientSex!)}|${wt(x.values.PatientWeight!)}`; groups.set(key, (groups.get(key) ?? 0) + 1); }
    const k = Math.min(...groups.values());
    assert.equal(r.k, k, JSON.stringify(levels));
    assert.equal(r.classes, groups.size);
    assert.equal(r.maxProsecutorRisk, 1 / k);
    assert.ok(Math.abs(r.avgProsecutorRisk - groups.size / records.length) < 1e-12);
    assert.equal(r.uniques, [...groups.values()].filter((n) => n === 1).length);
    assert.equal(r.recordsAboveThreshold, [...groups.values()].filter((n) => 1 / n > 0.09).reduce((s, n) => s + n, 0));
  }
});
