/** Value Representations, PS3.5 Table 6.2-1. */
export const VRS = [
  'AE', 'AS', 'AT', 'CS', 'DA', 'DS', 'DT', 'FD', 'FL', 'IS', 'LO', 'LT', 'OB', 'OD', 'OF', 'OL', 'OV',
  'OW', 'PN', 'SH', 'SL', 'SQ', 'SS', 'ST', 'SV', 'TM', 'UC', 'UI', 'UL', 'UN', 'UR', 'US', 'UT', 'UV',
] as const;
export type VR = (typeof VRS)[number];

const VR_SET: ReadonlySet<string> = new Set(VRS);
export const isVR = (s: string): s is VR => VR_SET.has(s);

/** The VR whose two ASCII bytes, as a big-endian 16-bit number, are `code` (no string made per element). */
const VR_BY_CODE: ReadonlyMap<number, VR> = new Map(VRS.map((v) => [(v.charCodeAt(0) << 8) | v.charCodeAt(1), v]));
export const vrOfCode = (code: number): VR | undefined => VR_BY_CODE.get(code);

/** VRs whose explicit-VR header has 2 reserved bytes and a 32-bit length (PS3.5 7.1.2). */
const LONG_HEADER: ReadonlySet<VR> = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'UC', 'UN', 'UR', 'UT', 'SV', 'UV']);
export const hasLongHeader = (vr: VR): boolean => LONG_HEADER.has(vr);

/** Character-string VRs (PS3.5 6.2); values are byte-order independent. */
const STRING: ReadonlySet<VR> = new Set(['AE', 'AS', 'CS', 'DA', 'DS', 'DT', 'IS', 'LO', 'LT', 'PN', 'SH', 'ST', 'TM', 'UC', 'UI', 'UR', 'UT']);
export const isStringVR = (vr: VR): boolean => STRING.has(vr);

/** String VRs affected by Specific Character Set (PS3.5 6.1.2.3): the rest are ASCII only. */
const CHARSET_TEXT: ReadonlySet<VR> = new Set(['SH', 'LO', 'UC', 'ST', 'LT', 'UT', 'PN']);
export const isCharsetText = (vr: VR): boolean => CHARSET_TEXT.has(vr);

/** Free-text VRs that can carry narrative (and so PHI). */
const FREE_TEXT: ReadonlySet<VR> = new Set(['SH', 'LO', 'UC', 'ST', 'LT', 'UT', 'PN']);
export const isFreeText = (vr: VR): boolean => FREE_TEXT.has(vr);

/** Maximum length in characters of one value, PS3.5 Table 6.2-1 (undefined: no practical limit). */
export const MAX_LENGTH: Partial<Record<VR, number>> = {
  AE: 16, AS: 4, CS: 16, DA: 8, DS: 16, DT: 26, IS: 12, LO: 64, LT: 10240, PN: 64, SH: 16, ST: 1024, TM: 14, UI: 64,
};

/** Binary VRs of fixed element size, for byte swapping and dummy values. */
export const BINARY_SIZE: Partial<Record<VR, number>> = {
  AT: 2, FD: 8, FL: 4, OD: 8, OF: 4, OL: 4, OV: 8, OW: 2, SL: 4, SS: 2, SV: 8, UL: 4, US: 2, UV: 8,
};

/** Padding byte for even length, PS3.5 6.2: UI and binary pad with NUL, strings with space. */
export const padByte = (vr: VR): number => (vr === 'UI' || !isStringVR(vr) ? 0x00 : 0x20);
