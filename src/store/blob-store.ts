import { mkdirSync } from 'node:fs';
import { type FileHandle, mkdir, open, readFile, rm, unlink } from 'node:fs/promises';
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
 * Blobs as files under a directory. Keys are never reused (they carry a random part), so a put
 * creates its file exclusively, writes it, fdatasyncs it and fsyncs the directory; the database row
 * that references the blob is committed only after that. A crash mid-put can leave an unreferenced
 * partial file, never a referenced torn one.
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
      await mkdir(dir, { recursive: true, mode: 0o700 });
      this.madeDirs.add(dir);
    }
    // Asynchronous on purpose: the fsyncs run on libuv's thread pool while the event loop keeps
    // receiving other associations and forwarding.
    let fh: FileHandle | undefined;
    try {
      fh = await open(path, 'wx', 0o600);
      let pending = parts.filter((p) => p.length > 0);
      while (pending.length) {
        let { bytesWritten: n } = await fh.writev(pending);
        while (pending.length && n >= pending[0]!.length) n -= pending.shift()!.length;
        if (n > 0) pending[0] = pending[0]!.subarray(n);
      }
      await fh.datasync();
      await fh.close();
      fh = undefined;
      const d = await open(dir, 'r');
      try { await d.sync(); } finally { await d.close(); }
    } catch (e) {
      await fh?.close().catch(() => undefined);
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') await unlink(path).catch(() => undefined);
      throw new CustosError('STORE_UNAVAILABLE', `cannot store blob ${key}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }

  async get(key: string): Promise<Buffer> {
    try {
      return await readFile(this.path(key));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new CustosError('STORE_MISSING', `blob ${key} is missing`);
      throw new CustosError('STORE_UNAVAILABLE', `cannot read blob ${key}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }

  async delete(key: string): Promise<void> {
    await rm(this.path(key), { force: true });
  }
}
