import { join } from 'node:path';
import { parseVerifierKey } from '../integrity/note.ts';
import { loadOrCreateLogKey } from './log-key.ts';
import { lockLog } from './log-files.ts';
import { LogStore } from './log-store.ts';

/** Where a data directory keeps its log and the log's key. */
export const logDirOf = (dataDir: string): string => join(dataDir, 'log');
export const logKeyPathOf = (dataDir: string): string => join(dataDir, 'keys', 'log.key');

/** Open the data directory's log for appending (creates key and log on first use); release() when done. */
export function openLogForWriting(dataDir: string) {
  const key = loadOrCreateLogKey(logKeyPathOf(dataDir));
  const unlock = lockLog(logDirOf(dataDir));
  try {
    const log = LogStore.open(logDirOf(dataDir), parseVerifierKey(key.vkey), key.signer);
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
  return { log: LogStore.open(logDirOf(dataDir), verifier), verifier, vkey };
}
