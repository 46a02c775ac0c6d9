import iconv from 'iconv-lite';
import type { VR } from './vr.ts';
import { isCharsetText } from './vr.ts';

/*
 * Specific Character Set (0008,0005), PS3.3 C.12.1.1.2 and PS3.5 6.1. Single-byte and Unicode sets are
 * decoded with iconv-lite; ISO 2022 code extension (escape sequences switching G0/G1, multi-valued
 * terms such as "\ISO 2022 IR 87") is handled here because no maintained JS library does it for DICOM
 * (dcmjs rejects multi-valued sets). Values Custos does not change are copied as raw bytes, so an
 * original encoding is never re-encoded; only cleaned values go through `encode`.
 */

type G0 = 'ascii' | 'jisx0208' | 'jisx0212';
/** iconv-lite name of a G1 set, or the multi-byte GR sets. */
type G1 = string | null;

interface State { g0: G0; g1: G1 }

interface Term { g0: G0; g1: G1; escape: Buffer | null }

const ESC = 0x1b;
const esc = (...s: string[]): Buffer => Buffer.from([ESC, ...s.join('').split('').map((c) => c.charCodeAt(0))]);

/** Defined terms without code extensions (PS3.3 Table C.12-2, C.12-4). */
const SINGLE: Record<string, string> = {
  'ISO_IR 6': 'ascii', 'ISO_IR 100': 'iso88591', 'ISO_IR 101': 'iso88592', 'ISO_IR 109': 'iso88593',
  'ISO_IR 110': 'iso88594', 'ISO_IR 144': 'iso88595', 'ISO_IR 127': 'iso88596', 'ISO_IR 126': 'iso88597',
  'ISO_IR 138': 'iso88598', 'ISO_IR 148': 'iso88599', 'ISO_IR 203': 'iso885915', 'ISO_IR 13': 'shiftjis',
  'ISO_IR 166': 'tis620', 'ISO_IR 192': 'utf8', GB18030: 'gb18030', GBK: 'gbk',
};

/** Defined terms with code extensions (PS3.3 Table C.12-3, C.12-4) and their escape sequences (PS3.5 6.1.2.5). */
const ISO2022: Record<string, Term> = {
  'ISO 2022 IR 6': { g0: 'ascii', g1: null, escape: esc('(B') },
  'ISO 2022 IR 100': { g0: 'ascii', g1: 'iso88591', escape: esc('-A') },
  'ISO 2022 IR 101': { g0: 'ascii', g1: 'iso88592', escape: esc('-B') },
  'ISO 2022 IR 109': { g0: 'ascii', g1: 'iso88593', escape: esc('-C') },
  'ISO 2022 IR 110': { g0: 'ascii', g1: 'iso88594', escape: esc('-D') },
  'ISO 2022 IR 144': { g0: 'ascii', g1: 'iso88595', escape: esc('-L') },
  'ISO 2022 IR 127': { g0: 'ascii', g1: 'iso88596', escape: esc('-G') },
  'ISO 2022 IR 126': { g0: 'ascii', g1: 'iso88597', escape: esc('-F') },
  'ISO 2022 IR 138': { g0: 'ascii', g1: 'iso88598', escape: esc('-H') },
  'ISO 2022 IR 148': { g0: 'ascii', g1: 'iso88599', escape: esc('-M') },
  'ISO 2022 IR 203': { g0: 'ascii', g1: 'iso885915', escape: esc('-b') },
  'ISO 2022 IR 166': { g0: 'ascii', g1: 'tis620', escape: esc('-T') },
  'ISO 2022 IR 13': { g0: 'ascii', g1: 'jisx0201', escape: esc(')I') },
  'ISO 2022 IR 87': { g0: 'jisx0208', g1: null, escape: esc('$B') },
  'ISO 2022 IR 159': { g0: 'jisx0212', g1: null, escape: esc('$(D') },
  'ISO 2022 IR 149': { g0: 'ascii', g1: 'ksx1001', escape: esc('$)C') },
  'ISO 2022 IR 58': { g0: 'ascii', g1: 'gb2312', escape: esc('$)A') },
};

