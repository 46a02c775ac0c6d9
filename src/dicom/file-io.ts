import { linkSync, readdirSync, openSync, closeSync, writeSync, readSync, renameSync, rmdirSync, unlinkSync, statSync, readFileSync, mkdirSync, fsyncSync } from 'node:fs';
import { threadId } from 'node:worker_threads';
import { dirname, basename, join } from 'node:path';
import { CustosError } from '../errors.ts';
import { type ByteSource, BufferSource, FileSource } from './byte-source.ts';
import { type Chunk, coalesceChunks } from './write.ts';

/** Suffix of the temporary files writeChunksAtomic renames into place: `.<name>.<pid>.<random>.custos-tmp`. */
export const TEMP_SUFFIX = '.custos-tmp';

/**
 * Folder under an output root where a thread writes its temporary files (`.custos-tmp/<pid>-<thread>`)
 * before linking them into place. Measured with two worker threads writing 2,000 files into the same
 * series folders: creating the temporary file next to its final name took 0.38 ms per file against
 * 0.07 ms alone (the two threads queue on the folder's lock for create, link and unlink); in a folder
 * of its own only the link touches the shared folder. Walks skip it (it starts with a dot).
 */
export const TEMP_DIR = '.custos-tmp';

export function threadTempDir(outRoot: string): string {
  return join(outRoot, TEMP_DIR, `${process.pid}-${threadId}`);
}

/** Remove this process's (empty) temporary folders under an output root, and the root's if empty. */
export function removeTempDirs(outRoot: string): void {
  const root = join(outRoot, TEMP_DIR);
  let names: string[];
  try { names = readdirSync(root); } catch { return; }
  for (const n of names) {
    if (!n.startsWith(`${process.pid}-`)) continue;
    try { rmdirSync(join(root, n)); madeDirs.delete(join(root, n)); } catch { /* not empty */ }
  }
  try { rmdirSync(root); } catch { /* other runs' folders remain */ }
}

/**
 * Remove temporary files left under `dir` by a writer that crashed (its process is gone).
 * Returns how many were removed. Files of live processes are left alone.
 */
export function removeStaleTemporaries(dir: string): number {
  let removed = 0;
  const visit = (d: string): void => {
    let names: string[];
    try { names = readdirSync(d); } catch { return; }
    for (const name of names) {
      const p = join(d, name);
      // The temporary folder's own name ends as a temporary file's does: it is a folder to look in.
      if (name.endsWith(TEMP_SUFFIX) && name !== TEMP_DIR) {
        const pid = Number(name.split('.').at(-3));
        if (!Number.isInteger(pid) || !processAlive(pid)) { try { unlinkSync(p); removed++; } catch { /* raced */ } }
      } else if ((!name.startsWith('.') || name === TEMP_DIR) && statSync(p).isDirectory()) visit(p);
    }
    // Temporary folders of processes that are gone, and the folder holding them, once empty.
    const gone = basename(dirname(d)) === TEMP_DIR && !processAlive(Number(basename(d).split('-')[0]));
    if (gone || basename(d) === TEMP_DIR) { try { rmdirSync(d); } catch { /* not empty */ } }
  };
  visit(dir);
  return removed;
}

function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
}

/** Folders this process has made already (one mkdir per folder, not per file). */
const madeDirs = new Set<string>();

/** Files up to this size are read in one call; larger ones are read through a window. */
const WHOLE_FILE_LIMIT = 64 << 20;

/**
 * Open an input. Files up to 64 MiB are read whole; larger ones through a window (FileSource).
 * With `reuse`, the bytes go into one buffer kept by this thread instead of a fresh allocation per
 * file (measured: 2,000 reads of 512 KiB take 0.14-0.19 s instead of 0.4-1.9 s, the difference being
 * page faults on new memory). Such a source is valid until close(); while one is open, another
 * reuse request gets a fresh buffer, so overlapping use stays correct.
 */
export function openSource(path: string, opts: { reuse?: boolean } = {}): ByteSource {
  const size = statSync(path).size;
  if (size > WHOLE_FILE_LIMIT) return new FileSource(path);
  if (!opts.reuse || reusableInUse) return new BufferSource(readFileSync(path));
  if (reusable.length < size) reusable = Buffer.allocUnsafe(Math.max(size, reusable.length * 2, 1 << 20));
  const fd = openSync(path, 'r');
  let got = 0;
  try {
    while (got < size) {
      const n = readSync(fd, reusable, got, size - got, got);
      if (n === 0) break;
      got += n;
    }
  } finally {
    closeSync(fd);
  }
  reusableInUse = true;
  const source = new BufferSource(reusable.subarray(0, got));
  source.close = () => { reusableInUse = false; };
  return source;
}

let reusable = Buffer.alloc(0);
let reusableInUse = false;

/**
 * Write chunks to `path` through a temporary name and rename, so a crash never leaves a partial
 * file under the final name. Byte ranges are copied from the source in blocks: pixel data of large
 * inputs streams through without being held in memory.
 */
export function writeChunksAtomic(path: string, chunks: Chunk[], source: ByteSource, opts: { fsync?: boolean; exclusive?: boolean; tempDir?: string } = {}): 'written' | 'exists' {
  const dir = dirname(path);
  const tempDir = opts.tempDir ?? dir;
  for (const d of [dir, tempDir]) if (!madeDirs.has(d)) { mkdirSync(d, { recursive: true }); madeDirs.add(d); }
  const tmp = join(tempDir, `.${basename(path)}.${process.pid}.${Math.random().toString(36).slice(2)}${TEMP_SUFFIX}`);
  const fd = openSync(tmp, 'w', 0o644);
  try {
    // Small chunks are gathered into one write; large ones (pixel data views) are written without a copy.
    for (const c of coalesceChunks(chunks, source)) {
      if (Buffer.isBuffer(c)) writeAll(fd, c);
      else copyRange(source as FileSource, fd, c.offset, c.length);
    }
    if (opts.fsync) fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    try { unlinkSync(tmp); } catch { /* already gone */ }
    throw e;
  }
  closeSync(fd);
  if (!opts.exclusive) {
    renameSync(tmp, path);
    return 'written';
  }
  // Exclusive: link() fails atomically when the name exists, so two writers never replace each other.
  try {
    linkSync(tmp, path);
    return 'written';
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return 'exists';
    throw e;
  } finally {
    unlinkSync(tmp);
  }
}

function writeAll(fd: number, buf: Buffer): void {
  let done = 0;
  while (done < buf.length) done += writeSync(fd, buf, done, buf.length - done);
}

function copyRange(src: FileSource, fd: number, offset: number, length: number): void {
  const block = Buffer.allocUnsafe(Math.min(length, 4 << 20));
  let done = 0;
  while (done < length) {
    const n = readSync(src.fd, block, 0, Math.min(block.length, length - done), offset + done);
    if (n === 0) throw new CustosError('IO', 'input file shrank while it was being copied');
    writeAll(fd, block.subarray(0, n));
    done += n;
  }
}
