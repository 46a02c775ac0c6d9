import { FileSource } from '../dicom/byte-source.ts';
import { charsetFor } from '../dicom/charset.ts';
import { readDicom } from '../dicom/read.ts';
import { type Dataset, asciiValue, findElement } from '../dicom/dataset.ts';
import { Tags, tag } from '../dicom/tag.ts';
import { CustosError } from '../errors.ts';
import type { RiskInput } from './risk.ts';

/** The default quasi-identifiers' tags (PS3.6 keywords); others are given as gggg,eeee. */
const QUASI_TAGS: Readonly<Record<string, number>> = {
  PatientAge: tag(0x0010, 0x1010), PatientBirthDate: Tags.PatientBirthDate, PatientSex: tag(0x0010, 0x0040),
  PatientWeight: tag(0x0010, 0x1030), PatientSize: tag(0x0010, 0x1020), StudyDate: Tags.StudyDate,
  Modality: Tags.Modality, BodyPartExamined: Tags.BodyPartExamined, Manufacturer: tag(0x0008, 0x0070),
  ManufacturerModelName: tag(0x0008, 0x1090), StationName: tag(0x0008, 0x1010), InstitutionName: Tags.InstitutionName,
  EthnicGroup: tag(0x0010, 0x2160), SOPClassUID: Tags.SOPClassUID, ProtocolName: Tags.ProtocolName,
};

/** A quasi-identifier named by keyword or as gggg,eeee: its tag (USAGE when unknown). */
export function quasiTag(name: string): number {
  const known = QUASI_TAGS[name];
  if (known !== undefined) return known;
  const m = /^\(?([0-9a-fA-F]{4}),([0-9a-fA-F]{4})\)?$/.exec(name);
  if (!m) throw new CustosError('USAGE', `unknown quasi-identifier ${JSON.stringify(name)}: a keyword (${Object.keys(QUASI_TAGS).join(', ')}) or gggg,eeee`);
  return tag(parseInt(m[1]!, 16), parseInt(m[2]!, 16));
}

/**
 * One series' contribution to a risk measurement, from its (de-identified) header: the patient as
 * the release names it (Patient ID, else Patient's Name), and the quasi-identifier values, text in
 * the instance's character set, trimmed; absent or empty: null.
 */
export function riskInputOf(ds: Dataset, quasi: readonly string[]): RiskInput & { series: string } {
  const cs = charsetFor(asciiValue(ds, Tags.SpecificCharacterSet));
  const text = (t: number): string | null => {
    const el = findElement(ds, t);
    if (!el?.value?.length) return null;
    const v = cs.decode(el.value, el.vr).replace(/[\0 ]+$/, '').trim();
    return v === '' ? null : v;
  };
  const patient = text(Tags.PatientID) ?? text(Tags.PatientName) ?? '(no patient id)';
  const values: Record<string, string | null> = {};
  for (const q of quasi) values[q] = text(quasiTag(q));
  return { patient, values, series: asciiValue(ds, Tags.SeriesInstanceUID) };
}

/** Each series of these DICOM files once (by patient and series), as risk inputs; files that are not DICOM are counted as skipped. */
export function riskInputsOfFiles(files: readonly string[], quasi: readonly string[]): { inputs: RiskInput[]; files: number; skipped: number } {
  const seen = new Set<string>();
  const inputs: RiskInput[] = [];
  let read = 0, skipped = 0;
  for (const f of files) {
    const src = new FileSource(f);
    try {
      const r = riskInputOf(readDicom(src, { stopAtPixelData: true }).dataset, quasi);
      read++;
      const key = `${r.patient}\u0000${r.series}`;
      if (!seen.has(key)) { seen.add(key); inputs.push({ patient: r.patient, values: r.values }); }
    } catch (e) {
      if (!(e instanceof CustosError)) throw e;
      skipped++;
    } finally {
      src.close();
    }
  }
  return { inputs, files: read, skipped };
}

