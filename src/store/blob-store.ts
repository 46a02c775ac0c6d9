import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, unlinkSync, writevSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CustosError } from '../errors.ts';

/** Where encrypted objects live; `put` returns only once the object is durable. */
export interface BlobStore {
  put(key: string, parts: readonly Buffer[]): Promise<void>;
  get(key: string): Promise<Buffer>;
  delete(key: string): Promise<void>;
}

const SAFE_KEY = /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/;

/**
 * Blobs as files under a directory. A put writes a temporary file, fsyncs it, renames it into place
 * and fsyncs the directory: after a crash an object is either whole or absent, never torn.
 */
export class FsBlobStore implements BlobStore {
  readonly root: string;
  private readonly madeDirs = new Set<string>();

  constructor(root: string) {
    this.root = root;
    mkdirSync(root, { recursive: true, mode: 0o700 });
  }

  private path(key: string): string {
    if (!SAFE_KEY.test(key) || key.includes('..')) throw new CustosError('STORE_BAD_KEY', `bad blob key ${JSON.stringify(key)}`);
    return join(this.root, key);
  }

  async put(key: string, parts: readonly Buffer[]): Promise<void> {
    const path = this.path(key);
    const dir = dirname(path);
    if (!this.madeDirs.has(dir)) {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      this.madeDirs.add(dir);
    }
    const tmp = `${path}.tmp-${process.pid}`;
    try {
      const fd = openSync(tmp, 'w', 0o600);
      try {
        let left = parts.reduce((n, p) => n + p.length, 0);
        let pending = [...parts];
        while (left > 0) {
          let n = writevSync(fd, pending);
          left -= n;
          while (pending.length && n >= pending[0]!.length) n -= pending.shift()!.length;
          if (n > 0) pending[0] = pending[0]!.subarray(n);
        }
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, path);
      const d = openSync(dir, 'r');
      try { fsyncSync(d); } finally { closeSync(d); }
    } catch (e) {
      try { unlinkSync(tmp); } catch { /* already gone */ }
      throw new CustosError('STORE_UNAVAILABLE', `cannot store blob ${key}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }

  async get(key: string): Promise<Buffer> {
    try {
      return readFileSync(this.path(key));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new CustosError('STORE_MISSING', `blob ${key} is missing`);
      throw new CustosError('STORE_UNAVAILABLE', `cannot read blob ${key}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }

  async delete(key: string): Promise<void> {
    rmSync(this.path(key), { force: true });
  }
}
