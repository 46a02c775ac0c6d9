import type { ByteSource } from '../dicom/byte-source.ts';
import { openSource } from '../dicom/file-io.ts';
import { type Described, describeSource } from '../integrity/describe.ts';
import type { SeriesMember } from '../integrity/series.ts';
import { type LogView, type Verdict, verifySource } from './verify.ts';

export { type Described, describeSource, instanceIds } from '../integrity/describe.ts';
export { type LogView, type Verdict, type SignedStatement, proveSeries, verifySource } from './verify.ts';

/** Read a file and compute its content digests. */
export async function describeFile(path: string): Promise<Described> {
  const source: ByteSource = openSource(path);
  try {
    return await describeSource(source);
  } finally {
    source.close();
  }
}

/** A verified file as a member of its series, for the series check. */
export type FoundMember = SeriesMember & { seriesInstanceUID: string };

/** Verify one file and describe it as a series member. Never throws for bad input. */
export async function verifyFileInSeries(path: string, view: LogView): Promise<{ verdict: Verdict; member?: FoundMember }> {
  let member: FoundMember | undefined;
  const verdict = await verifyFile(path, view, (d) => {
    member = { seriesInstanceUID: d.ids.seriesInstanceUID, sopInstanceUID: d.ids.sopInstanceUID, position: d.ids.position ?? null, pixelRoot: d.content.pixelRoot };
  });
  return member ? { verdict, member } : { verdict };
}

/** Verify one file: authentic, derived, tampered (what differs) or unknown. Never throws for bad input. */
export function verifyFile(path: string, view: LogView, onDescribed?: (d: Described) => void): Promise<Verdict> {
  return verifySource(() => openSource(path), view, onDescribed);
}
