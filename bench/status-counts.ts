/**
 * What a status poll costs on a gateway that has handled a million instances: the counts /api/status
 * and /api/recipients report (src/store/totals.ts: totals kept by the work loop, indexes over what is
 * in flight) against counting every row (as before migration 4), and the recent deliveries
 * /api/metrics reads. On PGlite, whose one connection every ingest waits for meanwhile, and on the
 * peer, a PostgreSQL server (Debian postgresql) on loopback, in the same run.
 * Writes its section of docs/benchmarks.md. Usage: node bench/status-counts.ts [instances]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Database, type Queryable, openDatabase } from '../src/store/database.ts';
import { deliveryLatency, instanceCount, jobCounts } from '../src/store/totals.ts';
import { addSyntheticPatient, ingestSynthetic, logAndClaim, settleDone } from '../test/database-workload.ts';
import { startPostgres } from '../test/postgres.ts';
import { machine, writeSection } from './report.ts';

const N = Number(process.argv[2] ?? 1_000_000);
const CHUNK = 100_000;
const work = mkdtempSync(join(tmpdir(), 'custos-statusbench-'));

/**
 * A million delivered instances, written in bulk (one statement per 100,000: the per-instance calls
 * would take an hour), then a few hundred through the gateway's own calls so that the totals and
 * the queue are in the state the work loop leaves them; then VACUUM ANALYZE, as maintenance would.
 */
async function fill(db: Database): Promise<void> {
  await addSyntheticPatient(db);
  for (let from = 0; from < N; from += CHUNK) {
    const to = Math.min(N, from + CHUNK) - 1;
    await db.query(`INSERT INTO instances (sop_instance_uid, sop_class_uid, study_instance_uid, series_instance_uid, modality, transfer_syntax_uid, patient_ref, blob_key, bytes, sha256, source, log_index, received_at)
      SELECT '2.25.7' || g, '1.2.840.10008.5.1.4.1.1.2', '2.25.8' || (g / 500), '2.25.9' || (g / 500), 'CT', '1.2.840.10008.1.2.1', 'synthetic', 'instances/cd/' || g, 530000, md5(g::text) || md5(g::text), 'dimse', g,
        now() - interval '1 second' * (${N} - g) FROM generate_series(${from}, ${to}) g`);
    await db.query(`INSERT INTO jobs (instance_id, recipient, state, attempts, done_at)
      SELECT id, 'scp', 'done', 1, received_at + interval '80 milliseconds' FROM instances WHERE id > (SELECT coalesce(max(instance_id), 0) FROM jobs)`);
  }
  await db.query(`UPDATE instance_totals SET marked = (SELECT count(*) FROM instances WHERE log_index IS NOT NULL)`);
  await db.query(`INSERT INTO job_totals (recipient, done) SELECT recipient, count(*) FROM jobs WHERE state = 'done' GROUP BY recipient
    ON CONFLICT (recipient) DO UPDATE SET done = excluded.done`);
  const ids = await ingestSynthetic(db, 0, 400);
  for (let i = 0; i < 300; i += 4) await settleDone(db, await logAndClaim(db, ids.slice(i, i + 4), N + i));
  await db.query('VACUUM ANALYZE');
}

/** Median wall time of a read, over 7 (after one not counted). */
async function time(read: () => Promise<unknown>): Promise<number> {
  await read();
  const t: number[] = [];
  for (let i = 0; i < 7; i++) {
    const t0 = performance.now();
    await read();
    t.push(performance.now() - t0);
  }
  return t.sort((a, b) => a - b)[3]!;
}

const fullCount = async (db: Database): Promise<void> => {
  await db.query('SELECT count(*)::int AS n FROM instances');
  await db.query('SELECT state, count(*)::int AS n FROM jobs WHERE ($1::text IS NULL OR recipient = $1) GROUP BY state', [null]);
};
const recent = (db: Queryable) => deliveryLatency(db, 1000);

