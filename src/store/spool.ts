import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readdirSync, readSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { BufferSource, type ByteSource, truncated } from '../dicom/byte-source.ts';
import { CustosError } from '../errors.ts';

/*
 * Received bytes too large to hold in memory go to a spool file instead, encrypted as they arrive
 * (AES-256-CTR, NIST SP 800-38A) under a key that exists only in this process's memory: a spool file
 * left by a crash is unreadable and removed at the next start. CTR, not GCM, because the header is
 * parsed from the spool by random access (a block decrypts on its own); the spool is never the copy
 * that is kept: the blob store's authenticated copy is, and the spool is removed once it is durable.
 */

const BLOCK = 16;
const WINDOW = 1 << 20;

/** The counter block for block number `n` after `iv` (CTR increments the whole block, big-endian). */
function counterAt(iv: Buffer, n: number): Buffer {
  const v = (BigInt(`0x${iv.toString('hex')}`) + BigInt(n)) & ((1n << 128n) - 1n);
  return Buffer.from(v.toString(16).padStart(32, '0'), 'hex');
}

/** A directory of spool files; what a previous process left there is removed (its keys are gone). */
export class Spool {
  readonly dir: string;
  constructor(dir: string) {
    this.dir = dir;
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    for (const f of readdirSync(dir)) rmSync(join(dir, f), { force: true });
  }

  create(): SpoolWriter {
    return new SpoolWriter(join(this.dir, `${Date.now().toString(36)}-${randomBytes(8).toString('hex')}.spool`));
  }
}

/** One spool file being written: bytes appended in order, encrypted, hashed (SHA-256) as they come. */
export class SpoolWriter {
  private readonly path: string;
  private readonly key = randomBytes(32);
  private readonly iv = randomBytes(BLOCK);
  private readonly cipher;
  private readonly hash = createHash('sha256');
  private fd: number | undefined;
  size = 0;

  constructor(path: string) {
    this.path = path;
    this.fd = openSync(path, 'wx', 0o600);
    this.cipher = createCipheriv('aes-256-ctr', this.key, this.iv);
  }

  write(chunk: Buffer): void {
    if (this.fd === undefined) throw new CustosError('STORE_UNAVAILABLE', 'spool file already closed');
    this.hash.update(chunk);
    const enc = this.cipher.update(chunk);
    for (let o = 0; o < enc.length;) o += writeSync(this.fd, enc, o, enc.length - o, this.size + o);
    this.size += chunk.length;
  }

  /** Done writing: the bytes, to read back. */
  finish(): SpooledBytes {
    if (this.fd === undefined) throw new CustosError('STORE_UNAVAILABLE', 'spool file already closed');
    closeSync(this.fd);
    this.fd = undefined;
    return new SpooledBytes(this.path, this.key, this.iv, this.size, this.hash.digest('hex'));
  }

  /** Not needed after all: removed. */
  discard(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    rmSync(this.path, { force: true });
  }
}

/** An instance's bytes as received: in memory, or spooled to disk; read through a ByteSource either way. */
export interface Received {
  readonly size: number;
  /** The bytes, when they are held in memory. */
  readonly memory?: Buffer | undefined;
  /** SHA-256 of the bytes, hex. */
  sha256(): string;
  /** Random access to the bytes (close it when done). */
  open(): ByteSource;
  /** Bytes [start, start+length) as a Received of their own (a STOW-RS part of a body). */
  slice(start: number, length: number): Received;
}

export function inMemory(bytes: Buffer): Received {
  let digest: string | undefined;
  return {
    size: bytes.length,
    memory: bytes,
    sha256: () => (digest ??= createHash('sha256').update(bytes).digest('hex')),
    open: () => new BufferSource(bytes),
    slice: (start, length) => inMemory(bytes.subarray(start, start + length)),
  };
}

