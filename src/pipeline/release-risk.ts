import { ChunksSource, BufferSource } from '../dicom/byte-source.ts';
import { readDicom } from '../dicom/read.ts';
import { encodePart10 } from '../dicom/write.ts';
import { SIG } from '../integrity/dicom-signature.ts';
import { DEFAULT_QUASI, HIERARCHIES, type QuasiValues } from '../deid/risk.ts';
import { NOT_GENERALIZABLE_IN_HEADER, generalizeHeader } from '../deid/risk-apply.ts';
import { riskInputOf } from '../deid/risk-inputs.ts';
import type { Reason } from '../policy/decision.ts';
import { populationCount, populationQuery } from '../policy/risk-population.ts';
import type { Queryable } from '../store/database.ts';
import type { Outgoing } from './forwarder.ts';

/** A series' risk decision for one recipient: its generalization levels, or why it is withheld. */
export type SeriesRisk = { levels: Record<string, number>; risk: number; population: number } | { withheld: Reason };

/**
 * The journalist risk of releasing a de-identified series (docs/risk.md): F = the hospital's patients
 * whose series match the output's quasi-identifiers — only those the recipient's profile kept as they
 * were (a shifted date or a cleaned text cannot be compared with the population) — risk 1/F. Above
 * `maxRisk`: generalized greedily (each step the attribute whose next level grows F most) when the
 * agreement allows it, else withheld with REIDENTIFICATION_RISK naming the drivers.
 */
export async function decideSeriesRisk(db: Queryable, key: Buffer, original: Buffer, out: Outgoing, maxRisk: number, allowGeneralization: boolean): Promise<SeriesRisk> {
  const before = riskInputOf(readDicom(new BufferSource(original), { stopAtPixelData: true }).dataset, DEFAULT_QUASI).values;
  const after = riskInputOf(readDicom(new ChunksSource(out.part10), { stopAtPixelData: true }).dataset, DEFAULT_QUASI).values;
  const kept: Record<string, string | null> = {};
  for (const q of DEFAULT_QUASI) if (after[q] != null && after[q] === before[q]) kept[q] = after[q]!;
  const count = async (levels: Record<string, number>): Promise<number> => Math.max(1, await populationCount(db, populationQuery(kept as QuasiValues, levels, key)));
  const levels: Record<string, number> = {};
  let F = await count(levels);
  if (1 / F <= maxRisk) return { levels, risk: 1 / F, population: F };
  if (allowGeneralization) {
    for (;;) {
      let best: { q: string; F: number } | undefined;
      for (const q of Object.keys(kept)) {
        if ((NOT_GENERALIZABLE_IN_HEADER as readonly string[]).includes(q) || (levels[q] ?? 0) >= (HIERARCHIES[q]?.levels ?? 1)) continue;
        const f = await count({ ...levels, [q]: (levels[q] ?? 0) + 1 });
        if (!best || f > best.F) best = { q, F: f };
      }
      if (!best) break;
      levels[best.q] = (levels[best.q] ?? 0) + 1;
      F = best.F;
      if (1 / F <= maxRisk) return { levels, risk: 1 / F, population: F };
    }
  }
  // The drivers: the kept attributes whose suppression would grow F the most.
  const drivers: Array<{ q: string; F: number }> = [];
  for (const q of Object.keys(kept)) if (!(NOT_GENERALIZABLE_IN_HEADER as readonly string[]).includes(q)) drivers.push({ q, F: await count({ [q]: HIERARCHIES[q]?.levels ?? 1 }) });
  drivers.sort((a, b) => b.F - a.F);
  const top = drivers.filter((d) => d.F > 1).slice(0, 3).map((d) => `${d.q} (without it 1 in ${d.F})`).join(', ');
  return { withheld: { code: 'REIDENTIFICATION_RISK', detail: `1 in ${F} of the hospital's patients share this release's quasi-identifiers (risk ${(1 / F).toFixed(3)} > ${maxRisk}${allowGeneralization ? ', and no generalization meets it' : '; the agreement does not allow generalization'})${top ? `; driven by ${top}` : ''}` } };
}

/** An outgoing instance with a series' generalization written into its header. */
export function generalizeOutgoing(out: Outgoing, levels: Record<string, number>): Outgoing {
  if (!Object.values(levels).some((l) => l > 0)) return out;
  const src = new ChunksSource(out.part10);
  const file = readDicom(src);
  generalizeHeader(file.dataset, levels);
  // A signature added before no longer covers the header: removed (the caller signs again).
  file.dataset.elements = file.dataset.elements.filter((e) => e.tag !== SIG.MACParametersSequence && e.tag !== SIG.DigitalSignaturesSequence);
  const part10 = encodePart10(file.meta, file.dataset, file.transferSyntax, src).map((c) => (Buffer.isBuffer(c) ? c : src.read(c.offset, c.length)));
  return { ...out, part10, bytes: part10.reduce((n, b) => n + b.length, 0) };
}
