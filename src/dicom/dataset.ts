import type { ReadWarningCode } from '../errors.ts';
import type { Tag } from './tag.ts';
import type { VR } from './vr.ts';
import type { TransferSyntax } from './transfer-syntax.ts';

/** A span of bytes in the source that is streamed, never loaded (pixel data of large files). */
export interface ByteRange { offset: number; length: number }

/**
 * One data element (PS3.5 7.1). `value` holds the raw bytes in the dataset's byte order (a view
 * into the source, not a copy), `items` the items of a sequence, `range` a value left in the source.
 */
export interface DataElement {
  tag: Tag;
  vr: VR;
  value?: Buffer;
  items?: Dataset[];
  range?: ByteRange;
  /** Encapsulated pixel data (PS3.5 A.4): value/range hold the items, without the delimiter. */
  encapsulated?: boolean;
  /** Written with undefined length (sequences, items, encapsulated pixel data). */
  undefinedLength?: boolean;
}

/** A dataset or a sequence item: elements in ascending tag order. */
export interface Dataset {
  elements: DataElement[];
  undefinedLength?: boolean;
}

/** A parsed Part 10 file (PS3.10 7.1). */
export interface DicomFile {
  meta: Dataset;
  dataset: Dataset;
  transferSyntax: TransferSyntax;
  /** False when the input had no preamble/meta (a bare dataset): the output gets one. */
  hadMeta: boolean;
  /** Repairs made while reading (out-of-order elements sorted, UN given its dictionary VR): recorded by the caller. */
  warnings?: ReadWarning[];
}

/** Repairs PS3.5 lets a reader make; the output is written correctly and the repair is recorded. */
export interface ReadWarning { code: ReadWarningCode; message: string }

export function findElement(ds: Dataset, t: Tag): DataElement | undefined {
  // Elements are few (tens to hundreds) and sorted; a linear scan with early exit is fastest here.
  for (const e of ds.elements) {
    if (e.tag === t) return e;
    if (e.tag > t) return undefined;
  }
  return undefined;
}

/**
 * The value of an ASCII-only attribute (UI, CS, DA, IS, …) as text, padding removed; '' when absent.
 * Text in other character sets goes through charset.ts instead.
 */
export function asciiValue(ds: Dataset, t: Tag): string {
  return findElement(ds, t)?.value?.toString('latin1').replace(/[\0 ]+$/, '').trim() ?? '';
}

/** Insert or replace an element, keeping ascending tag order (PS3.5 7.1). */
export function putElement(ds: Dataset, el: DataElement): void {
  const els = ds.elements;
  let i = 0;
  while (i < els.length && els[i]!.tag < el.tag) i++;
  if (i < els.length && els[i]!.tag === el.tag) els[i] = el;
  else els.splice(i, 0, el);
}
