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

function truncated(offset: number, length: number, size: number): CustosError {
  return new CustosError('DICOM_TRUNCATED', `file is truncated: needed ${length} bytes at offset ${offset}, file ends at ${size}`);
}
