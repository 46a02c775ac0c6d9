import dcmjs from 'dcmjs';
import { type Tag, formatTag, groupOf, elementOf, isPrivate, isPrivateCreator } from './tag.ts';
import { type VR, isVR } from './vr.ts';

// The standard data dictionary comes from dcmjs (PS3.6); Custos only maps tags to VRs and keywords.
const dictionary = dcmjs.data.DicomMetaDictionary.dictionary;
const nameMap = dcmjs.data.DicomMetaDictionary.nameMap;

/** Repeating groups (50xx curves, 60xx overlays, PS3.6 7) are listed under their first group. */
function dictionaryKey(t: Tag): string {
  const g = groupOf(t);
  if ((g & 0xff00) === 0x5000 || (g & 0xff00) === 0x6000) {
    return formatTag((((g & 0xff00) << 16) | elementOf(t)) >>> 0);
  }
  return formatTag(t);
}

const cache = new Map<Tag, VR>();

/**
 * The VR used to read an implicit-VR element (PS3.5 A.1). Multi-VR entries resolve to the
 * encoding every reader accepts: US for US/SS, OW for OB/OW. Unknown and private elements are UN,
 * private creators LO (PS3.5 7.8.1).
 */
export function implicitVR(t: Tag): VR {
  const hit = cache.get(t);
  if (hit) return hit;
  let vr: VR = 'UN';
  if (isPrivateCreator(t)) vr = 'LO';
  else if (elementOf(t) === 0x0000) vr = 'UL'; // group length
  else if (!isPrivate(t)) {
    const raw = dictionary[dictionaryKey(t)]?.vr ?? 'UN';
    const v = raw === 'ox' || raw === 'ob' ? 'OW' : raw === 'xs' ? 'US' : raw.slice(0, 2).toUpperCase();
    vr = isVR(v) ? v : 'UN';
  }
  cache.set(t, vr);
  return vr;
}

/** The keyword of a standard attribute (PS3.6), or undefined. */
export function keywordOf(t: Tag): string | undefined {
  return dictionary[dictionaryKey(t)]?.name;
}

/** The tag of a standard keyword, or undefined. */
export function tagOfKeyword(keyword: string): Tag | undefined {
  const entry = nameMap[keyword];
  if (!entry) return undefined;
  const m = /^\(([0-9A-F]{4}),([0-9A-F]{4})\)$/i.exec(entry.tag);
  return m ? ((parseInt(m[1]!, 16) << 16) | parseInt(m[2]!, 16)) >>> 0 : undefined;
}
