import { type Charset, charsetFor } from '../dicom/charset.ts';
import { type Dataset, asciiValue } from '../dicom/dataset.ts';
import { Tags } from '../dicom/tag.ts';
import { isStringVR } from '../dicom/vr.ts';
import type { DenyList } from './scrub.ts';

/** Where an identifying value of the input survived in the output: the element's path, never the value. */
export interface ResidualPhi { checked: number; found: string[] }

const hex = (t: number): string => `(${(t >>> 16).toString(16).padStart(4, '0')},${(t & 0xffff).toString(16).padStart(4, '0')})`;

/**
 * The residual PHI scan of a de-identified dataset: every text value (sequences included; UIDs
 * excluded, they are mapped, not free text) against the deny list seeded from the input's own
 * identifying values (names, IDs, accession number, addresses, phone numbers). Pure.
 */
export function scanResidualPhi(ds: Dataset, deny: DenyList, cs: Charset = charsetFor(asciiValue(ds, Tags.SpecificCharacterSet))): ResidualPhi {
  const out: ResidualPhi = { checked: 0, found: [] };
  if (!deny.pattern) return out;
  const walk = (d: Dataset, path: string, c: Charset): void => {
    for (const el of d.elements) {
      if (el.items) { el.items.forEach((it, i) => walk(it, `${path}${hex(el.tag)}[${i}].`, c)); continue; }
      if (!isStringVR(el.vr) || el.vr === 'UI' || !el.value?.length) continue;
      out.checked++;
      deny.pattern!.lastIndex = 0;
      if (deny.pattern!.test(c.decode(el.value, el.vr))) out.found.push(`${path}${hex(el.tag)}`);
    }
  };
  walk(ds, '', cs);
  return out;
}
