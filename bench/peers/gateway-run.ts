/**
 * Gateway benchmark harness; runs inside a private network namespace (storescp and Orthanc listen on
 * every interface): bench/gateway-throughput.ts starts it with `unshare -n`.
 * The same CT stream (storescu senders in parallel) goes to
 *   - Custos: ingest (encrypt, fsync, commit) → log → de-identify → forward to storescp;
 *   - Orthanc: ingest (store) only.
 * Each receives two streams in turn: the first after start (cold: V8 still compiling the hot code of
 * the gateway, Orthanc's caches empty) and a second one of other instances (steady state).
 * Prints one JSON line with, per stream, wall times, ingest→forward latency percentiles and CPU, and peak RSS.
 * Usage: node bench/peers/gateway-run.ts <work dir> <senders> <first corpus dir> <second corpus dir>
 * With CUSTOS_BENCH_PG=1 the gateway uses a PostgreSQL server (Debian postgresql, started here) instead of PGlite.
 */
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { BufferSource } from '../../src/dicom/byte-source.ts';
import { readDicom } from '../../src/dicom/read.ts';
import { Tags } from '../../src/dicom/tag.ts';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { startGatewayProcess, startOrthanc, startStorescp, storescu, tokenOf, waitFor } from '../../test/peers.ts';
import { allowReleases } from '../../test/policy-helpers.ts';

const [work, sendersArg, ...corpora] = process.argv.slice(2) as [string, string, ...string[]];
const senders = Number(sendersArg ?? 2);
const streams = corpora.map((dir) => readdirSync(dir).sort().map((f) => join(dir, f)));
const files = streams.flat();
/** A proc(5) stat file: the command name, and the numeric fields after it (index 11 is utime, field 14). */
const stat = (path: string): { name: string; f: number[] } => {
  const st = readFileSync(path, 'utf8');
  return { name: /\((.*)\)/.exec(st)![1]!, f: st.replace(/^.*\) /, '').split(' ').map(Number) };
};
/** CPU seconds (user + system) of a process, or with `children` of its waited-for children (fields 14-17). */
const cpu = (pid: number | 'self', children = false): number => {
  const { f } = stat(`/proc/${pid}/stat`);
  return (children ? f[13]! + f[14]! : f[11]! + f[12]!) / 100;
};
/** CPU seconds of each thread of a process, by thread id (for CUSTOS_BENCH_THREADS=1: where the gateway's time goes). */
const threadCpu = (pid: number): Map<string, { name: string; s: number }> => new Map(readdirSync(`/proc/${pid}/task`).map((t) => {
  const { name, f } = stat(`/proc/${pid}/task/${t}/stat`);
  return [t, { name, s: (f[11]! + f[12]!) / 100 }];
}));
/** CPU seconds of every PostgreSQL server process (CUSTOS_BENCH_PG: the database shares the machine). */
const postgresCpu = (): number => readdirSync('/proc').filter((d) => /^[0-9]+$/.test(d)).reduce((sum, d) => {
  try { const { name, f } = stat(`/proc/${d}/stat`); return name === 'postgres' ? sum + (f[11]! + f[12]!) / 100 : sum; } catch { return sum; }
}, 0);
const peakRss = (pid: number): number => Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
const rss = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);

/** SHA-256 of an instance's pixel data (its value bytes). */
const pixelDigest = (path: string): string => {
  const src = new BufferSource(readFileSync(path));
  const px = readDicom(src).dataset.elements.find((e) => e.tag === Tags.PixelData);
  if (!px) throw new Error(`${path}: no pixel data`);
  return createHash('sha256').update(px.value ?? src.read(px.range!.offset, px.range!.length)).digest('hex');
};

/**
 * Every instance storescp received parses, and its pixel data is byte for byte that of one of the
 * inputs (header-only de-identification): a check, under load, that no buffer was used again too early.
 */
function checkDelivered(dir: string): void {
  const inputs = new Map<string, number>();
  for (const f of files) { const d = pixelDigest(f); inputs.set(d, (inputs.get(d) ?? 0) + 1); }
  const received = readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
  if (received.length !== files.length) throw new Error(`storescp holds ${received.length} files, expected ${files.length}`);
  for (const r of received) {
    const d = pixelDigest(r);
    const left = inputs.get(d);
    if (!left) throw new Error(`a forwarded instance's pixel data matches no input (or more outputs than inputs): ${r}`);
    inputs.set(d, left - 1);
  }
}

