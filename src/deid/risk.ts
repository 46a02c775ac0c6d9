/*
 * Re-identification risk of a release (pure: no I/O). Formulas as in ../docs/risk.md:
 * - a record is a patient (linked across studies by the release's pseudonymous Patient ID); its
 *   profile is the set of its studies' quasi-identifier tuples;
 * - equivalence classes group records with the same profile; f = class size in the release;
 *   prosecutor risk of a record = 1/f, maximum = 1/k (k = smallest class), average = classes/records;
 * - journalist risk of a record = 1/F, F = the size of its class in the population it was drawn
 *   from (the hospital's own patients, as keyed counts), never below f;
 * - cumulative risk to a recipient: the same over what it already holds plus this release, where a
 *   patient released twice has both studies' tuples in one profile (more specific, so riskier).
 */

export type QuasiValues = Readonly<Record<string, string | null>>;

/** One study of a patient as released: its quasi-identifier values by DICOM keyword. */
export interface RiskInput { patient: string; values: QuasiValues }

/** A generalization hierarchy: level 0 is the value as released, `levels` (the last) suppresses it. */
export interface Hierarchy { levels: number; generalize(value: string, level: number): string }

const SUPPRESSED = '*';

function band(width: number, unit: string) {
  return (v: string): string => {
    const n = Number.parseFloat(v);
    if (!Number.isFinite(n)) return SUPPRESSED;
    const lo = Math.floor(n / width) * width;
    return `${lo}-${lo + width}${unit}`;
  };
}

/** Age from AS (e.g. "045Y"), in years; months, weeks and days count as under one year. */
export function ageYears(as: string): number | undefined {
  const m = /^(\d{3})([DWMY])$/.exec(as.trim());
  if (!m) return undefined;
  return m[2] === 'Y' ? Number(m[1]) : 0;
}

const numeric = (widths: number[], unit: string): Hierarchy => ({
  levels: widths.length + 1,
  generalize: (v, level) => (level === 0 ? v : level > widths.length ? SUPPRESSED : band(widths[level - 1]!, unit)(v)),
});

/** Categorical values: as released, then suppressed. */
const categorical: Hierarchy = { levels: 1, generalize: (v, level) => (level === 0 ? v : SUPPRESSED) };

/** The hierarchies of the default quasi-identifiers (values as the de-identified header holds them). */
export const HIERARCHIES: Readonly<Record<string, Hierarchy>> = {
  // Age in years: exact, 5, 10, 20-year bands, suppressed.
  PatientAge: {
    levels: 4,
    generalize: (v, level) => {
      const y = ageYears(v);
      if (level === 0) return v;
      if (y === undefined || level >= 4) return SUPPRESSED;
      return band([5, 10, 20][level - 1]!, 'y')(String(y));
    },
  },
  // Birth year (a date kept to its year, or a full date): year, 5-year, decade, suppressed.
  PatientBirthDate: {
    levels: 3,
    generalize: (v, level) => {
      if (level === 0) return v;
      const y = /^(\d{4})/.exec(v)?.[1];
      if (!y || level >= 3) return SUPPRESSED;
      return band([5, 10][level - 1]!, '')(y);
    },
  },
  PatientSex: categorical,
  PatientWeight: numeric([5, 10, 20], 'kg'),
  PatientSize: numeric([0.05, 0.1, 0.2], 'm'),
  // Dates (shifted or real): day, month, year, suppressed.
  StudyDate: {
    levels: 3,
    generalize: (v, level) => (level === 0 ? v : level === 1 ? v.slice(0, 6) : level === 2 ? v.slice(0, 4) : SUPPRESSED),
  },
  Modality: categorical,
  BodyPartExamined: categorical,
  Manufacturer: categorical,
  ManufacturerModelName: categorical,
  StationName: categorical,
  InstitutionName: categorical,
  EthnicGroup: categorical,
  SOPClassUID: categorical,
  ProtocolName: categorical,
};

export const DEFAULT_QUASI = Object.keys(HIERARCHIES);

/** Levels per attribute (absent: 0). */
export type Levels = Readonly<Record<string, number>>;

