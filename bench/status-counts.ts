/**
 * What a status poll costs on a gateway that has handled a million instances: the counts /api/status
 * and /api/recipients report and the study lists of /api/studies and QIDO-RS (src/store/totals.ts:
 * totals kept by the work loop, indexes over what is in flight) against counting and grouping every
 * row (as before migration 4), and the recent deliveries /api/metrics reads. On PGlite, whose one connection every ingest waits for meanwhile, and on the
 * peer, a PostgreSQL server (Debian postgresql) on loopback, in the same run.
 * Writes its section of docs/benchmarks.md. Usage: node bench/status-counts.ts [instances]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Database, type Queryable, openDatabase } from '../src/store/database.ts';
import { MIGRATIONS } from '../src/store/migrations.ts';
import { deliveryLatency, instanceCount, jobCounts, listStudies } from '../src/store/totals.ts';
import { addSyntheticPatient, countInFull, ingestSynthetic, listStudiesInFull, logAndClaim, settleDone } from '../test/database-workload.ts';
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
  // The totals as migration 4 makes them from rows already held (its own statements).
  await db.query('TRUNCATE series_totals, job_totals');
  for (const sql of MIGRATIONS.find((m) => m.version === 4)!.sql.filter((q) => q.startsWith('INSERT INTO'))) await db.query(sql);
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

interface Row { name: string; fillS: number; totalsMs: number; fullMs: number; studiesMs: number; studiesBeforeMs: number; recipientMs: number; metricsMs: number; metricsBeforeMs: number; check: string }
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
      fullMs: await time(() => countInFull(db)),
      studiesMs: await time(() => listStudies(db, { order: 'recent', limit: 100, offset: 0 })),
      studiesBeforeMs: await time(() => listStudiesInFull(db, 'recent', { limit: 100 })),
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
jobs by state per recipient, \`/api/studies\` and QIDO-RS list studies a page at a time, and
\`/api/metrics\` gives the latency of the last 1,000 deliveries. The database holds
${N.toLocaleString('en')} delivered instances in ${(N / 500).toLocaleString('en')} studies (written in bulk), then a few hundred
through the gateway's own calls, vacuumed and analyzed. Median wall time of 7 reads.

| database | status counts now (ms) | counted in full, as before (ms) | a page of 100 studies now (ms) | grouped in full, as before (ms) | one recipient's jobs (ms) | last 1,000 deliveries now (ms) | without their index, as before (ms) | counts read |
|---|---|---|---|---|---|---|---|---|
${rows.map((r) => `| ${r.name} | ${r.totalsMs.toFixed(1)} | ${r.fullMs.toFixed(1)} | ${r.studiesMs.toFixed(1)} | ${r.studiesBeforeMs.toFixed(1)} | ${r.recipientMs.toFixed(1)} | ${r.metricsMs.toFixed(1)} | ${r.metricsBeforeMs.toFixed(1)} | ${r.check} |`).join('\n')}

Counting and grouping every instance and every job on each read grew with everything the gateway had
ever handled; on PGlite the one connection is held meanwhile, so each poll, and each page an admin
opened, stalled every ingest and the work loop for that long, in proportion to what it holds. The
counts and lists now come from totals the work loop keeps as it marks instances logged (per series)
and jobs delivered (per recipient) — migration 4, off the acknowledgement path: an ingest commit
touches no shared row, which on a PostgreSQL server would serialise concurrent ingests — and from
indexes over what is still in flight (instances not yet logged, jobs pending, running, held or dead);
\`/api/metrics\` reads the last deliveries through an index on their time instead of sorting all of
them. A page of studies now costs what the series number (here one per study), not their instances.
`;
writeSection('status-counts', md);
console.log(md);
