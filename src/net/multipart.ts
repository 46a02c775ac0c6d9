import { randomBytes } from 'node:crypto';
import { BufferSource, type ByteSource } from '../dicom/byte-source.ts';
import { CustosError } from '../errors.ts';

/*
 * multipart/related (RFC 2387) framing for DICOMweb (PS3.18 8.6.1.2). Written by hand: the npm
 * multipart parsers handle multipart/form-data only, and this framing is a few lines.
 */

export interface Part { headers: Record<string, string>; body: Buffer }

export function newBoundary(): string {
  return `custos-${randomBytes(16).toString('hex')}`;
}

/** One part, framed: its delimiter and headers, its body, and the line end before the next delimiter. */
export function framePart(body: Buffer | readonly Buffer[], type: string, boundary: string): Buffer[] {
  const chunks = Buffer.isBuffer(body) ? [body] : body;
  const length = chunks.reduce((n, c) => n + c.length, 0);
  return [Buffer.from(`--${boundary}\r\nContent-Type: ${type}\r\nContent-Length: ${length}\r\n\r\n`, 'latin1'), ...chunks, Buffer.from('\r\n', 'latin1')];
}

/** The closing delimiter of a multipart body. */
export const closeMultipart = (boundary: string): Buffer => Buffer.from(`--${boundary}--\r\n`, 'latin1');

export const multipartContentType = (type: string, boundary: string): string => `multipart/related; type="${type}"; boundary=${boundary}`;

/** Encode parts of one content type; returns the body buffers and the Content-Type header value. */
export function encodeMultipart(bodies: ReadonlyArray<Buffer | readonly Buffer[]>, type: string, boundary = newBoundary()): { parts: Buffer[]; contentType: string } {
  const parts = bodies.flatMap((body) => framePart(body, type, boundary));
  parts.push(closeMultipart(boundary));
  return { parts, contentType: multipartContentType(type, boundary) };
}

/** The parameters of a Content-Type value: `multipart/related; type="application/dicom"; boundary=x`. */
export function contentTypeParams(value: string): { mediaType: string; params: Record<string, string> } {
  const [media = '', ...rest] = value.split(';');
  const params: Record<string, string> = {};
  for (const p of rest) {
    const eq = p.indexOf('=');
    if (eq < 0) continue;
    params[p.slice(0, eq).trim().toLowerCase()] = p.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
  }
  return { mediaType: media.trim().toLowerCase(), params };
}

/** Where a part lies in a multipart body: its headers, and its body's offset and length. */
export interface PartRange { headers: Record<string, string>; start: number; length: number }

/** Part headers longer than this are not headers (a body whose framing is broken). */
const MAX_PART_HEADER = 16 << 10;
const WINDOW = 1 << 20;

/** The first occurrence of `needle` at or after `from`, read a window at a time; -1 if none. */
function find(src: ByteSource, needle: Buffer, from: number, within = Number.POSITIVE_INFINITY): number {
  const end = Math.min(src.size, from + within);
  for (let o = from; o + needle.length <= end; o += WINDOW) {
    const i = src.read(o, Math.min(WINDOW + needle.length - 1, end - o)).indexOf(needle);
    if (i >= 0) return o + i;
  }
  return -1;
}

/**
 * Find the parts of a multipart/related body (in memory or spooled: read a window at a time);
 * MULTIPART_MALFORMED when the framing is broken, MULTIPART_TOO_MANY_PARTS past `maxParts` (before any part is
 * used). Messages describe, never quote, the input.
 */
export function splitMultipart(src: ByteSource, boundary: string, maxParts = Number.POSITIVE_INFINITY): PartRange[] {
  const delim = Buffer.from(`--${boundary}`, 'latin1');
  const next = Buffer.from(`\r\n--${boundary}`, 'latin1');
  const parts: PartRange[] = [];
  let pos = find(src, delim, 0);
  if (pos < 0) throw new CustosError('MULTIPART_MALFORMED', `multipart body does not contain the boundary given in Content-Type (${boundary.length} characters)`);
  for (;;) {
    pos += delim.length;
    if (pos + 2 <= src.size && src.read(pos, 2).equals(Buffer.from('--', 'latin1'))) break; // closing delimiter "--boundary--"
    if (parts.length === maxParts) throw new CustosError('MULTIPART_TOO_MANY_PARTS', `more than ${maxParts} parts in one request`);
    const lineEnd = find(src, Buffer.from('\r\n', 'latin1'), pos, MAX_PART_HEADER);
    const headEnd = lineEnd < 0 ? -1 : find(src, Buffer.from('\r\n\r\n', 'latin1'), lineEnd, MAX_PART_HEADER);
    if (headEnd < 0) throw new CustosError('MULTIPART_MALFORMED', 'multipart part has no header end');
    const headers: Record<string, string> = {};
    for (const line of src.read(lineEnd + 2, Math.max(0, headEnd - lineEnd - 2)).toString('latin1').split('\r\n')) {
      const c = line.indexOf(':');
      if (c > 0) headers[line.slice(0, c).trim().toLowerCase()] = line.slice(c + 1).trim();
    }
    const end = find(src, next, headEnd + 4);
    if (end < 0) throw new CustosError('MULTIPART_MALFORMED', 'multipart body ends without its closing boundary');
    parts.push({ headers, start: headEnd + 4, length: end - (headEnd + 4) });
    pos = end + 2;
  }
  return parts;
}

/** The same for a body in memory: each part's body a view of it. */
export function parseMultipart(body: Buffer, boundary: string, maxParts = Number.POSITIVE_INFINITY): Part[] {
  return splitMultipart(new BufferSource(body), boundary, maxParts).map((p) => ({ headers: p.headers, body: body.subarray(p.start, p.start + p.length) }));
}
