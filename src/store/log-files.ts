import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { CustosError } from '../errors.ts';

/* The log directory's files: appends (durable on request), directory syncs, and the single-writer lock. */

export function append(path: string, data: Buffer, durably = false): void {
  const fd = openSync(path, 'a', 0o600);
  try {
    let done = 0;
    while (done < data.length) done += writeSync(fd, data, done, data.length - done);
    if (durably) fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export const appendDurably = (path: string, data: Buffer): void => append(path, data, true);

export function syncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try { fsyncSync(fd); } finally { closeSync(fd); }
  } catch { /* some filesystems do not sync directories */ }
}

/** A single writer per log: an exclusive lock file holding the writer's pid (stale locks of dead processes are taken over). */
export function lockLog(dir: string): () => void {
  mkdirSync(dir, { recursive: true });
  const lock = join(dir, 'lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lock, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => { try { unlinkSync(lock); } catch { /* gone */ } };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const pid = Number(readFileSync(lock, 'utf8'));
      let alive = false;
      try { process.kill(pid, 0); alive = true; } catch (err) { alive = (err as NodeJS.ErrnoException).code === 'EPERM'; }
      if (alive && pid !== process.pid) throw new CustosError('LOG_BUSY', `the log is in use by process ${pid}`);
      if (statSync(lock)) unlinkSync(lock);
    }
  }
  throw new CustosError('LOG_BUSY', 'could not lock the log');
}

/** Replace a file's content durably: written and fsynced beside it, renamed over it, the directory synced. */
export function replaceDurably(path: string, text: string): void {
  const dir = path.slice(0, path.lastIndexOf('/')) || '.';
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try { writeSync(fd, text); fsyncSync(fd); } finally { closeSync(fd); }
  renameSync(tmp, path);
  syncDir(dir);
}
