/**
 * The embedded database maintains itself: PGlite runs PostgreSQL without autovacuum, so the gateway's
 * database thread vacuums and analyzes the tables autovacuum would (src/store/embedded-maintenance.ts).
 * Checked against PostgreSQL's own statistics views, on the gateway's tables and functions.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { type Database, openDatabase } from '../src/store/database.ts';
import { addSyntheticPatient, ingestSynthetic, logAndClaim, settleDone } from './database-workload.ts';
import { tempDir } from './helpers.ts';
import { waitFor } from './peers.ts';

/** What the gateway does to its tables for `n` instances: ingest, then log and claim, then settle, in batches of 4. */
async function handle(db: Database, n: number, from = 0): Promise<void> {
  await addSyntheticPatient(db);
  for (let i = from; i < from + n; i += 4) {
    const ids = await ingestSynthetic(db, i, 4);
    const jobs = await logAndClaim(db, ids, i);
    assert.equal(jobs.length, 4);
    await settleDone(db, jobs);
  }
}

const jobsStats = async (db: Database) => (await db.query('SELECT pg_stat_force_next_flush()'), await db.query<{ dead: number; vacuumed: boolean; analyzed: boolean }>(
  "SELECT n_dead_tup::int AS dead, last_vacuum IS NOT NULL AS vacuumed, last_analyze IS NOT NULL AS analyzed FROM pg_stat_user_tables WHERE relname = 'jobs'"))[0]!;

test('embedded database: maintain() vacuums and analyzes the tables that are due, and only those', async () => {
  const db = await openDatabase({ dir: join(tempDir('custos-maint-'), 'db'), maintenanceIntervalMs: 2 ** 31 - 1 });
  try {
    await handle(db, 200);
    const before = await jobsStats(db);
    // Each job is updated twice (claimed, settled); page pruning reclaims a few of the dead rows, not most.
    assert.ok(before.dead > 50 + 0.2 * 200, `dead job rows past autovacuum's threshold (${before.dead})`);
    assert.deepEqual({ vacuumed: before.vacuumed, analyzed: before.analyzed }, { vacuumed: false, analyzed: false }, 'nothing vacuums the embedded database by itself');
    const done = await db.maintain();
    const jobs = done.find((d) => d.table === 'jobs');
    assert.ok(jobs, `jobs is due: ${JSON.stringify(done)}`);
    assert.deepEqual({ vacuum: jobs.vacuum, analyze: jobs.analyze }, { vacuum: true, analyze: true });
    assert.ok(done.some((d) => d.table === 'instances' && d.analyze), 'instances changed past the analyze threshold');
    const after = await jobsStats(db);
    assert.deepEqual(after, { dead: 0, vacuumed: true, analyzed: true });
    assert.deepEqual(await db.maintain(), [], 'nothing is due right after');
    // The functions still work on the vacuumed tables, with plans made again after the analyze.
    await handle(db, 8, 200);
  } finally {
    await db.close();
  }
});

test('embedded database: the check runs by itself while the gateway works', async () => {
  const db = await openDatabase({ dir: join(tempDir('custos-maint-'), 'db'), maintenanceIntervalMs: 200 });
  try {
    await handle(db, 100);
    // Within 20 s of a 200 ms check interval.
    await waitFor('jobs vacuumed and analyzed by the check', async () => {
      const stats = await jobsStats(db);
      return stats.vacuumed && stats.analyzed ? true : undefined;
    }, 20_000, 100);
  } finally {
    await db.close();
  }
});

test('embedded database: maintenance waits for a transaction in progress instead of running inside it', async () => {
  const db = await openDatabase({ dir: join(tempDir('custos-maint-'), 'db'), maintenanceIntervalMs: 200 });
  try {
    // A table due for a vacuum as soon as it has a dead row (thresholds of zero), and dead rows in it,
    // counted in the statistics just before the transaction begins.
    await db.query('ALTER TABLE events SET (autovacuum_vacuum_threshold = 0, autovacuum_vacuum_scale_factor = 0)');
    await db.query("INSERT INTO events (kind) VALUES ('job.requeued'), ('job.requeued')");
    await db.query('UPDATE events SET detail = detail');
    await db.query('SELECT pg_stat_force_next_flush()');
    // A VACUUM inside this transaction would fail and abort it: its later statements would fail too.
    const rows = await db.transaction(async (tx) => {
      await tx.query("INSERT INTO events (kind) VALUES ('job.requeued')");
      await new Promise((r) => setTimeout(r, 700)); // three checks fall due meanwhile
      return tx.query<{ n: number }>('SELECT count(*)::int AS n FROM events');
    });
    assert.equal(rows[0]!.n, 3);
    await waitFor('the check to run once the transaction was over', async () =>
      ((await db.query<{ v: boolean }>("SELECT last_vacuum IS NOT NULL AS v FROM pg_stat_user_tables WHERE relname = 'events'"))[0]!.v ? true : undefined), 10_000, 50);
  } finally {
    await db.close();
  }
});
