import { type Tag, groupOf, elementOf, isPrivate, isPrivateCreator } from './tag.ts';
import { type VR, isVR } from './vr.ts';
import { VR_ENTRIES } from './vr-dictionary.ts';

// The standard data dictionary (PS3.6) as tag -> VR, generated from dcmjs's dictionary by
// scripts/gen-vr-dictionary.ts: a compact table instead of loading dcmjs at run time.
let table: Map<Tag, VR> | undefined;

function load(): Map<Tag, VR> {
  const m = new Map<Tag, VR>();
  for (let i = 0; i + 10 <= VR_ENTRIES.length; i += 10) {
    const vr = VR_ENTRIES.slice(i + 8, i + 10);
    if (isVR(vr)) m.set(parseInt(VR_ENTRIES.slice(i, i + 8), 16) >>> 0, vr);
  }
  return m;
}

/** Repeating groups (50xx curves, 60xx overlays, PS3.6 7) are listed under their first group. */
function dictionaryTag(t: Tag): Tag {
  const g = groupOf(t);
  if ((g & 0xff00) === 0x5000 || (g & 0xff00) === 0x6000) return (((g & 0xff00) << 16) | elementOf(t)) >>> 0;
  return t;
}

/**
 * The VR used to read an implicit-VR element (PS3.5 A.1). Multi-VR entries resolve to the
 * encoding every reader accepts: US for US/SS, OW for OB/OW. Unknown and private elements are UN,
 * private creators LO (PS3.5 7.8.1), group lengths UL.
 */
export function implicitVR(t: Tag): VR {
  if (isPrivateCreator(t)) return 'LO';
  if (elementOf(t) === 0x0000) return 'UL';
  if (isPrivate(t)) return 'UN';
  table ??= load();
  return table.get(dictionaryTag(t)) ?? 'UN';
}
