import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { syncDir } from './log-files.ts';

/**
 * The latest checkpoint the signer published, kept outside the log directory (beside the log key):
 * whoever rolls the log directory back or deletes it must also find and roll back this copy, the
 * database's (gateway) and every witness's. Written after the checkpoint itself, so it is never ahead.
 */
export interface PublishedCheckpoints {
  /** The latest published checkpoint note, if any. */
  latest(): string | undefined;
  /** Record a newly published checkpoint note (durably). */
  record(note: string): void;
}

export class PublishedCheckpointFile implements PublishedCheckpoints {
  readonly path: string;
  constructor(path: string) { this.path = path; }

  latest(): string | undefined {
    return existsSync(this.path) ? readFileSync(this.path, 'utf8') : undefined;
  }

  record(note: string): void {
    mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
    const tmp = `${this.path}.${process.pid}.tmp`;
    const fd = openSync(tmp, 'w', 0o600);
    try { writeSync(fd, note); fsyncSync(fd); } finally { closeSync(fd); }
    renameSync(tmp, this.path);
    syncDir(dirname(this.path));
  }
}
