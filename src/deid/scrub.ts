/**
 * Free-text cleaning for Clean Descriptors / Clean Structured Content (PS3.15 E.3.5, E.3.4) and for
 * every retained text value: a deny list seeded from the instance's own identifying attributes
 * (names, IDs, dates, phone numbers, addresses), plus common PHI patterns (HIPAA Safe Harbor,
 * 45 CFR 164.514(b)(2)). Pure functions; input is decoded text, output is text.
 */

export const REDACTED = '***';

export interface DenyList {
  /** Matches any identifying token, whole-word, case-insensitive; undefined when nothing to deny. */
  readonly pattern: RegExp | undefined;
  /** The tokens themselves, for fuzzy matching of OCR output. */
  readonly tokens: readonly string[];
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const WORD_BEFORE = '(?<![\\p{L}\\p{N}])';
const WORD_AFTER = '(?![\\p{L}\\p{N}])';

/** Name components (PS3.5 6.2.1: groups split by '=', components by '^') and words of free text. */
export function nameTokens(value: string): string[] {
  return value.split(/[=^\\,\s]+/u).map((t) => t.trim()).filter((t) => t.length >= 2 && !/^(MR|MRS|MS|DR|JR|SR|II|III|MD|PHD)\.?$/i.test(t));
}

/** Date renderings that free text may use for one DA value (YYYYMMDD). */
export function dateRenderings(da: string): string[] {
  const m = /^(\d{4})(\d{2})(\d{2})$/.exec(da.trim());
  if (!m) return [];
  const [, y, mo, d] = m as unknown as [string, string, string, string];
  const months = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
  const mon = months[Number(mo) - 1] ?? '';
  const dn = String(Number(d));
  const mn = String(Number(mo));
  return [
    `${y}${mo}${d}`, `${y}-${mo}-${d}`, `${y}/${mo}/${d}`, `${y}.${mo}.${d}`,
    `${d}/${mo}/${y}`, `${mo}/${d}/${y}`, `${d}.${mo}.${y}`, `${d}-${mo}-${y}`, `${mn}/${dn}/${y}`, `${dn}/${mn}/${y}`,
    `${d} ${mon} ${y}`, `${dn} ${mon} ${y}`, `${mon} ${dn}, ${y}`, `${mon} ${d} ${y}`, `${d}${mon}${y}`,
  ];
}

export function makeDenyList(tokens: Iterable<string>): DenyList {
  const uniq = [...new Set([...tokens].map((t) => t.trim()).filter((t) => t.length >= 2))];
  if (uniq.length === 0) return EMPTY_DENY_LIST;
  // Longest first so "2024-01-02" wins over "2024".
  uniq.sort((a, b) => b.length - a.length);
  // The instances of a series share their tokens: the compiled pattern is reused (measured: building
  // and compiling it per instance was a third of header de-identification's time).
  const id = uniq.join('\0');
  const known = denyLists.get(id);
  if (known) return known;
  const alternatives = uniq.map((t) => escape(t).replace(/\s+/g, '\\s+'));
  const list: DenyList = Object.freeze({ pattern: new RegExp(`${WORD_BEFORE}(?:${alternatives.join('|')})${WORD_AFTER}`, 'giu'), tokens: Object.freeze(uniq) });
  if (denyLists.size >= 256) denyLists.clear();
  denyLists.set(id, list);
  return list;
}

const EMPTY_DENY_LIST: DenyList = Object.freeze({ pattern: undefined, tokens: Object.freeze([]) });
const denyLists = new Map<string, DenyList>();

/** Common PHI patterns in free text (Safe Harbor categories that have a recognisable shape). */
const PATTERNS: readonly RegExp[] = [
  /\b(?:19|20)\d{2}[-/.](?:0?[1-9]|1[0-2])[-/.](?:0?[1-9]|[12]\d|3[01])\b/g, // ISO-ish dates
  /\b(?:0?[1-9]|[12]\d|3[01])[-/.](?:0?[1-9]|1[0-2])[-/.](?:19|20)?\d{2}\b/g, // D/M/Y
  /\b(?:0?[1-9]|1[0-2])[-/.](?:0?[1-9]|[12]\d|3[01])[-/.](?:19|20)?\d{2}\b/g, // M/D/Y
  /\b(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\b/g, // YYYYMMDD
  /\b\d{1,2}\s+(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?,?\s+\d{2,4}\b/gi,
  /\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\s+\d{1,2},?\s+\d{4}\b/gi,
  /\b\d{3}-\d{2}-\d{4}\b/g, // SSN
  /(?:\+\d{1,3}[\s.-]?)?\(?\b\d{2,4}\)?[\s.-]\d{3,4}[\s.-]\d{3,4}\b/g, // phone numbers
  /\b[\w.+-]+@[\w-]+\.[\w.-]+\b/g, // e-mail
  /\bhttps?:\/\/\S+/gi, // URLs
  /\b\d{1,5}\s+(?:[A-Z][a-z]+\s+){1,3}(?:street|st|road|rd|avenue|ave|lane|ln|boulevard|blvd|drive|dr|court|ct|way|place|pl)\b\.?/gi, // street addresses
  /\b(?:[Mm]rs?|MRS?|[Mm]s|MS|[Mm]iss|[Dd]r|DR|[Pp]rof|PROF)\.?\s+[A-Z][A-Za-z'-]+(?:\s+[A-Z][A-Za-z'-]+)?/g, // titled names
  /\b(?:MRN|ID|No|Nr|Acc|Accession|Patient)[#:.\s]*[A-Z]{0,3}\d{4,}\b/gi, // labelled identifiers
  /\b[A-Z]{0,3}\d{6,}\b/g, // long numbers: record numbers, IDs
];

/** Replace deny-listed tokens (always) and PHI patterns (when `patterns`), returning the new text. */
export function scrubText(text: string, deny: DenyList, patterns: boolean): string {
  let out = text;
  if (deny.pattern) out = out.replace(deny.pattern, REDACTED);
  if (patterns) for (const p of PATTERNS) out = out.replace(p, REDACTED);
  return out;
}
