import type { Tag } from '../dicom/tag.ts';
import { DICTIONARY_EDITION, OUTSIDE_E1_1 } from './outside-e1-1-table.ts';

export { DICTIONARY_EDITION };

/**
 * What happens to a standard attribute that PS3.15 Table E.1-1 does not list, decided per attribute
 * of the data dictionary (PS3.6) by scripts/gen-outside-e1-1.ts; docs/deid.md gives the rules and
 * docs/deid-outside-e1-1.tsv every attribute with its decision.
 *   K keep · U map the UID · X remove · Z empty · S scrub free text · A date/time rule ·
 *   E AE title: removed unless Retain Device Identity · R sequence: items de-identified
 */
export type OutsideDecision = 'K' | 'U' | 'X' | 'Z' | 'S' | 'A' | 'E' | 'R';

let table: Map<Tag, OutsideDecision> | undefined;

function load(): Map<Tag, OutsideDecision> {
  const m = new Map<Tag, OutsideDecision>();
  for (let i = 0; i + 9 <= OUTSIDE_E1_1.length; i += 9) {
    m.set(parseInt(OUTSIDE_E1_1.slice(i, i + 8), 16) >>> 0, OUTSIDE_E1_1[i + 8] as OutsideDecision);
  }
  return m;
}

/** The decision for a standard tag outside Table E.1-1; undefined when the dictionary edition does not know it. */
export function outsideDecision(t: Tag): OutsideDecision | undefined {
  table ??= load();
  return table.get(t);
}
