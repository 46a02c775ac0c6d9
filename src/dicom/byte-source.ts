import { openSync, readSync, closeSync, fstatSync } from 'node:fs';
import { CustosError } from '../errors.ts';

/** Random access to the bytes of an input: all of it in memory, or a file read on demand. */
export interface ByteSource {
  readonly size: number;
  /** Bytes [offset, offset+length); a view, valid until the next read. Throws DICOM_TRUNCATED past the end. */
  read(offset: number, length: number): Buffer;
  close(): void;
}

export class BufferSource implements ByteSource {
  readonly buffer: Buffer;
  readonly size: number;
  constructor(buffer: Buffer) {
    this.buffer = buffer;
    this.size = buffer.length;
  }
  read(offset: number, length: number): Buffer {
    if (offset + length > this.size) throw truncated(offset, length, this.size);
    return this.buffer.subarray(offset, offset + length);
  }
  close(): void {}
}

/**
 * Bytes held as consecutive chunks (a de-identified instance: its new header, then views of the
 * original's pixel data), read without joining them: a read inside one chunk is a view of it, and
 * only a read across chunks is copied.
 */
export class ChunksSource implements ByteSource {
  readonly size: number;
  private readonly chunks: readonly Buffer[];
  private readonly starts: number[] = [];
  constructor(chunks: readonly Buffer[]) {
    this.chunks = chunks;
    let n = 0;
    for (const c of chunks) { this.starts.push(n); n += c.length; }
    this.size = n;
  }
  read(offset: number, length: number): Buffer {
    if (offset + length > this.size) throw truncated(offset, length, this.size);
    let i = this.starts.length - 1;
    while (i > 0 && this.starts[i]! > offset) i--;
    const at = offset - this.starts[i]!;
    if (at + length <= this.chunks[i]!.length) return this.chunks[i]!.subarray(at, at + length);
    const out = Buffer.allocUnsafe(length);
    let done = 0;
    for (let pos = offset; done < length; i++) {
      const c = this.chunks[i]!;
      const from = pos - this.starts[i]!;
      const n = Math.min(c.length - from, length - done);
      c.copy(out, done, from, from + n);
      done += n;
      pos += n;
    }
    return out;
  }
  close(): void {}
}

/** The chunks after the first `skip` bytes (views, no copy). */
export function dropBytes(chunks: readonly Buffer[], skip: number): Buffer[] {
  const out: Buffer[] = [];
  for (const c of chunks) {
    if (skip >= c.length) { skip -= c.length; continue; }
    out.push(skip ? c.subarray(skip) : c);
    skip = 0;
  }
  return out;
}

const WINDOW = 1 << 20;

/**
 * A file read through a sliding window, so a large multi-frame file is parsed without being loaded:
 * memory stays at the window size whatever the file size (DEVELOPERS.md: stream pixel data through).
 */
export class FileSource implements ByteSource {
  readonly size: number;
  readonly fd: number;
  private win = Buffer.alloc(0);
  private winOffset = 0;
  constructor(path: string) {
    this.fd = openSync(path, 'r');
    this.size = fstatSync(this.fd).size;
  }
  read(offset: number, length: number): Buffer {
    if (offset + length > this.size) throw truncated(offset, length, this.size);
    if (offset >= this.winOffset && offset + length <= this.winOffset + this.win.length) {
      return this.win.subarray(offset - this.winOffset, offset - this.winOffset + length);
    }
    const want = Math.min(Math.max(length, WINDOW), this.size - offset);
    const buf = Buffer.allocUnsafe(want);
    let got = 0;
    while (got < want) {
      const n = readSync(this.fd, buf, got, want - got, offset + got);
      if (n === 0) break;
      got += n;
    }
    this.win = buf.subarray(0, got);
    this.winOffset = offset;
    if (got < length) throw truncated(offset, length, offset + got);
    return this.win.subarray(0, length);
  }
  close(): void {
    closeSync(this.fd);
  }
}

/** DICOM_TRUNCATED for a read past the end of a source. */
export function truncated(offset: number, length: number, size: number): CustosError {
  return new CustosError('DICOM_TRUNCATED', `file is truncated: needed ${length} bytes at offset ${offset}, file ends at ${size}`);
}
