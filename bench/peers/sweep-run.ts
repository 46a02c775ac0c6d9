/**
 * Sweep benchmark harness; runs inside a private network namespace (Orthanc listens on every
 * interface): bench/sweep-rate.ts starts it with `unshare -n`. The corpus is recorded in a log
 * (`custos sign`) and stored in Orthanc; then, in turn: the peer floors (QIDO-RS listing alone; a
 * WADO-RS fetch of every instance, bytes discarded) and Custos's sweeps (metadata only; full: every
 * instance fetched and checked against the log). Prints one JSON line of seconds and peak RSS.
 * Usage: node bench/peers/sweep-run.ts <work dir> <corpus dir>
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { DicomWebPacs } from '../../src/net/dicomweb-pacs.ts';
import { localView } from '../../src/pipeline/log-views.ts';
import { sweepArchive } from '../../src/pipeline/sweep.ts';
import { openLogForReading } from '../../src/store/open-log.ts';
import { startOrthanc, storescu, waitFor } from '../../test/peers.ts';

const [work, corpus] = process.argv.slice(2) as [string, string];
const files = readdirSync(corpus).sort().map((f) => join(corpus, f));
const dataDir = join(work, 'data');
const signed = spawnSync(process.execPath, ['bin/custos.js', 'sign', corpus, '--data-dir', dataDir], { encoding: 'utf8' });
if (signed.status !== 0) throw new Error(`custos sign failed: ${signed.stderr}`);
const orthanc = await startOrthanc(join(work, 'orthanc'));
try {
  const sent = await storescu(orthanc.dicomPort, orthanc.aeTitle, files);
  if (sent.status !== 0) throw new Error(`storescu failed: ${sent.output.slice(-2000)}`);
  await waitFor('Orthanc to hold the corpus', async () => ((await (await fetch(`${orthanc.http}/instances`)).json()) as string[]).length === files.length || undefined, 120_000);
  const base = `${orthanc.http}/dicom-web`;
  const time = async (f: () => Promise<unknown>): Promise<number> => { const t = performance.now(); await f(); return (performance.now() - t) / 1000; };
  const source = new DicomWebPacs({ url: base });
  const { log, verifier } = openLogForReading(dataDir);
  const view = localView(log, verifier);
  const listAll = async (): Promise<Array<{ st: string; se: string; sop: string }>> => {
    const out: Array<{ st: string; se: string; sop: string }> = [];
    for await (const st of source.studies({})) for await (const i of source.instances(st)) out.push({ st, se: i.seriesInstanceUID, sop: i.sopInstanceUID });
    return out;
  };
  const listed = await listAll(); // warm Orthanc's caches once
  const peerList = await time(listAll);
  const peerFetch = await time(async () => {
    for (const i of listed) {
      const res = await fetch(`${base}/studies/${i.st}/series/${i.se}/instances/${i.sop}`, { headers: { accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' } });
      await res.arrayBuffer();
    }
  });
  const counts: Record<string, Record<string, number>> = {};
  const sweep = (kind: 'metadata' | 'full') => time(async () => { counts[kind] = (await sweepArchive(source, log, view, { scope: {}, mode: { kind } }, () => undefined)).counts; });
  const metadata = await sweep('metadata');
  const full = await sweep('full');
  const rssMB = process.memoryUsage().rss / 1048576;
  process.stdout.write(JSON.stringify({ n: listed.length, peerList, peerFetch, metadata, full, counts, rssMB }) + '\n');
} finally {
  await orthanc.stop();
}
