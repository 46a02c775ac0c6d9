/**
 * The embedded database maintains itself: PGlite runs PostgreSQL without autovacuum, so the gateway's
 * database thread vacuums and analyzes the tables autovacuum would (src/store/embedded-maintenance.ts).
 * Checked against PostgreSQL's own statistics views, on the gateway's tables and functions.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { type Database, openDatabase } from '../src/store/database.ts';
import { tempDir } from './helpers.ts';

/** What the gateway does to its tables for `n` instances: ingest, then log and claim, then settle, in batches of 4. */
async function handle(db: Database, n: number, from = 0): Promise<void> {
  await db.query("INSERT INTO patient_keys (patient_ref, wrapped_key) VALUES ('synthetic', '\\x00') ON CONFLICT DO NOTHING");
  const sha = 'cd'.repeat(32);
  for (let i = from; i < from + n; i += 4) {
    const ids: number[] = [];
    for (let k = i; k < i + 4; k++) {
      const [row] = await db.queryFirst<{ id: number }>('SELECT custos_ingest($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) AS id', [
        `2.25.${k}`, '1.2.840.10008.5.1.4.1.1.2', '2.25.1', '2.25.2', 'CT', null, '1.2.840.10008.1.2.1', 'synthetic', `instances/cd/${k}`, 1000, sha, 'dimse', 'TEST', ['scp'], '{}']);
      ids.push(Number(row!.id));
    }
    const jobs = await db.batch<{ id: number }>([{ sql: 'SELECT id FROM custos_log_and_claim($1::bigint[], $2::bigint[], $3)', params: [ids, ids.map((_, j) => i + j), 16] }]);
    assert.equal(jobs.length, 4);
    await db.batch([{ sql: 'SELECT custos_settle_done($1::bigint[], $2::text[], $3::bigint[])', params: [jobs.map((j) => j.id), jobs.map((j) => `2.25.9${j.id}`), jobs.map(() => 1000)] }]);
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
    const deadline = Date.now() + 20_000;
    let stats = await jobsStats(db);
    while (!(stats.vacuumed && stats.analyzed) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      stats = await jobsStats(db);
    }
    assert.deepEqual({ vacuumed: stats.vacuumed, analyzed: stats.analyzed }, { vacuumed: true, analyzed: true }, 'vacuumed and analyzed within 20 s of a 200 ms check interval');
  } finally {
    await db.close();
  }
});
