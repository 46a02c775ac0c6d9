import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_QUASI, type RiskInput, type RiskReport, generalizeToThreshold, measureRisk } from '../deid/risk.ts';
import { NOT_GENERALIZABLE_IN_HEADER, generalizeFiles } from '../deid/risk-apply.ts';
import { riskInputsOfFiles } from '../deid/risk-inputs.ts';
import type { InstanceOutcome } from '../pipeline/deid-file.ts';
import type { WithheldOutcome } from './deid-command.ts';

type Released = Extract<InstanceOutcome, { status: 'released' }>;
type Summary = Pick<RiskReport, 'records' | 'k' | 'maxProsecutorRisk' | 'avgProsecutorRisk' | 'recordsAboveThreshold' | 'uniques' | 'drivers'>;

/** What the receipt records of the risk step (docs/risk.md). */
export interface ReceiptRisk {
  threshold: number;
  quasi: string[];
  measured: Summary;
  generalization?: { levels: Record<string, number>; informationLoss: number; after: Summary };
  /** No generalization met the threshold: every output was withheld (REIDENTIFICATION_RISK). */
  withheld?: boolean;
}

const summary = (r: RiskReport): Summary => ({ records: r.records, k: r.k, maxProsecutorRisk: r.maxProsecutorRisk, avgProsecutorRisk: r.avgProsecutorRisk, recordsAboveThreshold: r.recordsAboveThreshold, uniques: r.uniques, drivers: r.drivers });

const inputsOf = (paths: readonly string[]): RiskInput[] => riskInputsOfFiles(paths, DEFAULT_QUASI).inputs;

/**
 * `custos deid --max-risk`: measure the released outputs; above the threshold (or k < 5 in a release
 * of more than 20 patients), generalize their headers in place until it is met, or withhold them
 * all when nothing meets it. Updates the outcomes' output digests; returns the withheld outcomes.
 */
export function applyMaxRisk(outDir: string, outcomes: InstanceOutcome[], threshold: number): { risk: ReceiptRisk; withheld: Array<{ index: number; outcome: WithheldOutcome }> } {
  const released = outcomes.map((o, i) => ({ o, i })).filter((x): x is { o: Released; i: number } => x.o?.status === 'released');
  const paths = released.map((x) => join(outDir, x.o.output.path));
  const inputs = inputsOf(paths);
  const measured = measureRisk(inputs, { threshold });
  const risk: ReceiptRisk = { threshold, quasi: [...DEFAULT_QUASI], measured: summary(measured) };
  const patients = new Set(inputs.map((r) => r.patient)).size;
  if (measured.maxProsecutorRisk <= threshold && (patients <= 20 || measured.k >= 5)) return { risk, withheld: [] };
  const g = generalizeToThreshold(inputs, { threshold, fixed: NOT_GENERALIZABLE_IN_HEADER });
  if (!g.met) {
    for (const p of paths) rmSync(p, { force: true });
    const withheld = released.map(({ o, i }) => ({ index: i, outcome: { status: 'withheld' as const, input: o.input, reasons: ['REIDENTIFICATION_RISK'] } }));
    return { risk: { ...risk, withheld: true }, withheld };
  }
  const digests = generalizeFiles(paths, g.levels);
  released.forEach(({ o }, k) => { o.output = { ...o.output, ...digests[k]! }; });
  const after = measureRisk(inputsOf(paths), { threshold });
  return { risk: { ...risk, generalization: { levels: Object.fromEntries(Object.entries(g.levels).filter(([, l]) => l > 0)), informationLoss: g.informationLoss, after: summary(after) } }, withheld: [] };
}
