import { CustosError } from '../errors.ts';
import type { ByteSource } from './byte-source.ts';
import { type DicomFile, asciiValue } from './dataset.ts';
import { checkFirstFrame, checkPixelData } from './pixel-check.ts';
import { type PlacingUids, placingUids } from './required-uids.ts';
import { Tags } from './tag.ts';

/**
 * What both the gateway (at ingest) and `custos deid` refuse, in one place so they refuse the same
 * instances: no placing UIDs (DICOM_MISSING_ATTRIBUTE), control characters in the values stored,
 * indexed and routed on (DICOM_BAD_VALUE: invalid in UI, CS and LO, PS3.5 6.1.2.3), pixel data
 * shorter than its description (DICOM_PIXEL_LENGTH) or a first frame that cannot be decoded
 * (DICOM_PIXEL_ENCODING). `source` is the one the file was read from.
 */
export async function admitInstance(file: DicomFile, source: ByteSource): Promise<PlacingUids & { modality: string; bodyPart: string }> {
  const uids = placingUids(file);
  const modality = asciiValue(file.dataset, Tags.Modality);
  const bodyPart = asciiValue(file.dataset, Tags.BodyPartExamined);
  for (const [name, tag, value] of [['SOP Class UID', '(0008,0016)', uids.sopClassUID], ['SOP Instance UID', '(0008,0018)', uids.sopInstanceUID], ['Study Instance UID', '(0020,000D)', uids.studyInstanceUID], ['Series Instance UID', '(0020,000E)', uids.seriesInstanceUID], ['Modality', '(0008,0060)', modality], ['Body Part Examined', '(0018,0015)', bodyPart]] as const) {
    if (/[\x00-\x1f\x7f]/.test(value)) throw new CustosError('DICOM_BAD_VALUE', `${name} ${tag} holds control characters (${value.length} characters)`);
  }
  // A deflated dataset was inflated into memory by the reader: its pixel data is not in `source`.
  if (!file.transferSyntax.deflated) {
    checkPixelData(file, source);
    await checkFirstFrame(file, source);
  }
  return { ...uids, modality, bodyPart };
}
