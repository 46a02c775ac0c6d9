import { randomBytes } from 'node:crypto';
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

/**
 * Split a multipart/related body into parts; USAGE when the framing is broken, MULTIPART_TOO_MANY_PARTS
 * past `maxParts` (before any part is used). Messages describe, never quote, the input.
 */
export function parseMultipart(body: Buffer, boundary: string, maxParts = Number.POSITIVE_INFINITY): Part[] {
  const delim = Buffer.from(`--${boundary}`, 'latin1');
  const parts: Part[] = [];
  let pos = body.indexOf(delim);
  if (pos < 0) throw new CustosError('USAGE', `multipart body does not contain the boundary given in Content-Type (${boundary.length} characters)`);
  for (;;) {
    pos += delim.length;
    if (body[pos] === 0x2d && body[pos + 1] === 0x2d) break; // closing delimiter "--boundary--"
    if (parts.length === maxParts) throw new CustosError('MULTIPART_TOO_MANY_PARTS', `more than ${maxParts} parts in one request`);
    const headStart = body.indexOf('\r\n', pos) + 2;
    const headEnd = body.indexOf('\r\n\r\n', headStart - 2);
    if (headStart < 2 || headEnd < 0) throw new CustosError('USAGE', 'multipart part has no header end');
    const headers: Record<string, string> = {};
    for (const line of body.toString('latin1', headStart, headEnd).split('\r\n')) {
      const c = line.indexOf(':');
      if (c > 0) headers[line.slice(0, c).trim().toLowerCase()] = line.slice(c + 1).trim();
    }
    const next = body.indexOf(Buffer.concat([Buffer.from('\r\n', 'latin1'), delim]), headEnd + 4);
    if (next < 0) throw new CustosError('USAGE', 'multipart body ends without its closing boundary');
    parts.push({ headers, body: body.subarray(headEnd + 4, next) });
    pos = next + 2;
  }
  return parts;
}