/** Normalise common misspellings seen in the field ("ISO-IR 100", "ISO_IR100", "UTF-8"). */
function normaliseTerm(raw: string): string {
  const t = raw.trim().toUpperCase();
  if (t === 'UTF-8' || t === 'UTF8' || t === 'ISO-IR 192') return 'ISO_IR 192';
  const m = /^ISO[-_ ]?IR[-_ ]?(\d+)$/.exec(t);
  if (m) return `ISO_IR ${m[1]}`;
  const n = /^ISO[-_ ]?2022[-_ ]?IR[-_ ]?(\d+)$/.exec(t);
  if (n) return `ISO 2022 IR ${n[1]}`;
  return t;
}

export interface Charset {
  readonly terms: readonly string[];
  /** True when every value is plain ASCII-compatible single-byte or UTF-8 (no escape handling). */
  readonly simple: boolean;
  decode(bytes: Buffer, vr: VR): string;
  encode(text: string, vr: VR): Buffer;
}

const cache = new Map<string, Charset>();

/** The codec for a Specific Character Set value (backslash-separated terms; empty = ISO IR 6). */
export function charsetFor(specificCharacterSet: string): Charset {
  let cs = cache.get(specificCharacterSet);
  if (!cs) {
    cs = makeCharset(specificCharacterSet);
    cache.set(specificCharacterSet, cs);
  }
  return cs;
}

export const DEFAULT_CHARSET: Charset = charsetFor('');

function makeCharset(value: string): Charset {
  const terms = value.split('\\').map(normaliseTerm);
  const hasExtensions = terms.length > 1 || terms.some((t) => t.startsWith('ISO 2022'));
  if (!hasExtensions) {
    const enc = SINGLE[terms[0] ?? ''] ?? (terms[0] === '' ? 'ascii' : 'iso88591');
    const dec = enc === 'ascii' ? 'latin1' : enc; // be lenient with stray 8-bit bytes in "ASCII" data
    return {
      terms,
      simple: enc === 'ascii' || enc === 'utf8' || enc.startsWith('iso8859'),
      decode: (b, vr) => (isCharsetText(vr) ? iconv.decode(b, dec) : b.toString('latin1')),
      encode: (s, vr) => (isCharsetText(vr) ? iconv.encode(s, enc === 'ascii' ? 'latin1' : enc) : Buffer.from(s, 'latin1')),
    };
  }
  const resolved: Term[] = terms.map((t, i) => {
    if (t === '' && i === 0) return ISO2022['ISO 2022 IR 6']!;
    const iso = ISO2022[t] ?? ISO2022[t.replace('ISO_IR', 'ISO 2022 IR')];
    return iso ?? ISO2022['ISO 2022 IR 6']!;
  });
  const initial: State = { g0: resolved[0]!.g0, g1: resolved[0]!.g1 };
  return {
    terms,
    simple: false,
    decode: (b, vr) => (isCharsetText(vr) ? decode2022(b, initial, vr) : b.toString('latin1')),
    encode: (s, vr) => (isCharsetText(vr) ? encode2022(s, initial, resolved, vr) : Buffer.from(s, 'latin1')),
  };
}

/** Delimiters before which the initial character set is active again (PS3.5 6.1.2.5.3). */
const isDelimiter = (c: number, vr: VR): boolean =>
  c === 0x5c || c === 0x0d || c === 0x0a || c === 0x09 || c === 0x0c || (vr === 'PN' && (c === 0x5e || c === 0x3d));

function readEscape(b: Buffer, i: number, s: State): number {
  const seq = b.toString('latin1', i + 1, Math.min(b.length, i + 4));
  for (const term of Object.values(ISO2022)) {
    const e = term.escape!.toString('latin1', 1);
    if (seq.startsWith(e)) {
      if (term.g0 !== 'ascii' || e === '(B') s.g0 = term.g0;
      else if (term.g1) s.g1 = term.g1;
      return i + 1 + e.length;
    }
  }
  if (seq.startsWith('(J')) { s.g0 = 'ascii'; return i + 3; } // JIS X 0201 Romaji in G0
  return i + 1; // unknown escape: skip the ESC byte only
}

