import { CustosError } from '../errors.ts';
import { DEFAULT_QUASI, type RiskReport, generalizeToThreshold, measureRisk, tupleOf } from '../deid/risk.ts';
import { quasiTag, riskInputsOfFiles } from '../deid/risk-inputs.ts';
import { parseCommand } from './args.ts';
import { RISK_HELP } from './help.ts';
import { collectInputs } from './walk.ts';

/** Each series of the DICOM files under `paths` once, as risk inputs; files that are not DICOM are skipped. */
const inputsOf = (paths: readonly string[], quasi: readonly string[]) => riskInputsOfFiles(collectInputs(paths), quasi);

const pct = (x: number): string => `${(x * 100).toFixed(1)} %`;

function describe(r: RiskReport, label: string): string {
  const lines = [
    `${label}: ${r.records} patients in ${r.classes} equivalence classes; k = ${r.k}`,
    `  prosecutor risk: maximum ${r.maxProsecutorRisk.toFixed(4)}, average ${r.avgProsecutorRisk.toFixed(4)}; above ${r.threshold}: ${r.recordsAboveThreshold} (${pct(r.records ? r.recordsAboveThreshold / r.records : 0)}); unique: ${r.uniques}`,
  ];
  if (r.journalist) lines.push(`  journalist risk (against the population given): maximum ${r.journalist.maxRisk.toFixed(4)}, average ${r.journalist.avgRisk.toFixed(4)}; above ${r.threshold}: ${r.journalist.recordsAboveThreshold}`);
  if (r.drivers.length) lines.push(`  driven by: ${r.drivers.map((d) => `${d.attribute} (without it ${d.recordsAboveThresholdWithout} above)`).join(', ')}`);
  return lines.join('\n') + '\n';
}

/** `custos risk`: the re-identification risk of a release (docs/risk.md). */
export async function riskMain(argv: string[]): Promise<number> {
  const { values: v, positionals } = parseCommand(argv, {
    threshold: { type: 'string', default: '0.09' }, quasi: { type: 'string' }, json: { type: 'boolean', default: false },
    prior: { type: 'string', multiple: true }, population: { type: 'string', multiple: true }, generalize: { type: 'boolean', default: false },
  });
  if (v.help) { process.stdout.write(RISK_HELP); return 0; }
  if (!positionals.length) throw new CustosError('USAGE', 'no input given');
  const threshold = Number(v.threshold);
  if (!(threshold > 0 && threshold <= 1)) throw new CustosError('USAGE', `--threshold must be in (0, 1], got ${JSON.stringify(v.threshold)}`);
  const quasi = v.quasi ? v.quasi.split(',').map((s) => s.trim()).filter(Boolean) : DEFAULT_QUASI;
  for (const q of quasi) quasiTag(q);
  const release = inputsOf(positionals, quasi);
  const prior = v.prior?.length ? inputsOf(v.prior, quasi).inputs : undefined;
  // The population: keyed by the generalized tuple; counted once per patient and tuple.
  let populationAt: ((levels: Record<string, number>) => (t: string) => number | undefined) | undefined;
  if (v.population?.length) {
    const pop = inputsOf(v.population, quasi).inputs;
    populationAt = (levels) => {
      const counts = new Map<string, Set<string>>();
      for (const r of pop) { const t = tupleOf(r.values, quasi, levels); const s = counts.get(t) ?? new Set(); s.add(r.patient); counts.set(t, s); }
      return (t) => counts.get(t)?.size;
    };
  }
  const options = { threshold, quasi, ...(prior ? { prior } : {}) };
  const report = measureRisk(release.inputs, { ...options, ...(populationAt ? { population: populationAt({}) } : {}) });
  const generalization = v.generalize ? generalizeToThreshold(release.inputs, options) : undefined;
  if (generalization && populationAt) generalization.report = measureRisk(release.inputs, { ...options, levels: generalization.levels, population: populationAt(generalization.levels) });
  if (v.json) {
    process.stdout.write(JSON.stringify({ files: release.files, skipped: release.skipped, ...report, ...(prior ? { cumulative: true } : {}), ...(generalization ? { generalization } : {}) }) + '\n');
  } else {
    process.stdout.write(`${release.files} files read (${release.skipped} not DICOM)\n`);
    process.stdout.write(describe(report, prior ? 'cumulative (what the recipient holds plus this release)' : 'release'));
    if (generalization) {
      const lv = Object.entries(generalization.levels).filter(([, l]) => l > 0).map(([q, l]) => `${q} level ${l}`).join(', ') || 'none';
      process.stdout.write(generalization.met
        ? `generalization to meet ${threshold}: ${lv}; information loss ${pct(generalization.informationLoss)}\n`
        : `no generalization meets ${threshold}: even with every quasi-identifier suppressed (too few patients); withhold the release\n`);
      process.stdout.write(describe(generalization.report, '  after it'));
    }
  }
  return report.maxProsecutorRisk > threshold ? 1 : 0;
}