/** One stream, split between the senders (storescu processes in parallel); returns its wall time in seconds. */
async function send(port: number, aet: string, stream: string[]): Promise<number> {
  const shards = Array.from({ length: senders }, (_, k) => stream.filter((_, i) => i % senders === k));
  const t = performance.now();
  const results = await Promise.all(shards.map((s) => storescu(port, aet, s)));
  const bad = results.find((r) => r.status !== 0);
  if (bad) throw new Error(`storescu failed: ${bad.output.slice(-500)}`);
  return (performance.now() - t) / 1000;
}

// Peers die with this script, even when it fails half-way (a gateway left running here once slowed
// every later measurement on the machine).
const started: ChildProcess[] = [];
process.once('exit', () => { for (const p of started) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL'); });

// Quiet: verbose, storescp prints a progress dot per PDU, read by this process (not part of what is measured).
const scp = await startStorescp(join(work, 'scp'), 'STORESCP', '+xa', false);
started.push(scp.proc);
const pg = process.env.CUSTOS_BENCH_PG ? await (await import('../../test/postgres.ts')).startPostgres(join(work, 'pg')) : undefined;
if (pg) process.once('exit', () => { try { pg.stop(); } catch { /* stopped already */ } });
const gw = await startGatewayProcess(join(work, 'custos'), {
  ...(pg ? { database: { url: pg.url } } : {}),
  policy: { purposes: { TREATDS: 'opt-out' } },
  recipients: [{ id: 'scp', purpose: 'TREATDS', deliver: { kind: 'dimse', host: '127.0.0.1', port: scp.port, aeTitle: 'STORESCP' } }],
  routes: [{ recipient: 'scp' }],
});
started.push(gw.proc);
await allowReleases(gw.http, tokenOf(join(work, 'custos')), ['scp'], ['TREATDS']);
const custos = [];
let done = 0;
for (const stream of streams) {
  const t0 = performance.now();
  const sendersBefore = cpu('self', true);
  const gatewayBefore = cpu(gw.proc.pid!);
  const scpBefore = cpu(scp.proc.pid!);
  const threadsBefore = threadCpu(gw.proc.pid!);
  const databaseBefore = pg ? postgresCpu() : 0;
  const ingest = await send(gw.dimsePort, 'CUSTOS', stream);
  done += stream.length;
  await waitFor('all forwarded', async () => {
    const s = (await (await gw.api(`${gw.http}/api/status`)).json()) as { jobs: { done: number; dead: number } };
    if (s.jobs.dead) throw new Error(`${s.jobs.dead} jobs dead`);
    return s.jobs.done === done ? true : undefined;
  }, 600_000, 20);
  const total = (performance.now() - t0) / 1000;
  const metrics = (await (await gw.api(`${gw.http}/api/metrics?window=${stream.length}`)).json()) as { latencyMs: { p50: number; p95: number; p99: number; max: number } };
  if (process.env.CUSTOS_BENCH_THREADS) {
    const rows = [...threadCpu(gw.proc.pid!)].map(([t, v]) => `${v.name}:${(v.s - (threadsBefore.get(t)?.s ?? 0)).toFixed(2)}`);
    process.stderr.write(`gateway threads during the stream (CPU s): ${rows.join(' ')}\n`);
  }
  custos.push({ n: stream.length, ingest, total, latencyMs: metrics.latencyMs, rssKB: rss(gw.proc.pid!), cpu: { gateway: cpu(gw.proc.pid!) - gatewayBefore, storescp: cpu(scp.proc.pid!) - scpBefore, senders: cpu('self', true) - sendersBefore, ...(pg ? { database: postgresCpu() - databaseBefore } : {}) } });
}
const custosRss = peakRss(gw.proc.pid!);
await gw.stop();
await scp.stop();
pg?.stop();
checkDelivered(join(work, 'scp'));

const orthanc = await startOrthanc(join(work, 'orthanc'));
started.push(orthanc.proc);
const orthancRuns = [];
for (const stream of streams) {
  const sendersBefore = cpu('self', true);
  const before = cpu(orthanc.proc.pid!);
  const ingest = await send(orthanc.dicomPort, orthanc.aeTitle, stream);
  orthancRuns.push({ n: stream.length, ingest, cpu: { orthanc: cpu(orthanc.proc.pid!) - before, senders: cpu('self', true) - sendersBefore } });
}
const orthancRss = peakRss(orthanc.proc.pid!);
const stored = ((await (await fetch(`${orthanc.http}/statistics`)).json()) as { CountInstances: number }).CountInstances;
await orthanc.stop();
if (stored !== files.length) throw new Error(`Orthanc stored ${stored} of ${files.length}`);

console.log(JSON.stringify({ senders, custos, orthanc: orthancRuns, custosRssKB: custosRss, orthancRssKB: orthancRss }));
