import { mkdirSync } from 'node:fs';
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import { dirname, join } from 'node:path';
import { CustosError } from '../errors.ts';
import type { WriteReply, WriteRequest } from './blob-writer.ts';
import type { ByteSource } from '../dicom/byte-source.ts';
import { SEALED_OVERHEAD, SEALED_TAG_OFFSET, newBlobIv, sealBlob, sealBlobStream } from './data-keys.ts';
import { chunksOf } from './spool.ts';
import { siblingModule } from '../module-url.ts';

/** Where encrypted objects live; `put` returns only once the object is durable. */
export interface BlobStore {
  put(key: string, parts: readonly Buffer[]): Promise<void>;
  /**
   * Encrypt `plain` under a data key (sealBlob, the key as associated data) and store it durably under
   * `key`; resolves once it is durable. With `inspect`, a store that has the plaintext on a thread of
   * its own and was given an inspector (FsBlobStore) also runs it, and its result follows
   * (`inspected`, while the caller keeps `plain` unchanged); otherwise there is none, and the caller
   * does that work itself.
   */
  putSealed(key: string, dataKey: Buffer, plain: Buffer, opts?: { inspect?: boolean }): Promise<SealedPut>;
  /**
   * The same for bytes too large to hold in memory (a spooled instance): read from `src` a window at
   * a time and encrypted as they are written; resolves once durable.
   */
  putSealedFrom(key: string, dataKey: Buffer, src: ByteSource): Promise<void>;
  get(key: string): Promise<Buffer>;
  delete(key: string): Promise<void>;
}

/** A durable sealed put; `inspected` when an inspection was asked for and the store runs one (undefined: it could not). */
export interface SealedPut { inspected?: Promise<unknown> }

/**
 * Threads that write blobs durably; each put goes to the live one with the fewest waiting. Idle, they
 * keep no process alive. A thread that died fails what it was writing and takes no more; with none
 * left, puts fail at once (the instance is refused, not acknowledged) instead of waiting forever.
 */
class BlobWriters {
  private readonly workers: Array<{ worker: Worker; waiting: Map<number, Waiting>; dead?: string }> = [];
  private nextId = 1;

  constructor(count: number, inspector: URL | undefined) {
    for (let i = 0; i < count; i++) {
      const worker = new Worker(siblingModule('./blob-writer', import.meta.url), inspector ? { workerData: { inspector: inspector.href } } : {});
      const w: BlobWriters['workers'][number] = { worker, waiting: new Map() };
      worker.on('message', (m: WriteReply) => {
        const it = w.waiting.get(m.id);
        if (!it) return;
        if ('inspected' in m) it.inspectedNow?.(m.inspected ?? undefined);
        else it.settle('error' in m ? { error: m.error } : it.inspected ? { inspected: it.inspected } : {});
        // Done with a put once it failed, or was inspected, or is durable with no inspection to come.
        if ('error' in m || 'inspected' in m || !it.inspectedNow) {
          it.inspectedNow?.(undefined);
          w.waiting.delete(m.id);
        }
        if (!w.waiting.size) worker.unref();
      });
      const fail = (e: Error): void => {
        w.dead ??= e.message;
        for (const it of w.waiting.values()) {
          it.settle({ error: { code: 'WRITER_STOPPED', message: e.message } }); // no effect once durable
          it.inspectedNow?.(undefined);
        }
        w.waiting.clear();
      };
      worker.on('error', fail);
      worker.on('exit', (code) => fail(new Error(`exited with ${code}`)));
      worker.unref();
      this.workers.push(w);
    }
  }

  /** Write a new file and make it durable; resolves with the error, if any, or with the inspection to follow. */
  write(req: Omit<WriteRequest, 'id'>): Promise<Settled> {
    const live = this.workers.filter((w) => w.dead === undefined);
    if (!live.length) return Promise.resolve({ error: { code: 'WRITER_STOPPED', message: this.workers[0]?.dead ?? 'no writer' } });
    const w = live.reduce((a, b) => (b.waiting.size < a.waiting.size ? b : a));
    const id = this.nextId++;
    return new Promise((resolve) => {
      const it: Waiting = { settle: resolve };
      if (req.seal?.inspect) it.inspected = new Promise((r) => { it.inspectedNow = r; });
      w.waiting.set(id, it);
      w.worker.ref();
      w.worker.postMessage({ id, ...req } satisfies WriteRequest);
    });
  }
}

/** How a put ended: failed, or durable (with its inspection to follow, if one was asked for). */
type Settled = { error?: { code: string; message: string }; inspected?: Promise<unknown> };

/** A put on its way: settled once durable (or failed); then, if asked for, its inspection. */
interface Waiting {
  settle: (r: Settled) => void;
  inspected?: Promise<unknown>;
  inspectedNow?: (d: unknown) => void;
}

const SAFE_KEY = /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/;