/** A spool file written and closed: read back by random access, removed when no longer needed. */
export class SpooledBytes implements Received {
  readonly size: number;
  private readonly path: string;
  private readonly key: Buffer;
  private readonly iv: Buffer;
  private readonly digest: string;
  constructor(path: string, key: Buffer, iv: Buffer, size: number, sha256: string) {
    this.path = path;
    this.key = key;
    this.iv = iv;
    this.size = size;
    this.digest = sha256;
  }
  sha256(): string { return this.digest; }
  open(): ByteSource { return new SpoolSource(this.path, this.key, this.iv, this.size); }
  slice(start: number, length: number): Received {
    return rangeOf(() => this.open(), start, length);
  }
  remove(): void { rmSync(this.path, { force: true }); }
}

function rangeOf(open: () => ByteSource, start: number, length: number): Received {
  let digest: string | undefined;
  return {
    size: length,
    sha256: () => (digest ??= digestOf(open(), start, length)),
    open: () => new RangeSource(open(), start, length),
    slice: (s, n) => rangeOf(open, start + s, n),
  };
}

function digestOf(src: ByteSource, start: number, length: number): string {
  const h = createHash('sha256');
  try {
    for (const c of chunksOf(src, start, length)) h.update(c);
  } finally { src.close(); }
  return h.digest('hex');
}

/** Bytes [start, start+length) of a source, in order, at most 1 MiB at a time (each a view valid until the next). */
export function* chunksOf(src: ByteSource, start = 0, length = src.size - start): Generator<Buffer> {
  for (let o = 0; o < length; o += WINDOW) yield src.read(start + o, Math.min(WINDOW, length - o));
}

/** A spool file read through a decrypted window (memory: the window, whatever the file's size). */
class SpoolSource implements ByteSource {
  readonly size: number;
  private readonly fd: number;
  private readonly key: Buffer;
  private readonly iv: Buffer;
  private win = Buffer.alloc(0);
  private winOffset = 0;
  constructor(path: string, key: Buffer, iv: Buffer, size: number) {
    this.fd = openSync(path, 'r');
    this.key = key;
    this.iv = iv;
    this.size = size;
  }
  read(offset: number, length: number): Buffer {
    if (offset < 0 || offset + length > this.size) throw truncated(offset, length, this.size);
    if (offset >= this.winOffset && offset + length <= this.winOffset + this.win.length) {
      return this.win.subarray(offset - this.winOffset, offset - this.winOffset + length);
    }
    const from = offset - (offset % BLOCK);
    const want = Math.min(Math.max(length + (offset - from), WINDOW), this.size - from);
    const enc = Buffer.allocUnsafe(want);
    for (let got = 0; got < want;) {
      const n = readSync(this.fd, enc, got, want - got, from + got);
      if (n === 0) throw new CustosError('STORE_CORRUPT', 'a spool file is shorter than what was written to it');
      got += n;
    }
    const d = createCipheriv('aes-256-ctr', this.key, counterAt(this.iv, from / BLOCK));
    this.win = d.update(enc); // CTR: as long as its input, nothing held back for final()
    this.winOffset = from;
    return this.win.subarray(offset - from, offset - from + length);
  }
  close(): void { closeSync(this.fd); }
}

/** Part of another source, from `start` on, `size` bytes long. */
class RangeSource implements ByteSource {
  readonly size: number;
  private readonly src: ByteSource;
  private readonly start: number;
  constructor(src: ByteSource, start: number, size: number) {
    this.src = src;
    this.start = start;
    this.size = size;
  }
  read(offset: number, length: number): Buffer {
    if (offset < 0 || offset + length > this.size) throw truncated(offset, length, this.size);
    return this.src.read(this.start + offset, length);
  }
  close(): void { this.src.close(); }
}

/**
 * Memory for received bytes shared by every connection: an instance or request body is held in
 * memory while its share fits, and goes to the spool otherwise, so that memory is bounded by this
 * budget and not by what clients send or how many send at once.
 */
export class MemoryBudget {
  private used = 0;
  readonly limit: number;
  constructor(limitBytes: number) {
    this.limit = limitBytes;
  }
  /** Take `n` bytes if they fit; false if not (the caller spools instead). */
  reserve(n: number): boolean {
    if (this.used + n > this.limit) return false;
    this.used += n;
    return true;
  }
  release(n: number): void {
    this.used = Math.max(0, this.used - n);
  }
  get inUse(): number {
    return this.used;
  }
}
