import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { CustosError } from '../errors.ts';
import { FileSource } from '../dicom/byte-source.ts';
import { type DataElement, type Dataset, findElement, putElement } from '../dicom/dataset.ts';
import { writeChunksAtomic } from '../dicom/file-io.ts';
import { readDicom } from '../dicom/read.ts';
import { tag } from '../dicom/tag.ts';
import { encodePart10 } from '../dicom/write.ts';
import { ageYears } from './risk.ts';
import { quasiTag } from './risk-inputs.ts';

/** Attributes generalization cannot touch in a header: Type 1 in every IOD that has them. */
export const NOT_GENERALIZABLE_IN_HEADER = ['Modality', 'SOPClassUID'] as const;

/** Type 2 attributes (PS3.3): suppressed to an empty value; the others are removed. */
const TYPE2 = new Set(['PatientBirthDate', 'PatientSex', 'Manufacturer', 'StudyDate']);

/** The dates that go with Study Date: generalized together, or the others would give it away. */
const DATES = [tag(0x0008, 0x0020), tag(0x0008, 0x0021), tag(0x0008, 0x0022), tag(0x0008, 0x0023)];
const DATETIMES = [tag(0x0008, 0x002a)];

const text = (el: DataElement | undefined): string | undefined => el?.value?.toString('latin1').replace(/[\0 ]+$/, '').trim();
const put = (ds: Dataset, t: number, vr: DataElement['vr'], v: string): void => putElement(ds, { tag: t, vr, value: Buffer.from(v.length % 2 ? `${v} ` : v, 'latin1') });
const lower = (v: string, width: number): number => Math.floor(Number.parseFloat(v) / width) * width;
const ds6 = (n: number): string => String(Number(n.toFixed(6)));

/**
 * Write one generalization into a header, as valid values (PS3.5 6.2): a band is written as its lower
 * bound (age 040Y for 40-44, weight 70 for 70-74 kg), a date as the first day of its month or year,
 * a suppressed attribute emptied (Type 2) or removed. Pure: changes `ds` only.
 */
export function generalizeHeader(ds: Dataset, levels: Readonly<Record<string, number>>): void {
  const remove = (t: number): void => { ds.elements = ds.elements.filter((e) => e.tag !== t); };
  const suppress = (q: string): void => { if (TYPE2.has(q)) putElement(ds, { tag: quasiTag(q), vr: findElement(ds, quasiTag(q))?.vr ?? 'LO', value: Buffer.alloc(0) }); else remove(quasiTag(q)); };
  for (const [q, level] of Object.entries(levels)) {
    if (!level) continue;
    if ((NOT_GENERALIZABLE_IN_HEADER as readonly string[]).includes(q)) throw new CustosError('DEID_BAD_OPTION', `${q} cannot be generalized in a DICOM header (Type 1)`);
    const t = quasiTag(q);
    const v = text(findElement(ds, t));
    if (v === undefined || v === '') continue;
    switch (q) {
      case 'PatientAge': {
        const y = ageYears(v);
        if (level >= 4 || y === undefined) { suppress(q); break; }
        put(ds, t, 'AS', `${String(lower(String(y), [5, 10, 20][level - 1]!)).padStart(3, '0')}Y`);
        break;
      }
      case 'PatientBirthDate': {
        if (level >= 3 || !/^\d{4}/.test(v)) { suppress(q); break; }
        put(ds, t, 'DA', `${lower(v.slice(0, 4), [5, 10][level - 1]!)}0101`);
        break;
      }
      case 'PatientWeight': case 'PatientSize': {
        const widths = q === 'PatientWeight' ? [5, 10, 20] : [0.05, 0.1, 0.2];
        if (level > widths.length || !Number.isFinite(Number.parseFloat(v))) { suppress(q); break; }
        put(ds, t, 'DS', ds6(lower(v, widths[level - 1]!)));
        break;
      }
      case 'StudyDate': {
        for (const d of DATES) {
          const dv = text(findElement(ds, d));
          if (!dv || !/^\d{8}$/.test(dv)) continue;
          if (level >= 3) { if (d === t) suppress(q); else remove(d); continue; }
          put(ds, d, 'DA', level === 1 ? `${dv.slice(0, 6)}01` : `${dv.slice(0, 4)}0101`);
        }
        for (const d of DATETIMES) {
          const dv = text(findElement(ds, d));
          if (!dv) continue;
          if (level >= 3) remove(d);
          else put(ds, d, 'DT', level === 1 ? `${dv.slice(0, 6)}01` : `${dv.slice(0, 4)}0101`);
        }
        break;
      }
      default:
        suppress(q); // categorical: one level, suppressed
    }
  }
}

/** Rewrite released files in place with a generalization (atomically); their new digests. */
export function generalizeFiles(paths: readonly string[], levels: Readonly<Record<string, number>>): Array<{ sha256: string; bytes: number }> {
  return paths.map((p) => {
    const src = new FileSource(p);
    try {
      const file = readDicom(src);
      generalizeHeader(file.dataset, levels);
      const chunks = encodePart10(file.meta, file.dataset, file.transferSyntax, src);
      writeChunksAtomic(p, chunks, src, { fsync: true });
      return digestOf(p);
    } finally {
      src.close();
    }
  });
}

function digestOf(p: string): { sha256: string; bytes: number } {
  const b = readFileSync(p);
  return { sha256: createHash('sha256').update(b).digest('hex'), bytes: b.length };
}
