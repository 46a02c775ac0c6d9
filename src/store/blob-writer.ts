import { closeSync, fdatasyncSync, fsyncSync, mkdirSync, openSync, unlinkSync, writevSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { sealBlob } from './data-keys.ts';

/*
 * Durable blob writes on a thread of their own (FsBlobStore's writers). A put is create-exclusive,
 * write, fdatasync, close, fsync of the directory: through fs/promises that is seven trips through
 * libuv's pool and back through the event loop, and under load each trip waited for the event loop
 * (measured: p50 9.8 ms, p90 28 ms per 512 KiB slice, where the disk needs 1 ms). Here the whole
 * sequence runs as plain synchronous calls, and the caller waits for one message. A plaintext in
 * shared memory is encrypted here too, off the event loop, and on request inspected by the module the
 * store was given (`inspector`: the pipeline's description for the log, a parse and a hash of every
 * frame, about 1 ms per CT slice that the event loop, which receives every instance, no longer
 * spends). The store itself knows nothing of what it stores.
 */

/** A module the store's owner names: `inspect(plain)` once a plaintext is durable; undefined when it cannot. */
export interface Inspector { inspect(plain: Buffer): Promise<unknown> }
const inspector: Promise<Inspector | undefined> = (workerData as { inspector?: string } | undefined)?.inspector
  ? import((workerData as { inspector: string }).inspector) as Promise<Inspector>
  : Promise.resolve(undefined);

/** The bytes to write: `parts` as they are, or `seal.plain` encrypted here (sealBlob) under `seal.dataKey`. */
export interface WriteRequest { id: number; path: string; dir: string; parts?: readonly Uint8Array[]; seal?: { dataKey: Uint8Array; blobKey: string; plain: Uint8Array; inspect?: boolean } }
/**
 * Per request, first `durable` (or `error`), and then, when an inspection was asked for, `inspected`:
 * what the inspector made of the plaintext, or null when it could not (the caller then does it).
 */
export type WriteReply =
  | { id: number; durable: true }
  | { id: number; error: { code: string; message: string } }
  | { id: number; inspected: unknown };

const madeDirs = new Set<string>();

const buf = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

function writeDurably(path: string, dir: string, parts: readonly Uint8Array[]): void {
  if (!madeDirs.has(dir)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    madeDirs.add(dir);
  }
  let fd: number | undefined = openSync(path, 'wx', 0o600);
  try {
    let pending = parts.filter((p) => p.length > 0);
    while (pending.length) {
      let n = writevSync(fd, pending);
      while (pending.length && n >= pending[0]!.length) n -= pending.shift()!.length;
      if (n > 0) pending[0] = pending[0]!.subarray(n);
    }
    fdatasyncSync(fd);
    closeSync(fd);
    fd = undefined;
    const d = openSync(dir, 'r');
    try { fsyncSync(d); } finally { closeSync(d); }
  } catch (e) {
    if (fd !== undefined) try { closeSync(fd); } catch { /* already failing */ }
    try { unlinkSync(path); } catch { /* never created, or gone */ }
    throw e;
  }
}

parentPort!.on('message', (req: WriteRequest) => {
  try {
    const parts = req.seal ? sealBlob(buf(req.seal.dataKey), [buf(req.seal.plain)], req.seal.blobKey) : req.parts ?? [];
    writeDurably(req.path, req.dir, parts);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    parentPort!.postMessage({ id: req.id, error: { code: err.code ?? 'EIO', message: err.message } } satisfies WriteReply);
    return;
  }
  // Durable: the sender can be answered now; the inspection (about 1 ms per CT slice) follows.
  parentPort!.postMessage({ id: req.id, durable: true } satisfies WriteReply);
  if (req.seal?.inspect) void inspect(req).then((inspected) => parentPort!.postMessage({ id: req.id, inspected: inspected ?? null } satisfies WriteReply));
});

/** Not inspectable (no inspector, or it failed on these bytes): null, and the caller does it itself. */
async function inspect(req: WriteRequest): Promise<unknown> {
  try {
    return (await (await inspector)?.inspect(buf(req.seal!.plain))) ?? null;
  } catch {
    return null;
  }
}