/**
 * Blobs as files under a directory. Keys are never reused (they carry a random part), so a put
 * creates its file exclusively, writes it, fdatasyncs it and fsyncs the directory; the database row
 * that references the blob is committed only after that. A crash mid-put can leave an unreferenced
 * partial file, never a referenced torn one. Writes run on two threads of their own (blob-writer.ts):
 * one message per put instead of seven trips through the event loop, and one put's fdatasync does
 * not hold up the next.
 */
export class FsBlobStore implements BlobStore {
  readonly root: string;
  private readonly writers: BlobWriters;

  /** `inspector`: a module whose `inspect(plain)` the writer threads run on request after a sealed put (blob-writer.ts). */
  constructor(root: string, opts: { inspector?: URL } = {}) {
    this.root = root;
    this.writers = new BlobWriters(2, opts.inspector);
    mkdirSync(root, { recursive: true, mode: 0o700 });
  }

  private path(key: string): string {
    if (!SAFE_KEY.test(key) || key.includes('..')) throw new CustosError('STORE_BAD_KEY', `bad blob key ${JSON.stringify(key)}`);
    return join(this.root, key);
  }

  async put(key: string, parts: readonly Buffer[]): Promise<void> {
    await this.write(key, { parts });
  }

  /**
   * A plaintext in shared memory (what the DIMSE listener receives into) is encrypted by the writer
   * thread itself: the event loop neither encrypts nor copies it (measured: 1.5 ms of copying per
   * 512 KiB slice to post the sealed parts). Any other plaintext is sealed here and its parts copied over.
   */
  async putSealed(key: string, dataKey: Buffer, plain: Buffer, opts: { inspect?: boolean } = {}): Promise<SealedPut> {
    if (!(plain.buffer instanceof SharedArrayBuffer)) { await this.put(key, sealBlob(dataKey, [plain], key)); return {}; }
    return this.write(key, { seal: { dataKey, blobKey: key, plain, ...(opts.inspect ? { inspect: true } : {}) } });
  }

  private async write(key: string, what: Pick<WriteRequest, 'parts' | 'seal'>): Promise<SealedPut> {
    const path = this.path(key);
    const reply = await this.writers.write({ path, dir: dirname(path), ...what });
    if (reply.error) throw new CustosError('STORE_UNAVAILABLE', `cannot store blob ${key}: ${reply.error.code}`);
    return reply.inspected ? { inspected: reply.inspected } : {};
  }

  async putSealedFrom(key: string, dataKey: Buffer, src: ByteSource): Promise<void> {
    const path = this.path(key);
    let fh: import('node:fs/promises').FileHandle | undefined;
    try {
      await mkdir(dirname(path), { recursive: true, mode: 0o700 });
      fh = await open(path, 'wx', 0o600);
      const file = fh;
      let at = 0;
      const writeAt = async (b: Buffer, pos: number): Promise<void> => {
        for (let o = 0; o < b.length;) o += (await file.write(b, o, b.length - o, pos + o)).bytesWritten;
      };
      const sealing = sealBlobStream(dataKey, key, chunksOf(src), newBlobIv());
      let next = sealing.next();
      for (; !next.done; next = sealing.next()) { await writeAt(next.value, at); at += next.value.length; }
      await writeAt(next.value, SEALED_TAG_OFFSET);
      await fh.datasync();
      await fh.close();
      fh = undefined;
      const d = await open(dirname(path), 'r');
      try { await d.sync(); } finally { await d.close(); }
    } catch (e) {
      await fh?.close().catch(() => undefined);
      await rm(path, { force: true }).catch(() => undefined);
      if (e instanceof CustosError) throw e;
      throw new CustosError('STORE_UNAVAILABLE', `cannot store blob ${key}: ${(e as NodeJS.ErrnoException).code ?? 'EIO'}`);
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

  async putSealed(key: string, dataKey: Buffer, plain: Buffer): Promise<SealedPut> {
    await this.put(key, sealBlob(dataKey, [plain], key));
    return {};
  }

  /**
   * The tag of a sealed blob comes before its body, and an object is uploaded in order: the bytes are
   * encrypted twice with the same IV, first for the tag alone, then streamed to the service.
   */
  async putSealedFrom(key: string, dataKey: Buffer, src: ByteSource): Promise<void> {
    const iv = newBlobIv();
    const first = sealBlobStream(dataKey, key, chunksOf(src), iv);
    let r = first.next();
    while (!r.done) r = first.next();
    const tag = r.value;
    async function* body(): AsyncGenerator<Buffer> {
      let header = true;
      for (const b of { [Symbol.iterator]: () => sealBlobStream(dataKey, key, chunksOf(src), iv) }) {
        if (header) { header = false; yield Buffer.concat([b.subarray(0, SEALED_TAG_OFFSET), tag]); continue; }
        yield Buffer.from(b); // the window it was read into is read again for the next
      }
    }
    const { client, sdk } = await this.c();
    try {
      await client.send(new sdk.PutObjectCommand({ Bucket: this.s.bucket, Key: this.key(key), Body: Readable.from(body(), { objectMode: false }), ContentLength: src.size + SEALED_OVERHEAD, ContentType: 'application/octet-stream' }));
    } catch (e) {
      throw this.fail('store', key, e);
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
