/*
 * DIMSE command sets (PS3.7 6.3, E.1), encoded and decoded by hand: always Implicit VR Little Endian,
 * group 0000, ascending tags, the Command Group Length (0000,0000) first. dcmjs-dimse encodes them
 * through dcmjs, whose write streams start at 256 KiB each: two per command, so every C-STORE request
 * and response allocated (and zeroed, and later collected) half a megabyte for a command of about a
 * hundred bytes; and it decodes each through dcmjs's general parser (measured: about 0.4 ms of the
 * gateway's event loop per instance, for the request it receives and the response it gets back).
 */

type CommandVR = 'UL' | 'US' | 'UI' | 'AE' | 'LO';

/** PS3.7 Table E.1-1: the command elements Custos sends, by the keyword dcmjs-dimse names them. */
const COMMAND_ELEMENTS: Readonly<Record<string, { element: number; vr: CommandVR }>> = {
  AffectedSOPClassUID: { element: 0x0002, vr: 'UI' },
  RequestedSOPClassUID: { element: 0x0003, vr: 'UI' },
  CommandField: { element: 0x0100, vr: 'US' },
  MessageID: { element: 0x0110, vr: 'US' },
  MessageIDBeingRespondedTo: { element: 0x0120, vr: 'US' },
  MoveDestination: { element: 0x0600, vr: 'AE' },
  Priority: { element: 0x0700, vr: 'US' },
  CommandDataSetType: { element: 0x0800, vr: 'US' },
  Status: { element: 0x0900, vr: 'US' },
  ErrorComment: { element: 0x0902, vr: 'LO' },
  ErrorID: { element: 0x0903, vr: 'US' },
  AffectedSOPInstanceUID: { element: 0x1000, vr: 'UI' },
  RequestedSOPInstanceUID: { element: 0x1001, vr: 'UI' },
  EventTypeID: { element: 0x1002, vr: 'US' },
  ActionTypeID: { element: 0x1008, vr: 'US' },
  NumberOfRemainingSuboperations: { element: 0x1020, vr: 'US' },
  NumberOfCompletedSuboperations: { element: 0x1021, vr: 'US' },
  NumberOfFailedSuboperations: { element: 0x1022, vr: 'US' },
  NumberOfWarningSuboperations: { element: 0x1023, vr: 'US' },
  MoveOriginatorApplicationEntityTitle: { element: 0x1030, vr: 'AE' },
  MoveOriginatorMessageID: { element: 0x1031, vr: 'US' },
};

/** One element's value bytes (PS3.5 6.2: UI padded with NUL, text with space, to an even length). */
function valueBytes(vr: CommandVR, value: unknown): Buffer | undefined {
  if (vr === 'US' || vr === 'UL') {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > (vr === 'US' ? 0xffff : 0xffffffff)) return undefined;
    const b = Buffer.allocUnsafe(vr === 'US' ? 2 : 4);
    if (vr === 'US') b.writeUInt16LE(value, 0); else b.writeUInt32LE(value, 0);
    return b;
  }
  if (typeof value !== 'string') return undefined;
  const text = Buffer.from(value, vr === 'LO' ? 'utf8' : 'latin1');
  return text.length % 2 ? Buffer.concat([text, Buffer.from(vr === 'UI' ? '\0' : ' ', 'latin1')]) : text;
}

/**
 * Encode a command set from its elements keyed by keyword (undefined values are left out). Returns
 * undefined for anything outside the table above or of an unexpected type, so that the caller can
 * fall back to the library's general encoder.
 */
export function encodeCommandSet(elements: Readonly<Record<string, unknown>>): Buffer | undefined {
  const items: Array<{ element: number; value: Buffer }> = [];
  for (const [keyword, value] of Object.entries(elements)) {
    if (value === undefined || keyword === 'CommandGroupLength') continue;
    const def = COMMAND_ELEMENTS[keyword];
    if (!def) return undefined;
    const bytes = valueBytes(def.vr, value);
    if (!bytes) return undefined;
    items.push({ element: def.element, value: bytes });
  }
  items.sort((a, b) => a.element - b.element);
  const groupLength = items.reduce((n, it) => n + 8 + it.value.length, 0);
  const out = Buffer.allocUnsafe(12 + groupLength);
  out.writeUInt32LE(0x0000_0000, 0); // (0000,0000) Command Group Length, UL
  out.writeUInt32LE(4, 4);
  out.writeUInt32LE(groupLength, 8);
  let o = 12;
  for (const it of items) {
    out.writeUInt16LE(0x0000, o);
    out.writeUInt16LE(it.element, o + 2);
    out.writeUInt32LE(it.value.length, o + 4);
    it.value.copy(out, o + 8);
    o += 8 + it.value.length;
  }
  return out;
}

/** The table above by element number, with the group length, for decoding. */
const BY_ELEMENT: ReadonlyMap<number, { keyword: string; vr: CommandVR }> = new Map([
  [0x0000, { keyword: 'CommandGroupLength', vr: 'UL' as CommandVR }],
  ...Object.entries(COMMAND_ELEMENTS).map(([keyword, d]) => [d.element, { keyword, vr: d.vr }] as const),
]);

/**
 * Decode a command set into elements keyed by keyword, as dcmjs-dimse's own decoder names and types
 * them (numbers for US and UL, strings without padding for UI, AE and LO). Returns undefined for
 * anything else — an element outside the table or outside group 0000, an empty or multi-valued value,
 * a malformed length — so that the caller falls back to the library's general decoder.
 */
export function decodeCommandSet(bytes: Buffer): Record<string, unknown> | undefined {
  const out: Record<string, unknown> = { _vrMap: {} };
  for (let o = 0; o < bytes.length;) {
    if (o + 8 > bytes.length || bytes.readUInt16LE(o) !== 0x0000) return undefined;
    const def = BY_ELEMENT.get(bytes.readUInt16LE(o + 2));
    const length = bytes.readUInt32LE(o + 4);
    o += 8;
    if (!def || length === 0 || o + length > bytes.length) return undefined;
    if (def.vr === 'US' || def.vr === 'UL') {
      if (length !== (def.vr === 'US' ? 2 : 4)) return undefined;
      out[def.keyword] = def.vr === 'US' ? bytes.readUInt16LE(o) : bytes.readUInt32LE(o);
    } else {
      const text = bytes.toString(def.vr === 'LO' ? 'utf8' : 'latin1', o, o + length);
      if (text.includes('\\')) return undefined;
      out[def.keyword] = def.vr === 'UI' ? text.replace(/[\0 ]+$/, '') : text.trim();
    }
    o += length;
  }
  return out;
}
