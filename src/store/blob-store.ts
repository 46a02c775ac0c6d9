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

export interface S3Settings {
  bucket: string;
  /** S3-compatible endpoint (http://host:port); unset: AWS. */
  endpoint?: string | undefined;
  region: string;
  prefix: string;
  forcePathStyle: boolean;
}

/**
 * Blobs in S3-compatible object storage (AWS S3, Swift s3api, Ceph RGW…). A PUT is answered only
 * once the object is stored durably by the service, which is what the gateway acknowledges on.
 * Credentials come from the standard chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, profile, role).
 */
export class S3BlobStore implements BlobStore {
  private readonly s: S3Settings;
  private client: import('@aws-sdk/client-s3').S3Client | undefined;
  private sdk: typeof import('@aws-sdk/client-s3') | undefined;

  constructor(s: S3Settings) {
    this.s = s;
  }

  private async c() {
    if (!this.client) {
      this.sdk = await import('@aws-sdk/client-s3');
      this.client = new this.sdk.S3Client({ region: this.s.region, forcePathStyle: this.s.forcePathStyle, ...(this.s.endpoint ? { endpoint: this.s.endpoint } : {}) });
    }
    return { client: this.client, sdk: this.sdk! };
  }

  private key(key: string): string {
    if (!SAFE_KEY.test(key) || key.includes('..')) throw new CustosError('STORE_BAD_KEY', `bad blob key ${JSON.stringify(key)}`);
    return `${this.s.prefix}${key}`;
  }

  private fail(op: string, key: string, e: unknown): CustosError {
    const err = e as { name?: string; $metadata?: { httpStatusCode?: number }; message?: string };
    if (err.name === 'NoSuchKey' || err.$metadata?.httpStatusCode === 404) return new CustosError('STORE_MISSING', `blob ${key} is missing`);
    return new CustosError('STORE_UNAVAILABLE', `cannot ${op} blob ${key} in bucket ${this.s.bucket}: ${err.name ?? 'error'}${err.$metadata?.httpStatusCode ? ` (HTTP ${err.$metadata.httpStatusCode})` : ''}`);
  }

  /** Check the bucket is reachable and writable credentials exist (called once on start). */
  async check(): Promise<void> {
    const { client, sdk } = await this.c();
    try {
      await client.send(new sdk.HeadBucketCommand({ Bucket: this.s.bucket }));
    } catch (e) {
      const err = e as { name?: string; $metadata?: { httpStatusCode?: number } };
      const status = err.$metadata?.httpStatusCode;
      const why = status === 404 ? 'does not exist' : status === 403 ? 'is not accessible with these credentials' : `cannot be reached (${err.name ?? 'error'}${status ? `, HTTP ${status}` : ''})`;
      throw new CustosError('STORE_UNAVAILABLE', `S3 bucket ${this.s.bucket} ${why}${this.s.endpoint ? ` at ${this.s.endpoint}` : ''}`);
    }
  }

  async put(key: string, parts: readonly Buffer[]): Promise<void> {
    const { client, sdk } = await this.c();
    const body = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    try {
      await client.send(new sdk.PutObjectCommand({ Bucket: this.s.bucket, Key: this.key(key), Body: body, ContentLength: body.length, ContentType: 'application/octet-stream' }));
    } catch (e) {
      throw this.fail('store', key, e);
    }
  }

  async get(key: string): Promise<Buffer> {
    const { client, sdk } = await this.c();
    try {
      const r = await client.send(new sdk.GetObjectCommand({ Bucket: this.s.bucket, Key: this.key(key) }));
      return Buffer.from(await r.Body!.transformToByteArray());
    } catch (e) {
      throw this.fail('read', key, e);
    }
  }

  async delete(key: string): Promise<void> {
    const { client, sdk } = await this.c();
    try {
      await client.send(new sdk.DeleteObjectCommand({ Bucket: this.s.bucket, Key: this.key(key) }));
    } catch (e) {
      throw this.fail('delete', key, e);
    }
  }
}
