import { CustosError } from '../errors.ts';
import type { ByteSource } from '../dicom/byte-source.ts';
import { type DicomFile, asciiValue } from '../dicom/dataset.ts';
import { readDicom } from '../dicom/read.ts';
import { Tags } from '../dicom/tag.ts';
import { type ContentDigests, contentDigests } from './content.ts';
import { slicePosition } from './series.ts';
import type { InstanceIds } from './statement.ts';

/** What the log records of an instance: its ids and its content digests. */
export interface Described { ids: InstanceIds; content: ContentDigests }

const text = (f: DicomFile, t: number): string => asciiValue(f.dataset, t);

const numbers = (f: DicomFile, t: number): number[] | null => {
  const v = text(f, t);
  return v ? v.split('\\').map(Number) : null;
};

export function instanceIds(f: DicomFile): InstanceIds {
  const instanceNumber = numbers(f, 0x00200013)?.[0] ?? null;
  return {
    sopClassUID: text(f, Tags.SOPClassUID),
    sopInstanceUID: text(f, Tags.SOPInstanceUID),
    studyInstanceUID: text(f, Tags.StudyInstanceUID),
    seriesInstanceUID: text(f, Tags.SeriesInstanceUID),
    position: slicePosition(numbers(f, 0x00200032), numbers(f, 0x00200037), instanceNumber),
  };
}

/**
 * An instance's ids and content digests, from a file window or a buffer. `samePixelsAs`: the pixel
 * data is byte-identical to that of an instance already described, whose frame digests stand.
 */
export async function describeSource(source: ByteSource, samePixelsAs?: ContentDigests): Promise<Described> {
  const file = readDicom(source);
  const ids = instanceIds(file);
  if (!ids.sopInstanceUID) throw new CustosError('DICOM_MISSING_ATTRIBUTE', 'SOP Instance UID (0008,0018) is missing');
  return { ids, content: await contentDigests(file, source, samePixelsAs) };
}