function generalized(values: QuasiValues, quasi: readonly string[], levels: Levels): string {
  return quasi.map((q) => {
    const v = values[q];
    if (v === null || v === undefined || v === '') return '';
    return (HIERARCHIES[q] ?? categorical).generalize(v, levels[q] ?? 0);
  }).join('\u001f');
}

/** Each patient's profile: the sorted, distinct tuples of its studies (a patient released twice is one record). */
function profiles(inputs: readonly RiskInput[], quasi: readonly string[], levels: Levels): Map<string, string> {
  const byPatient = new Map<string, Set<string>>();
  for (const r of inputs) {
    const t = generalized(r.values, quasi, levels);
    const s = byPatient.get(r.patient);
    if (s) s.add(t); else byPatient.set(r.patient, new Set([t]));
  }
  const out = new Map<string, string>();
  for (const [p, s] of byPatient) out.set(p, [...s].sort().join('\u001e'));
  return out;
}

export interface Driver { attribute: string; recordsAboveThresholdWithout: number }

export interface RiskReport {
  records: number;
  classes: number;
  k: number;
  maxProsecutorRisk: number;
  avgProsecutorRisk: number;
  threshold: number;
  recordsAboveThreshold: number;
  uniques: number;
  /** The attributes whose removal would leave the fewest records above the threshold, most effective first. */
  drivers: Driver[];
  quasi: string[];
  levels: Record<string, number>;
  journalist?: { maxRisk: number; avgRisk: number; recordsAboveThreshold: number };
}

function classSizes(p: ReadonlyMap<string, string>): Map<string, number> {
  const sizes = new Map<string, number>();
  for (const key of p.values()) sizes.set(key, (sizes.get(key) ?? 0) + 1);
  return sizes;
}

function aboveThreshold(p: ReadonlyMap<string, string>, threshold: number, over?: ReadonlySet<string>): number {
  const sizes = classSizes(p);
  let n = 0;
  for (const [patient, key] of p) if ((!over || over.has(patient)) && 1 / sizes.get(key)! > threshold) n++;
  return n;
}

export interface MeasureOptions {
  threshold: number;
  quasi?: readonly string[];
  levels?: Levels;
  /**
   * Population class sizes of a study tuple at these levels (keyed counts of the hospital's
   * patients): journalist risk uses the rarest tuple of a record's profile.
   */
  population?: (tuple: string) => number | undefined;
  /** What the recipient already holds (earlier releases): measured together with this release. */
  prior?: readonly RiskInput[];
  /** Work out the drivers (default true; one more pass per attribute). */
  drivers?: boolean;
}

/** The risk of releasing `inputs` (with `prior`, the cumulative risk of the recipient's holdings). */
export function measureRisk(inputs: readonly RiskInput[], o: MeasureOptions): RiskReport {
  const quasi = [...(o.quasi ?? DEFAULT_QUASI)];
  const levels = o.levels ?? {};
  const all = o.prior?.length ? [...o.prior, ...inputs] : inputs;
  const p = profiles(all, quasi, levels);
  // The records that count are this release's patients, judged against everything the recipient holds.
  const released = new Set(inputs.map((r) => r.patient));
  const sizes = classSizes(p);
  let k = Number.POSITIVE_INFINITY, sumRisk = 0, above = 0, uniques = 0;
  const classesSeen = new Set<string>();
  for (const patient of released) {
    const f = sizes.get(p.get(patient)!)!;
    classesSeen.add(p.get(patient)!);
    k = Math.min(k, f);
    sumRisk += 1 / f;
    if (1 / f > o.threshold) above++;
    if (f === 1) uniques++;
  }
  const records = released.size;
  const drivers = o.drivers === false || above === 0 ? [] : quasi.map((q) => {
    const without = profiles(all, quasi.filter((x) => x !== q), levels);
    return { attribute: q, recordsAboveThresholdWithout: aboveThreshold(without, o.threshold, released) };
  }).filter((d) => d.recordsAboveThresholdWithout < above).sort((a, b) => a.recordsAboveThresholdWithout - b.recordsAboveThresholdWithout || a.attribute.localeCompare(b.attribute));
  const report: RiskReport = {
    records, classes: classesSeen.size, k: records ? k : 0,
    maxProsecutorRisk: records ? 1 / k : 0, avgProsecutorRisk: records ? sumRisk / records : 0,
    threshold: o.threshold, recordsAboveThreshold: above, uniques, drivers, quasi, levels: { ...levels },
  };
  if (o.population) {
    let max = 0, sum = 0, jAbove = 0;
    const byPatient = new Map<string, string[]>();
    for (const r of inputs) {
      const l = byPatient.get(r.patient) ?? [];
      l.push(generalized(r.values, quasi, levels));
      byPatient.set(r.patient, l);
    }
    for (const [patient, tuples] of byPatient) {
      const f = sizes.get(p.get(patient)!)!;
      const F = Math.max(f, Math.min(...tuples.map((t) => o.population!(t) ?? 0)));
      const risk = 1 / F;
      max = Math.max(max, risk);
      sum += risk;
      if (risk > o.threshold) jAbove++;
    }
    report.journalist = { maxRisk: max, avgRisk: byPatient.size ? sum / byPatient.size : 0, recordsAboveThreshold: jAbove };
  }
  return report;
}

