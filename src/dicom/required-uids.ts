import { CustosError } from '../errors.ts';
import { type DicomFile, asciiValue } from './dataset.ts';
import { Tags } from './tag.ts';

/** The UIDs that place an instance (PS3.3 C.12.1, C.7.2.1, C.7.3.1). */
export interface PlacingUids { sopClassUID: string; sopInstanceUID: string; studyInstanceUID: string; seriesInstanceUID: string }

/**
 * The instance's SOP Class, SOP Instance, Study and Series Instance UIDs; DICOM_MISSING_ATTRIBUTE
 * naming the first that is missing or empty. The gateway and `custos deid` refuse the same instances.
 */
export function placingUids(file: DicomFile): PlacingUids {
  const v = (t: number): string => asciiValue(file.dataset, t);
  const u: PlacingUids = {
    sopClassUID: v(Tags.SOPClassUID) || asciiValue(file.meta, Tags.MediaStorageSOPClassUID),
    sopInstanceUID: v(Tags.SOPInstanceUID),
    studyInstanceUID: v(Tags.StudyInstanceUID),
    seriesInstanceUID: v(Tags.SeriesInstanceUID),
  };
  for (const [name, tag, value] of [['SOP Class UID', '(0008,0016)', u.sopClassUID], ['SOP Instance UID', '(0008,0018)', u.sopInstanceUID], ['Study Instance UID', '(0020,000D)', u.studyInstanceUID], ['Series Instance UID', '(0020,000E)', u.seriesInstanceUID]] as const) {
    if (!value) throw new CustosError('DICOM_MISSING_ATTRIBUTE', `${name} ${tag} is missing or empty`);
  }
  return u;
}
