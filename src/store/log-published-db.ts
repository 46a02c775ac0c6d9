import { CustosError } from '../errors.ts';
import type { Database } from './database.ts';
import type { LogStore } from './log-store.ts';

/**
 * The database's copy of the latest checkpoint the log published (a second copy outside the log
 * directory, beside the file next to the key). At start the log must extend it (LOG_ROLLBACK
 * otherwise); afterwards every checkpoint published replaces it, one write at a time, the newest winning.
 */
export async function keepPublishedInDatabase(db: Database, log: LogStore): Promise<{ flush(): Promise<void> }> {
  const [row] = await db.query<{ note: string }>('SELECT note FROM log_published WHERE origin = $1', [log.origin]);
  if (row) log.checkExtends(row.note, 'the database');
  let pending: { note: string; size: number } | undefined;
  let writing: Promise<void> = Promise.resolve();
  const write = async (): Promise<void> => {
    while (pending) {
      const { note, size } = pending;
      pending = undefined;
      try {
        await db.query(
          `INSERT INTO log_published (origin, size, note) VALUES ($1, $2, $3)
           ON CONFLICT (origin) DO UPDATE SET size = EXCLUDED.size, note = EXCLUDED.note, published_at = now() WHERE log_published.size <= EXCLUDED.size`,
          [log.origin, size, note],
        );
      } catch (e) {
        process.stderr.write(`custos: published checkpoint not recorded in the database (next one retries): ${e instanceof CustosError ? `${e.code}: ` : ''}${(e as Error).message}\n`);
      }
    }
  };
  const enqueue = (note: string, size: number): void => {
    const idle = !pending;
    pending = { note, size };
    if (idle) writing = writing.then(write);
  };
  log.onPublish((note, body) => enqueue(note, body.size));
  const { note, body } = log.checkpoint;
  enqueue(note, body.size);
  return { flush: () => writing };
}
