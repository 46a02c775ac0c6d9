import { join } from 'node:path';
import { parseVerifierKey } from '../integrity/note.ts';
import { loadOrCreateLogKey } from './log-key.ts';
import { lockLog } from './log-files.ts';
import { LogStore } from './log-store.ts';
import { PublishedCheckpointFile } from './log-published.ts';

/** Where a data directory keeps its log and the log's key. */
export const logDirOf = (dataDir: string): string => join(dataDir, 'log');
export const logKeyPathOf = (dataDir: string): string => join(dataDir, 'keys', 'log.key');
/** The latest checkpoint published, kept beside the key, outside the log directory (log-published.ts). */
export const publishedCheckpointsOf = (dataDir: string): PublishedCheckpointFile => new PublishedCheckpointFile(join(dataDir, 'keys', 'log-checkpoint'));

/** Open the data directory's log for appending (creates key and log on first use); release() when done. */
export function openLogForWriting(dataDir: string) {
  const key = loadOrCreateLogKey(logKeyPathOf(dataDir));
  const unlock = lockLog(logDirOf(dataDir));
  try {
    const log = LogStore.open(logDirOf(dataDir), parseVerifierKey(key.vkey), key.signer, publishedCheckpointsOf(dataDir));
    return { log, signer: key.signer, vkey: key.vkey, release: unlock };
  } catch (e) {
    unlock();
    throw e;
  }
}

/** Open the log read-only; the verifier key is the data directory's unless one is pinned. */
export function openLogForReading(dataDir: string, pinnedVkey?: string) {
  const vkey = pinnedVkey ?? loadOrCreateLogKey(logKeyPathOf(dataDir)).vkey;
  const verifier = parseVerifierKey(vkey);
  return { log: LogStore.open(logDirOf(dataDir), verifier, undefined, publishedCheckpointsOf(dataDir)), verifier, vkey };
}
