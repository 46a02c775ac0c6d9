/**
 * Transparency log: batched appends per second, and verification time per instance, with
 * `sha256sum` over the same files measured in the same run as the floor (reading + hashing).
 * Writes its section of docs/benchmarks.md. Usage: node bench/log-throughput.ts [N appends] [M files]
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rawPublicKey } from '../src/integrity/ed25519.ts';
import { formatSignerKey, formatVerifierKey, parseSignerKey, parseVerifierKey } from '../src/integrity/note.ts';
import { type IngestStatement, signStatement } from '../src/integrity/statement.ts';
import { verifyFile } from '../src/pipeline/integrity.ts';
import { localView } from '../src/pipeline/log-views.ts';
import { signFiles } from '../src/pipeline/sign-files.ts';
import { LogStore } from '../src/store/log-store.ts';
import { generateCT } from './generate-ct.ts';
import { machine, writeSection } from './report.ts';

const N = Number(process.argv[2] ?? 20000);
const M = Number(process.argv[3] ?? 200);
const work = mkdtempSync(join(tmpdir(), 'custos-logbench-'));
const signer = parseSignerKey(formatSignerKey('custos.bench/log', randomBytes(32)));
const verifier = parseVerifierKey(formatVerifierKey(signer.name, rawPublicKey(signer.key)));

// 1. Appends: statements signed and appended in batches of 256 (one fsync + checkpoint per batch).
const log = LogStore.open(join(work, 'log'), verifier, signer);
const content = { pixelRoot: 'a'.repeat(64), frames: ['a'.repeat(64)], pixelEncoding: 'decoded' as const, geometry: 'b'.repeat(64), header: 'c'.repeat(64) };
const t0 = performance.now();
for (let done = 0; done < N; done += 256) {
  const batch = Array.from({ length: Math.min(256, N - done) }, (_, i) => ({
    signed: signStatement({ type: 'custos/ingest/v1', instance: { sopClassUID: '1.2.840.10008.5.1.4.1.1.2', sopInstanceUID: `2.25.${done + i}`, studyInstanceUID: '2.25.1', seriesInstanceUID: '2.25.2' }, content, source: 'bench', time: new Date().toISOString(), signer: signer.name } satisfies IngestStatement, signer.key),
  }));
  log.appendBatch(batch);
}
const appendSeconds = (performance.now() - t0) / 1000;

// 1b. The gateway's appends: a few statements per step of its work loop, one checkpoint per 200 ms.
const small = LogStore.open(join(work, 'log-small'), verifier, signer);
const SMALL = 1000;
const smallBatches = Array.from({ length: SMALL }, (_, b) => Array.from({ length: 4 }, (_, i) => ({
  signed: signStatement({ type: 'custos/ingest/v1', instance: { sopClassUID: '1.2.840.10008.5.1.4.1.1.2', sopInstanceUID: `2.25.9${b * 4 + i}`, studyInstanceUID: '2.25.1', seriesInstanceUID: '2.25.2' }, content, source: 'bench', time: new Date().toISOString(), signer: signer.name } satisfies IngestStatement, signer.key),
})));
const ts = performance.now();
for (const batch of smallBatches) {
  small.appendBatch(batch, { checkpoint: 'soon' });
  await new Promise((r) => setImmediate(r)); // the event loop turns between steps, as in the gateway
}
small.publishPending();
const smallMs = (performance.now() - ts) / SMALL;
const t1 = performance.now();
LogStore.open(join(work, 'log'), verifier);
const reopenSeconds = (performance.now() - t1) / 1000;

// 2. Verification per instance on 512x512 CT slices, against sha256sum of the same files.
const corpus = join('bench', 'corpus', 'ct-500');
if (!existsSync(corpus) || readdirSync(corpus).length < 500) generateCT(500, corpus);
const files = readdirSync(corpus).sort().slice(0, M).map((f) => join(corpus, f));
const log2 = LogStore.open(join(work, 'log2'), verifier, signer);
await signFiles(files, log2, signer, 'bench');
const view = localView(log2, verifier);
const t2 = performance.now();
for (const f of files) {
  const v = await verifyFile(f, view);
  if (v.status !== 'authentic') throw new Error(`${f}: ${v.status}`);
}
const verifyMs = (performance.now() - t2) / files.length;
const t3 = performance.now();
execFileSync('sha256sum', files, { stdio: 'ignore' });
const shaMs = (performance.now() - t3) / files.length;
rmSync(work, { recursive: true, force: true });

const md = `## Transparency log

bench/log-throughput.ts — ${machine()}.

| measure | result |
|---|---|
| batched appends (sign statement + append, 256 per fsync'd batch and checkpoint) | ${(N / appendSeconds).toFixed(0)} entries/s (${N} entries in ${appendSeconds.toFixed(2)} s) |
| the gateway's appends (4 signed statements per batch, one fsync; a checkpoint within 200 ms) | ${smallMs.toFixed(2)} ms per batch (${SMALL} batches) |
| reopen and check a log of ${N} entries (root against signed checkpoint, every statement against its entry) | ${(reopenSeconds * 1000).toFixed(0)} ms |
| verify one 512×512×16-bit CT instance (read, decode, digests, inclusion proof) | ${verifyMs.toFixed(2)} ms |
| peer: \`sha256sum\` of the same file (read + hash floor) | ${shaMs.toFixed(2)} ms |

Verification costs about ${(verifyMs / shaMs).toFixed(1)}× a plain SHA-256 of the file: it hashes the pixels frame by
frame plus the header and geometry digests, and proves inclusion against the signed checkpoint.

An append fsyncs its statements only: entries are derived from them (each the commitment to its
line), written after them and fsynced before the next checkpoint, and opening the log writes again
what a crash left of them past the checkpoint. Measured on 2026-12-01 in three pairs of turns, 1,000
batches of 4: 0.51–0.58 ms per batch against 0.75–0.78 ms with an fsync of the entries per batch
too (CPU 0.38–0.41 against 0.45–0.46 ms).
`;
writeSection('log', md);
console.log(md);
