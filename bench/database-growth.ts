/**
 * The gateway's database work as its tables grow: the ingest call per instance, and the work loop's
 * two calls per batch (log and claim, settle), timed over the last 1,000 instances before each size.
 * Three databases in the same run: the embedded one as Custos runs it (PGlite with its maintenance,
 * src/store/embedded-maintenance.ts), the same without maintenance (as before it), and the peer, a
 * PostgreSQL server (Debian postgresql, its autovacuum on, default settings) on loopback.
 * Writes its section of docs/benchmarks.md. Usage: node bench/database-growth.ts [largest size]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addSyntheticPatient, ingestSynthetic, logAndClaim, settleDone } from '../test/database-workload.ts';
import { startPostgres } from '../test/postgres.ts';
import { type Database, openDatabase } from '../src/store/database.ts';
import { machine, writeSection } from './report.ts';

const LARGEST = Number(process.argv[2] ?? 30000);
const SIZES = [1000, 10000, LARGEST].filter((n, i, a) => n <= LARGEST && a.indexOf(n) === i);
const WINDOW = 1000;
const BATCH = 4;
const work = mkdtempSync(join(tmpdir(), 'custos-dbbench-'));

interface Point { size: number; ingestMs: number; claimMs: number; settleMs: number; deadJobs: number; jobsMB: number }

/** Ingest, log and claim, settle — as the gateway does per instance and per batch — up to each size. */
async function run(db: Database): Promise<Point[]> {
  await addSyntheticPatient(db);
  let n = 0;
  const points: Point[] = [];
  let t = { ingest: 0, claim: 0, settle: 0, batches: 0 };
  for (const size of SIZES) {
    while (n < size) {
      if (size - n === WINDOW) t = { ingest: 0, claim: 0, settle: 0, batches: 0 };
      let t0 = performance.now();
      const ids = await ingestSynthetic(db, n, BATCH);
      t.ingest += performance.now() - t0;
      t0 = performance.now();
      const jobs = await logAndClaim(db, ids, n);
      t.claim += performance.now() - t0;
      t0 = performance.now();
      await settleDone(db, jobs);
      t.settle += performance.now() - t0;
      t.batches++;
      n += BATCH;
    }
    const [st] = await db.query<{ dead: number; bytes: number }>("SELECT n_dead_tup::float8 AS dead, pg_total_relation_size('jobs')::float8 AS bytes FROM pg_stat_user_tables WHERE relname = 'jobs'");
    points.push({ size, ingestMs: t.ingest / (t.batches * BATCH), claimMs: t.claim / t.batches, settleMs: t.settle / t.batches, deadJobs: Number(st!.dead), jobsMB: Number(st!.bytes) / 2 ** 20 });
    process.stderr.write(`${size}: ${JSON.stringify(points.at(-1))}\n`);
  }
  await db.close();
  return points;
}

const results: Array<{ name: string; points: Point[] }> = [];
results.push({ name: 'embedded (PGlite), with its maintenance — Custos', points: await run(await openDatabase({ dir: join(work, 'on') })) });
results.push({ name: 'embedded (PGlite), no maintenance (before)', points: await run(await openDatabase({ dir: join(work, 'off'), maintenanceIntervalMs: 2 ** 31 - 1 })) });
const pg = await startPostgres(join(work, 'pg'));
try {
  results.push({ name: 'peer: PostgreSQL 15 server, autovacuum', points: await run(await openDatabase({ dir: join(work, 'unused'), url: pg.url })) });
} finally {
  pg.stop();
}
rmSync(work, { recursive: true, force: true });

const rows = results.flatMap(({ name, points }) => points.map((p) => `| ${name} | ${p.size} | ${p.ingestMs.toFixed(2)} | ${p.claimMs.toFixed(2)} | ${p.settleMs.toFixed(2)} | ${p.deadJobs} | ${p.jobsMB.toFixed(1)} |`));
const md = `## The gateway's database as its tables grow

bench/database-growth.ts — ${machine()}.

The gateway's calls, one after the other from one client: per instance the ingest call (row, job and
audit event, committed durably), per batch of ${BATCH} the work loop's log-and-claim and settlement. Wall
time per call over the last ${WINDOW} instances before each size; dead rows and size of the jobs table
(with its indexes) at that size.

| database | instances | ingest (ms per instance) | log and claim (ms per batch) | settle (ms per batch) | dead job rows | jobs table (MB) |
|---|---|---|---|---|---|---|
${rows.join('\n')}

PGlite runs PostgreSQL in single-user mode, without autovacuum: nothing ever vacuumed or analyzed
its tables. Every update left its dead row (two per job), and the plans the work loop's PL/pgSQL
functions cache, made while the tables were nearly empty, were never replaced, so settling grew slower with every
instance the gateway had handled (claiming too, until migration 4 changed its log step; since, it
stays flat here without maintenance as well). The embedded database now checks
its statistics every 10 s and vacuums and analyzes the tables autovacuum would, by the same
thresholds (src/store/embedded-maintenance.ts); a request arriving meanwhile waits for it. The
server's autovacuum looks once a minute (autovacuum_naptime), so until its first pass its rows grow
the same way (see its dead job rows: whether it has run by a given size depends on how long the run
took to get there). Measured once further, with the same calls and maintenance, to 100,000 instances
(2026-12-01): claim 1.1–1.7 ms and settlement 0.9–1.5 ms per batch in every stretch of 10,000; the
cost of maintenance is the wait behind a VACUUM, up to 0.54 s for the one call that met it (a few
times in the run), which a gateway's senders see as one slower acknowledgement.
`;
writeSection('database-growth', md);
console.log(md);