function decodeRun(run: number[], s: State): string {
  if (run.length === 0) return '';
  if (s.g0 === 'jisx0208') return iconv.decode(Buffer.from(run.map((x) => x | 0x80)), 'eucjp');
  if (s.g0 === 'jisx0212') {
    const out: number[] = [];
    for (let i = 0; i + 1 < run.length; i += 2) out.push(0x8f, run[i]! | 0x80, run[i + 1]! | 0x80);
    return iconv.decode(Buffer.from(out), 'eucjp');
  }
  const buf = Buffer.from(run);
  switch (s.g1) {
    case null: return buf.toString('latin1');
    case 'ksx1001': return iconv.decode(buf, 'euckr');
    case 'gb2312': return iconv.decode(buf, 'gb18030');
    case 'jisx0201': return iconv.decode(buf, 'shiftjis');
    default: return iconv.decode(buf, s.g1);
  }
}

function decode2022(b: Buffer, initial: State, vr: VR): string {
  const s: State = { ...initial };
  let out = '';
  let run: number[] = [];
  for (let i = 0; i < b.length;) {
    const c = b[i]!;
    if (c === ESC) {
      out += decodeRun(run, s); run = [];
      i = readEscape(b, i, s);
      continue;
    }
    if (s.g0 === 'ascii' && isDelimiter(c, vr)) {
      out += decodeRun(run, s); run = [];
      out += String.fromCharCode(c);
      s.g0 = initial.g0; s.g1 = initial.g1;
      i++;
      continue;
    }
    run.push(c);
    i++;
  }
  return out + decodeRun(run, s);
}

/** One character in one of the designated sets: the escape to designate it and its bytes. */
function encodeChar(ch: string, terms: Term[]): { term: Term; bytes: number[] } | undefined {
  for (const term of terms) {
    const name = term.g0 === 'jisx0208' || term.g0 === 'jisx0212' ? 'eucjp' : term.g1;
    if (!name) continue;
    const iconvName = name === 'ksx1001' ? 'euckr' : name === 'gb2312' ? 'gb18030' : name === 'jisx0201' ? 'shiftjis' : name;
    const bytes = [...iconv.encode(ch, iconvName)];
    if (iconv.decode(Buffer.from(bytes), iconvName) !== ch || bytes.every((x) => x < 0x80)) continue;
    if (term.g0 === 'jisx0208' && bytes.length === 2) return { term, bytes: bytes.map((x) => x & 0x7f) };
    if (term.g0 === 'jisx0212' && bytes.length === 3 && bytes[0] === 0x8f) return { term, bytes: bytes.slice(1).map((x) => x & 0x7f) };
    if (term.g0 === 'ascii' && (name === 'ksx1001' || name === 'gb2312') && bytes.length === 2) return { term, bytes };
    if (term.g0 === 'ascii' && name !== 'ksx1001' && name !== 'gb2312' && bytes.length === 1) return { term, bytes };
  }
  return undefined;
}

function encode2022(text: string, initial: State, terms: Term[], vr: VR): Buffer {
  const out: number[] = [];
  const s: State = { ...initial };
  const initialTerm = terms[0]!;
  // Back to single-byte G0: JIS X 0201 Romaji when the first term is ISO 2022 IR 13 (PS3.5 K.1), else ASCII.
  const back = initialTerm === ISO2022['ISO 2022 IR 13'] ? esc('(J') : esc('(B');
  const restore = (): void => {
    if (s.g0 !== initial.g0) { out.push(...(initial.g0 === 'ascii' ? back : initialTerm.escape!)); s.g0 = initial.g0; }
    if (s.g1 !== initial.g1) { if (initial.g1) out.push(...initialTerm.escape!); s.g1 = initial.g1; }
  };
  for (const ch of text) {
    const code = ch.codePointAt(0)!;
    if (code < 0x80) {
      if (isDelimiter(code, vr)) restore();
      if (s.g0 !== 'ascii') { out.push(...back); s.g0 = 'ascii'; }
      out.push(code);
      continue;
    }
    const hit = encodeChar(ch, terms);
    if (!hit) { out.push(0x3f); continue; } // not representable in the declared sets: '?'
    if (hit.term.g0 !== 'ascii' && s.g0 !== hit.term.g0) { out.push(...hit.term.escape!); s.g0 = hit.term.g0; }
    if (hit.term.g0 === 'ascii' && s.g1 !== hit.term.g1) {
      if (s.g0 !== 'ascii') { out.push(...back); s.g0 = 'ascii'; }
      out.push(...hit.term.escape!); s.g1 = hit.term.g1;
    }
    out.push(...hit.bytes);
  }
  restore();
  return Buffer.from(out);
}
