/**
 * The status counts and study lists (src/store/totals.ts) are read from totals the work loop keeps
 * (migration 4) and from indexes over what is in flight: checked against counting and grouping every
 * row, through each step of the gateway's database calls, on PGlite and on a PostgreSQL server, and on
 * a database upgraded with rows already in it.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { discardStatements } from '../src/pipeline/ingest.ts';
import { type Database, openDatabase } from '../src/store/database.ts';
import { deliveryLatency, instanceCount, jobCounts, listStudies } from '../src/store/totals.ts';
import { type SyntheticShape, addSyntheticPatient, countInFull, ingestSynthetic, listStudiesInFull, logAndClaim, settleDone } from './database-workload.ts';
import { tempDir } from './helpers.ts';
import { type PgCluster, startPostgres } from './postgres.ts';

async function assertTotals(db: Database, step: string): Promise<void> {
  const full = await countInFull(db);
  assert.deepEqual({ instances: await instanceCount(db), jobs: await jobCounts(db) }, full, `${step}: all recipients`);
  for (const order of ['recent', 'arrival'] as const) {
    assert.deepEqual(await listStudies(db, { order, limit: 1000, offset: 0 }), await listStudiesInFull(db, order), `${step}: studies, ${order} first`);
  }
  assert.deepEqual(await listStudies(db, { order: 'arrival', limit: 2, offset: 1 }), (await listStudiesInFull(db, 'arrival')).slice(1, 3), `${step}: a page of studies`);
  assert.deepEqual(await listStudies(db, { order: 'arrival', limit: 10, offset: 0, study: STUDY_B }), await listStudiesInFull(db, 'arrival', { study: STUDY_B }), `${step}: one study`);
  assert.deepEqual(await jobCounts(db, 'scp'), (await countInFull(db, 'scp')).jobs, `${step}: one recipient`);
  assert.deepEqual(await jobCounts(db, 'nobody'), (await countInFull(db, 'nobody')).jobs, `${step}: a recipient without jobs`);
}

/** Three studies: A with a CT and an MR series, B with one CT series and instances without a modality, C with one. */
const STUDY_B = '2.25.20';
const shape: SyntheticShape = (n) => [
  { study: '2.25.10', series: '2.25.11', modality: 'CT' },
  { study: '2.25.10', series: '2.25.12', modality: 'MR' },
  { study: STUDY_B, series: '2.25.21', modality: n % 2 ? 'CT' : null },
  { study: '2.25.30', series: '2.25.31', modality: 'CT' },
][n % 4 === 3 && n > 8 ? 3 : n % 3]!;

async function workThrough(db: Database): Promise<void> {
  await addSyntheticPatient(db);
  await assertTotals(db, 'empty');
  const ids = await ingestSynthetic(db, 0, 12, shape);
  await assertTotals(db, 'ingested, none logged');
  const jobs = await logAndClaim(db, ids.slice(0, 8), 0);
  assert.equal(jobs.length, 8);
  await assertTotals(db, '8 logged and claimed');
  // Recorded again (a retried turn): nothing counted twice, no second instance.logged event, first index kept.
  await logAndClaim(db, ids.slice(0, 2), 100);
  await assertTotals(db, 'logged again');
  const [again] = await db.query<{ n: number; idx: number }>('SELECT count(*)::int AS n, max(i.log_index)::int AS idx FROM events e JOIN instances i ON i.id = e.instance_id WHERE e.kind = $1 AND e.instance_id = $2', ['instance.logged', ids[0]]);
  assert.deepEqual(again, { n: 1, idx: 0 });
  await settleDone(db, jobs.slice(0, 5));
  await assertTotals(db, '5 delivered');
  // Settled again: still 5 done, one job.forwarded event each.
  await settleDone(db, jobs.slice(0, 1));
  await assertTotals(db, 'settled again');
  const [forwarded] = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM events WHERE kind = 'job.forwarded'");
  assert.equal(forwarded!.n, 5);
  // A job held and one dead (the work loop's other outcomes), and an instance marked -1 (not logged: counted as held all the same).
  await db.query("UPDATE jobs SET state = 'held' WHERE id = $1", [jobs[5]!.id]);
  await db.query("UPDATE jobs SET state = 'dead' WHERE id = $1", [jobs[6]!.id]);
  await logAndClaim(db, [ids[8]!], -1);
  await assertTotals(db, 'held, dead');
  // Discarded (torn blob, never logged): gone from the count; a logged instance is never discarded.
  await db.batch(discardStatements([ids[11]!, ids[0]!], 'STORE_CORRUPT'));
  await assertTotals(db, 'discarded');
  const [kept] = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM instances WHERE id = ANY($1::bigint[])', [[ids[11], ids[0]]]);
  assert.equal(kept!.n, 1, 'the logged instance stays');
  const discarded = await db.query<{ instance_id: number }>("SELECT instance_id FROM events WHERE kind = 'instance.discarded'");
  assert.deepEqual(discarded.map((e) => Number(e.instance_id)), [ids[11]], 'an event for the instance removed only');
  // /api/metrics's read: the latest deliveries, through their index.
  const all = await deliveryLatency(db, 1000);
  assert.equal(all?.n, 5);
  assert.ok(all.p50 !== null && Number(all.p50) >= 0 && Number(all.max) >= Number(all.p50), JSON.stringify(all));
  assert.equal((await deliveryLatency(db, 2))?.n, 2);
}

test('status totals equal a full count through ingest, logging, delivery, retries and discards (PGlite)', async () => {
  const db = await openDatabase({ dir: join(tempDir('custos-totals-'), 'db'), maintenanceIntervalMs: 2 ** 31 - 1 });
  try {
    await workThrough(db);
  } finally {
    await db.close();
  }
});

test('an upgraded database starts its totals from the rows it holds (migration 4 over existing data)', async () => {
  const dir = join(tempDir('custos-totals-'), 'db');
  let db = await openDatabase({ dir, maintenanceIntervalMs: 2 ** 31 - 1 });
  try {
    await addSyntheticPatient(db);
    const ids = await ingestSynthetic(db, 0, 10, shape);
    await settleDone(db, (await logAndClaim(db, ids.slice(0, 6), 0)).slice(0, 4));
    // Back to the schema before migration 4 (its totals and index gone), with the rows kept.
    await db.query('DROP TABLE series_totals, job_totals');
    await db.query('DROP INDEX jobs_done_at');
    await db.query('DELETE FROM schema_migrations WHERE version = 4');
    await db.close();
    db = await openDatabase({ dir, maintenanceIntervalMs: 2 ** 31 - 1 });
    assert.deepEqual({ instances: await instanceCount(db), jobs: await jobCounts(db) }, { instances: 10, jobs: { pending: 4, running: 2, done: 4, held: 0, dead: 0, withheld: 0 } });
    await settleDone(db, (await logAndClaim(db, ids.slice(6), 6)).slice(0, 3));
    await assertTotals(db, 'after the upgrade');
  } finally {
    await db.close();
  }
});

let pg: PgCluster | undefined;
before(async () => { pg = await startPostgres(join(tempDir('custos-totals-pg-'), 'pg')); });
after(() => pg?.stop());

test('status totals equal a full count on a PostgreSQL server too', async () => {
  const db = await openDatabase({ url: pg!.url, dir: tempDir('custos-totals-') });
  try {
    await workThrough(db);
  } finally {
    await db.close();
  }
});