/** Generalized tuple of one study at given levels (the key population counts are kept under, before keying). */
export function tupleOf(values: QuasiValues, quasi: readonly string[], levels: Levels): string {
  return generalized(values, quasi, levels);
}

export interface Generalization { levels: Record<string, number>; report: RiskReport; informationLoss: number; steps: Array<{ attribute: string; level: number; maxProsecutorRisk: number }>; /** False: even with every quasi-identifier suppressed the release does not meet the threshold (withhold it). */ met: boolean }

/**
 * The least generalization (greedy over the hierarchies: each step raises the level of the attribute
 * that leaves the fewest records above the threshold) whose release meets `threshold` and, for a
 * release of more than 20 patients, k >= minK. Information loss: the mean over attributes of
 * level / levels (0 nothing generalized, 1 everything suppressed).
 */
export function generalizeToThreshold(inputs: readonly RiskInput[], o: MeasureOptions & { minK?: number; /** Attributes that cannot be generalized (e.g. Type 1 in the header). */ fixed?: readonly string[] }): Generalization {
  const quasi = [...(o.quasi ?? DEFAULT_QUASI)];
  const levels: Record<string, number> = Object.fromEntries(quasi.map((q) => [q, o.levels?.[q] ?? 0]));
  const patients = new Set(inputs.map((r) => r.patient)).size;
  const minK = patients > 20 ? (o.minK ?? 5) : 1;
  const meets = (r: RiskReport): boolean => r.maxProsecutorRisk <= o.threshold && r.k >= minK;
  const steps: Generalization['steps'] = [];
  let report = measureRisk(inputs, { ...o, quasi, levels, drivers: false });
  while (!meets(report)) {
    let best: { q: string; r: RiskReport } | undefined;
    for (const q of quasi) {
      const h = HIERARCHIES[q] ?? categorical;
      if (levels[q]! >= h.levels || o.fixed?.includes(q)) continue;
      const r = measureRisk(inputs, { ...o, quasi, levels: { ...levels, [q]: levels[q]! + 1 }, drivers: false });
      if (!best || r.recordsAboveThreshold < best.r.recordsAboveThreshold || (r.recordsAboveThreshold === best.r.recordsAboveThreshold && r.maxProsecutorRisk < best.r.maxProsecutorRisk)) best = { q, r };
    }
    if (!best) break; // everything suppressed: what remains is the floor
    levels[best.q]! += 1;
    report = best.r;
    steps.push({ attribute: best.q, level: levels[best.q]!, maxProsecutorRisk: report.maxProsecutorRisk });
  }
  report = measureRisk(inputs, { ...o, quasi, levels });
  const informationLoss = quasi.reduce((s, q) => s + levels[q]! / (HIERARCHIES[q] ?? categorical).levels, 0) / quasi.length;
  return { levels, report, informationLoss, steps, met: meets(report) };
}