/** The same read as before migration 4: without the index on done_at (dropped inside a transaction rolled back after). */
async function recentWithoutIndex(db: Database): Promise<number> {
  const t: number[] = [];
  for (let i = 0; i < 8; i++) {
    await db.transaction(async (tx) => {
      await tx.query('DROP INDEX jobs_done_at');
      const t0 = performance.now();
      await recent(tx);
      if (i > 0) t.push(performance.now() - t0);
      throw new Error('rollback');
    }).catch((e: unknown) => { if ((e as Error).message !== 'rollback') throw e; });
  }
  return t.sort((a, b) => a - b)[3]!;
}

interface Row { name: string; fillS: number; totalsMs: number; fullMs: number; recipientMs: number; metricsMs: number; metricsBeforeMs: number; check: string }
async function measure(name: string, db: Database): Promise<Row> {
  try {
    const t0 = performance.now();
    await fill(db);
    const fillS = (performance.now() - t0) / 1000;
    const [instances, jobs] = [await instanceCount(db), await jobCounts(db)];
    const [full] = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM instances');
    if (instances !== full!.n) throw new Error(`${name}: the instance total (${instances}) differs from a full count (${full!.n})`);
    const row = {
      name, fillS,
      totalsMs: await time(async () => { await instanceCount(db); await jobCounts(db); }),
      fullMs: await time(() => fullCount(db)),
      recipientMs: await time(() => jobCounts(db, 'scp')),
      metricsMs: await time(() => recent(db)),
      metricsBeforeMs: await recentWithoutIndex(db),
      check: `${instances} instances, ${jobs.done} delivered, ${jobs.pending} pending`,
    };
    process.stderr.write(`${JSON.stringify(row)}\n`);
    return row;
  } finally {
    await db.close();
  }
}

const rows: Row[] = [await measure('embedded (PGlite) — Custos', await openDatabase({ dir: join(work, 'pglite'), maintenanceIntervalMs: 2 ** 31 - 1 }))];
const pg = await startPostgres(join(work, 'pg'));
try {
  rows.push(await measure('peer: PostgreSQL 15 server', await openDatabase({ dir: join(work, 'unused'), url: pg.url })));
} finally {
  pg.stop();
}
rmSync(work, { recursive: true, force: true });

const md = `## Status counts on a gateway that has handled ${N.toLocaleString('en')} instances

bench/status-counts.ts — ${machine()}.

A monitoring system polls \`/api/status\` (instances held, jobs by state); \`/api/recipients\` reports
jobs by state per recipient and \`/api/metrics\` the latency of the last 1,000 deliveries. The database
holds ${N.toLocaleString('en')} delivered instances (written in bulk), then a few hundred through the
gateway's own calls, vacuumed and analyzed. Median wall time of 7 reads.

| database | status counts now (ms) | status counted in full, as before (ms) | one recipient's jobs (ms) | last 1,000 deliveries now (ms) | the same, as before (ms) | counts read |
|---|---|---|---|---|---|---|
${rows.map((r) => `| ${r.name} | ${r.totalsMs.toFixed(1)} | ${r.fullMs.toFixed(1)} | ${r.recipientMs.toFixed(1)} | ${r.metricsMs.toFixed(1)} | ${r.metricsBeforeMs.toFixed(1)} | ${r.check} |`).join('\n')}

Counting every instance and every job on each poll grew with everything the gateway had ever handled;
on PGlite the one connection is held meanwhile, so each poll stalled every ingest and the work loop
for that long, in proportion to what it holds. The counts now come from totals the
work loop keeps as it marks instances logged and jobs delivered (migration 4; off the acknowledgement
path: an ingest commit touches no shared row, which on a PostgreSQL server would serialise concurrent
ingests), and from indexes over what is still in flight (instances not yet logged, jobs pending,
running, held or dead), and \`/api/metrics\` reads the last deliveries through an index on their time
instead of sorting all of them. Not changed: \`/api/studies\` groups every instance by study (about a
second at a million on PGlite); it is called by a person browsing, not polled.
`;
writeSection('status-counts', md);
console.log(md);
