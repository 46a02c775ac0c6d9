import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { basename, dirname, join, resolve, relative, sep } from 'node:path';
import { mkdirSync, readFileSync, realpathSync, statSync, writeFileSync, renameSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { CustosError } from '../errors.ts';
import { CUSTOS_VERSION } from '../version.ts';
import { collectInputs } from './walk.ts';
import { Progress } from './progress.ts';
import { dataDirOf, parseCommand } from './args.ts';
import { type ReceiptRisk, applyMaxRisk } from './deid-risk.ts';

const REIDENTIFICATION_NOTE = 'REIDENTIFICATION_RISK: no generalization meets the threshold (docs/risk.md)';
import { DEID_HELP } from './help.ts';
import type { Profile } from '../deid/profile.ts';
import type { InstanceOutcome } from '../pipeline/deid-file.ts';
import type { PixelRule } from '../deid/pixel-rules.ts';
import type { PixelCleaningSettings } from '../pipeline/clean-pixels.ts';
import type { WorkerInit } from './deid-worker.ts';
import type { ReceiptDefacing } from './deid-deface.ts';
import { siblingModule } from '../module-url.ts';

/**
 * The de-identification modules, loaded after the worker threads are started so that they load
 * their copies at the same time (this thread's share: about 50 ms of a 2,000-file run's start).
 */
async function deidModules() {
  const [profile, codes, pseudonyms, deidFile, fileIo, keyFile] = await Promise.all([
    import('../deid/profile.ts'), import('../deid/method-codes.ts'), import('../deid/pseudonyms.ts'),
    import('../pipeline/deid-file.ts'), import('../dicom/file-io.ts'), import('../store/key-file.ts'),
  ]);
  return { ...profile, ...codes, ...pseudonyms, ...deidFile, ...fileIo, ...keyFile };
}

/** `custos deid`: parse arguments (usage errors throw USAGE) and run. */
export async function deidMain(argv: string[]): Promise<number> {
  const { values: v, positionals } = parseCommand(argv, {
    out: { type: 'string' },
    profile: { type: 'string', default: 'basic' },
    option: { type: 'string', multiple: true, default: [] },
    'key-file': { type: 'string' },
    recipient: { type: 'string' },
    receipt: { type: 'string' },
    jobs: { type: 'string' },
    record: { type: 'boolean', default: false },
    'pixel-text': { type: 'string', default: 'phi' },
    'pixel-rules': { type: 'string' },
    'pixel-allow': { type: 'string', multiple: true, default: [] },
    quiet: { type: 'boolean', short: 'q', default: false },
    'hide-paths': { type: 'boolean', default: false },
    purpose: { type: 'string' },
    'site-policy': { type: 'string' },
    consents: { type: 'string' },
    agreement: { type: 'string' },
    config: { type: 'string' },
    'max-risk': { type: 'string' },
    'deface-ears': { type: 'boolean', default: false },
    review: { type: 'string' },
  });
  if (v.help) { process.stdout.write(DEID_HELP); return 0; }
  const maxRisk = v['max-risk'] === undefined ? undefined : Number(v['max-risk']);
  if (maxRisk !== undefined && !(maxRisk > 0 && maxRisk <= 1)) throw new CustosError('USAGE', `--max-risk must be in (0, 1], got ${JSON.stringify(v['max-risk'])}`);
  if (positionals.length === 0) throw new CustosError('USAGE', 'no input given');
  if (!v.out) throw new CustosError('USAGE', '--out <dir> is required');
  const jobsExplicit = v.jobs !== undefined;
  const jobs = v.jobs === undefined ? defaultJobs() : Number(v.jobs);
  if (!Number.isInteger(jobs) || jobs < 1) throw new CustosError('USAGE', `--jobs must be a whole number >= 1, got ${JSON.stringify(v.jobs)}`);
  const dataDir = dataDirOf(v['data-dir']);
  if (v['pixel-text'] !== 'phi' && v['pixel-text'] !== 'all') throw new CustosError('USAGE', `--pixel-text must be "phi" or "all", got ${JSON.stringify(v['pixel-text'])}`);
  let rules: PixelRule[] = [];
  if (v['pixel-rules']) {
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(v['pixel-rules'], 'utf8'));
    } catch (e) {
      throw new CustosError('USAGE', `cannot read pixel rules ${v['pixel-rules']}: ${(e as Error).message}`);
    }
    const { parsePixelRules } = await import('../deid/pixel-rules.ts'); // zod, only when rules are given
    rules = parsePixelRules(json, v['pixel-rules']);
  }
  return runDeid({
    pixels: { mode: v['pixel-text'], rules, allow: v['pixel-allow']!.flatMap((w) => w.split(',')).map((w) => w.trim()).filter(Boolean) },
    inputs: positionals,
    out: v.out,
    profile: v.profile!,
    options: v.option!.flatMap((o) => o.split(',')).map((o) => o.trim()).filter(Boolean),
    keyFile: v['key-file'] ?? join(dataDir, 'keys', 'deid.key'),
    ...(v.recipient ? { recipient: v.recipient } : {}),
    ...(v.receipt ? { receipt: v.receipt } : {}),
    jobs,
    jobsExplicit,
    quiet: v.quiet!,
    hidePaths: v['hide-paths']!,
    ...(v.record ? { recordInLog: dataDir } : {}),
    dataDir,
    ...(maxRisk !== undefined ? { maxRisk } : {}),
    defaceEars: v['deface-ears']!,
    ...(v.review !== undefined ? { review: v.review } : {}),
    ...(v.purpose !== undefined ? { release: { purpose: v.purpose, site: v['site-policy'], consents: v.consents, agreement: v.agreement, recipient: v.recipient, config: v.config, dataDir: v['data-dir'] } } : {}),
  });
}

export interface DeidArgs {
  inputs: string[];
  out: string;
  profile: string;
  options: string[];
  keyFile: string;
  recipient?: string;
  receipt?: string;
  jobs: number;
  /** --jobs was given: use that many threads whatever the number of files. */
  jobsExplicit?: boolean;
  quiet: boolean;
  /** Name inputs by number and digest instead of their path (paths in archives often hold names). */
  hidePaths?: boolean;
  /** Record derivation statements in the log of this data directory. */
  recordInLog?: string;
  /** The data directory whose log key signs the receipt. */
  dataDir?: string;
  /** Clean Pixel Data settings. */
  pixels?: PixelCleaningSettings;
  /** Measure the release's re-identification risk; generalize or withhold until it is at most this (docs/risk.md). */
  maxRisk?: number;
  /** With clean-recognizable-visual-features: remove the ears too. */
  defaceEars?: boolean;
  /** Where defacing review renderings go (default: custos-review beside the receipt, outside the output). */
  review?: string;
  /** Decide each release first (docs/policy.md): the purpose, the site's policy, consent and agreement files. */
  release?: { purpose: string; site: string | undefined; consents: string | undefined; agreement: string | undefined; recipient?: string | undefined; config?: string | undefined; dataDir?: string | undefined };
}

/** An input the egress decision withheld: not de-identified, not written; its reasons (codes only). */
export interface WithheldOutcome { status: 'withheld'; input: { sha256: string; bytes: number }; reasons: string[] }

function countReasons(withheld: readonly WithheldOutcome[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const w of withheld) for (const r of w.reasons) out[r] = (out[r] ?? 0) + 1;
  return out;
}

/** The receipt of a run (JSON, no PHI): what was applied, with which key id, and what happened to each input. */
export interface Receipt {
  kind: 'custos.deid.receipt/v1';
  custosVersion: string;
  profile: { standard: 'DICOM PS3.15 Annex E'; edition: string; name: 'basic'; options: string[]; methodCodes: string[] };
  keyId: string;
  recipient?: string;
  summary: { inputs: number; released: number; heldBack: number; skipped: number; failed: number; inputBytes: number; outputBytes: number; withheld?: number; withheldByReason?: Record<string, number>; residualPhi?: { textValuesChecked: number; instancesWithFindings: number } };
  /** With --purpose: the purpose and the agreement the releases were decided under. */
  release?: { purpose: string; agreement?: { id: string; version: number }; recipient?: string; recipientVersion?: number | undefined };
  instances: Array<InstanceOutcome | WithheldOutcome>;
  /** With --max-risk: the risk measured, the generalization applied, or the release withheld. */
  risk?: ReceiptRisk;
  /** With clean-recognizable-visual-features: each CT and MR series defaced, found faceless, or held back. */
  defacing?: ReceiptDefacing[];
  /** Ed25519 over the rest, with the deployment's log key (custos verify-receipt checks it). */
  signature?: { algorithm: 'Ed25519'; verifierKey: string; value: string };
}

/**
 * A worker thread starts in about 0.15 s alone and 0.25-0.3 s beside a busy main thread (Node's
 * start-up and this package's modules, compile cache warm), so it pays off only for runs longer than
 * that. Header-only work on one thread costs about 0.6 ms per file and 1 ms per MB (measured on 2
 * cores, 500-2,000 files: CT, MR, JPEG-LS, JPEG 2000); below IN_PROCESS_SECONDS of it the run stays
 * on the main thread (measured, one thread against two: 500 MR slices of 130 KB 0.63 s against
 * 0.72 s, 500 JPEG-LS CT slices of 220 KB 0.73 s against 0.85 s, 600 CT slices of 530 KB 1.05 s
 * against 1.13 s; those 500 MR and 500 CT slices together 1.22 s against 1.21 s; 2,000 CT slices
 * 2.47 s against 1.87 s).
 */
const IN_PROCESS_SECONDS = 0.8;
/** With Clean Pixel Data a file can take 0.3 s of OCR: workers pay off above this many files. */
const IN_PROCESS_FILES_OCR = 300;

/** Whether a header-only run of `files` files of `meanBytes` on average is done sooner on the main thread alone. */
export function staysOnMainThread(files: number, meanBytes: number): boolean {
  const seconds = files * (0.6e-3 + meanBytes * 1e-9); // estimated work on one thread
  return seconds <= IN_PROCESS_SECONDS;
}

/** Mean size of the inputs, from up to 32 of them spread over the list (a stat each; unreadable ones are left out). */
function meanSize(files: readonly string[]): number {
  const step = Math.max(1, Math.floor(files.length / 32));
  let total = 0;
  let n = 0;
  for (let i = 0; i < files.length; i += step) {
    try { total += statSync(files[i]!).size; n++; } catch { /* reported when it is read */ }
  }
  return n ? total / n : 0;
}

export async function runDeid(args: DeidArgs): Promise<number> {
  if (args.profile !== 'basic') throw new CustosError('USAGE', `unknown profile ${JSON.stringify(args.profile)}: the only profile is "basic" (PS3.15 E.1), refined with --option`);
  const outDir = resolve(args.out);
  for (const input of args.inputs) {
    const abs = resolve(input);
    if (abs === outDir || abs.startsWith(outDir + sep)) {
      throw new CustosError('USAGE', `--out ${args.out} must not be an input nor contain one (${input}): outputs never mix with or replace inputs`);
    }
  }
  let files = collectInputs(args.inputs, outDir);
  // The egress decision, before any work: a withheld input is not de-identified.
  const withheld: Array<{ index: number; outcome: WithheldOutcome }> = [];
  let releaseBasis: Receipt['release'];
  if (args.release) {
    const { loadReleasePolicy, loadGatewayReleasePolicy, decideFiles } = await import('./release-check.ts');
    const r = args.release;
    // With an agreement file: offline. Without one: the gateway's database, for --recipient.
    const policy = r.agreement !== undefined || r.recipient === undefined
      ? loadReleasePolicy(r)
      : await loadGatewayReleasePolicy({ purpose: r.purpose, recipient: r.recipient, config: r.config, dataDir: r.dataDir });
    const deid = { profile: 'basic' as const, options: args.options, key: args.recipient ? 'recipient' as const : 'deployment' as const };
    let decisions: Awaited<ReturnType<typeof decideFiles>>;
    try {
      decisions = await decideFiles(files, policy, deid, new Date());
    } finally {
      await policy.close();
    }
    releaseBasis = { purpose: policy.purpose, ...(policy.source.kind === 'files' ? { agreement: policy.source.agreement } : { recipient: policy.source.recipient, recipientVersion: policy.source.recipientVersion }) };
    const shown = inputNamer(args.inputs);
    const kept: string[] = [];
    files.forEach((file, index) => {
      const d = decisions[index];
      if (d?.outcome !== 'deny') { kept.push(file); return; }
      const bytes = readFileSync(file);
      const outcome: WithheldOutcome = { status: 'withheld', input: { sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.length }, reasons: [...new Set(d.reasons.map((x) => x.code))] };
      withheld.push({ index, outcome });
      if (!args.quiet) process.stderr.write(`withheld: ${args.hidePaths ? `input #${index + 1} (sha256 ${outcome.input.sha256.slice(0, 16)})` : shown(file)}: ${outcome.reasons.join(', ')}\n`);
    });
    files = kept;
  }
  const cleaning = args.options.includes('clean-pixel-data');
  const jobs = Math.max(1, Math.min(args.jobs, files.length));
  const small = cleaning ? files.length <= IN_PROCESS_FILES_OCR : staysOnMainThread(files.length, meanSize(files));
  // Started first: a worker needs 0.15-0.3 s before its first file, and loads its modules while
  // this thread loads its own and reads the key.
  const pool = jobs > 1 && (args.jobsExplicit || !small) ? new WorkerPool(jobs - 1) : undefined;
  try {
    return await deidentifyAll(args, files, outDir, jobs, pool, withheld.map((w) => w.outcome), releaseBasis);
  } finally {
    pool?.close();
  }
}

async function deidentifyAll(args: DeidArgs, files: string[], outDir: string, jobs: number, pool: WorkerPool | undefined, withheld: WithheldOutcome[] = [], releaseBasis?: Receipt['release']): Promise<number> {
  const { makeProfile, TABLE_EDITION, OPTION_CODES, keyIdOf, recipientKey, deidentifyFile, removeStaleTemporaries, removeTempDirs, loadOrCreateKey } = await deidModules();
  let profile: Profile;
  try {
    profile = makeProfile(args.options);
  } catch (e) {
    throw new CustosError('USAGE', (e as Error).message);
  }
  mkdirSync(outDir, { recursive: true });
  const stale = removeStaleTemporaries(outDir);
  if (stale && !args.quiet) process.stderr.write(`custos: removed ${stale} partial file(s) left by an interrupted run\n`);
  const { key: deploymentKey, created } = loadOrCreateKey(args.keyFile);
  if (created && !args.quiet) process.stderr.write(`custos: created a new pseudonymisation key at ${args.keyFile} (keep it safe and backed up)\n`);
  const key = args.recipient ? recipientKey(deploymentKey, args.recipient) : deploymentKey;
  const keyId = keyIdOf(key);

  const started = performance.now();
  const shown = inputNamer(args.inputs);
  const outcomes: InstanceOutcome[] = new Array(files.length);
  const counts = { released: 0, held: 0, skipped: 0, failed: 0 };
  const progress = new Progress(files.length, !args.quiet && process.stderr.isTTY === true);
  let done = 0;
  const record = (index: number, outcome: InstanceOutcome): void => {
    outcomes[index] = outcome;
    counts[outcome.status]++;
    done++;
    if (outcome.status !== 'released') {
      const why = outcome.status === 'failed' ? outcome.error : outcome.reason;
      const label = outcome.status === 'held' ? 'held back' : outcome.status;
      if (!args.quiet || outcome.status === 'failed') {
        const name = args.hidePaths ? `input #${index + 1}${outcome.input ? ` (sha256 ${outcome.input.sha256.slice(0, 16)})` : ''}` : shown(files[index]!);
        process.stderr.write(`${progress.clearLine()}${label}: ${name}: ${why.code}: ${why.message}\n`);
      }
    }
    progress.update(done, counts);
  };

  const settings = { profile, key, ...(args.pixels ? { pixels: args.pixels } : {}) };
  const receiptPath = resolve(args.receipt ?? join(outDir, 'custos-receipt.json'));
  // PS3.15 E.3.3: CT and MR series first, a series at a time (defaced or found faceless); the rest per file.
  let rest = files.map((_, i) => i);
  let defacing: ReceiptDefacing[] | undefined;
  if (profile.options.has('clean-recognizable-visual-features')) {
    const { defaceSeriesInputs, reviewDirFor } = await import('./deid-deface.ts');
    const reviewDir = resolve(reviewDirFor(receiptPath, outDir, args.review));
    if (reviewDir === outDir || reviewDir.startsWith(outDir + sep)) throw new CustosError('USAGE', `--review ${args.review} must not be inside --out: the renderings show the original faces`);
    ({ rest, defacing } = await defaceSeriesInputs(files, outDir, settings, { ears: args.defaceEars === true, reviewDir, receiptDir: dirname(receiptPath) }, record));
    if (!args.quiet && defacing.some((d) => 'renders' in d && d.renders)) process.stderr.write(`${progress.clearLine()}custos: defacing review renderings in ${reviewDir} (they show the original faces: keep them in-house)\n`);
  }
  const restFiles = rest.map((i) => files[i]!);
  const recordRest = (j: number, o: InstanceOutcome): void => record(rest[j]!, o);
  const queue = new FileQueue(restFiles.length, jobs, profile.options.has('clean-pixel-data') ? 1 : WORKER_BATCH);
  const inProcess = async (): Promise<void> => {
    for (let batch = queue.take(1); batch.length; batch = queue.take(1)) {
      recordRest(batch[0]!, await deidentifyFile(restFiles[batch[0]!]!, outDir, settings));
      // Let the workers' results (and their next batches) through between files.
      if (pool) await new Promise<void>((r) => setImmediate(r));
    }
  };
  if (!pool) {
    await inProcess();
  } else {
    // The main thread is one of the `jobs` threads: it works while the workers start and takes
    // single files, so it also evens out the end of the run.
    const init = { outDir, options: [...profile.options], keyHex: key.toString('hex'), ...(args.pixels ? { pixels: args.pixels } : {}) };
    const workers = pool.run(restFiles, queue, init, recordRest);
    workers.catch(() => undefined); // a worker's failure is thrown below, once this thread is done
    await inProcess();
    await workers;
  }
  if (profile.options.has('clean-pixel-data')) await (await import('../pipeline/ocr.ts')).closeOcr();
  removeTempDirs(outDir);
  progress.done();
  const seconds = (performance.now() - started) / 1000;

  // Re-identification risk of the release as written: generalized in place or withheld (docs/risk.md).
  let risk: ReceiptRisk | undefined;
  let gone = new Set<number>(); // released, then withheld for risk: their outputs are deleted
  if (args.maxRisk !== undefined && counts.released > 0) {
    const r = applyMaxRisk(outDir, outcomes, args.maxRisk);
    risk = r.risk;
    for (const w of r.withheld) withheld.push(w.outcome);
    gone = new Set(r.withheld.map((w) => w.index));
    counts.released -= gone.size;
    if (!args.quiet) {
      const m = risk.measured;
      process.stderr.write(`risk: k ${m.k}, maximum ${m.maxProsecutorRisk.toFixed(3)} (threshold ${args.maxRisk})${risk.generalization ? `; generalized (${Object.entries(risk.generalization.levels).map(([q, l]) => `${q} ${l}`).join(', ')}): k ${risk.generalization.after.k}, maximum ${risk.generalization.after.maxProsecutorRisk.toFixed(3)}` : ''}${risk.withheld ? `; withheld: ${REIDENTIFICATION_NOTE}` : ''}\n`);
    }
  }
  const released = outcomes.filter((o, i): o is Extract<InstanceOutcome, { status: 'released' }> => o.status === 'released' && !gone.has(i));
  const inputBytes = outcomes.reduce((n, o) => n + (o.input?.bytes ?? 0), 0);
  const outputBytes = released.reduce((n, o) => n + o.output.bytes, 0);
  const options = [...profile.options].sort();
  const receipt: Receipt = {
    kind: 'custos.deid.receipt/v1',
    custosVersion: CUSTOS_VERSION,
    profile: {
      standard: 'DICOM PS3.15 Annex E',
      edition: TABLE_EDITION,
      name: 'basic',
      options,
      // 113101 only when some instance's pixels went through cleaning (each instance's own code sequence says which).
      methodCodes: [
        '113100',
        ...(released.some((o) => o.pixels) ? ['113101'] : []),
        ...(released.some((o) => o.visualFeatures) ? ['113102'] : []),
        ...options.filter((o) => o !== 'clean-pixel-data' && o !== 'clean-recognizable-visual-features').map((o) => OPTION_CODES[o].CodeValue),
      ],
    },
    keyId,
    ...(args.recipient ? { recipient: args.recipient } : {}),
    summary: {
      inputs: files.length + withheld.length - gone.size, released: counts.released, heldBack: counts.held, skipped: counts.skipped, failed: counts.failed, inputBytes, outputBytes,
      ...(releaseBasis || withheld.length ? { withheld: withheld.length, withheldByReason: countReasons(withheld) } : {}),
      residualPhi: { textValuesChecked: released.reduce((n, o) => n + (o.residualPhi?.checked ?? 0), 0), instancesWithFindings: released.filter((o) => o.residualPhi?.found.length).length },
    },
    ...(releaseBasis ? { release: releaseBasis } : {}),
    instances: [...outcomes.filter((_, i) => !gone.has(i)), ...withheld],
    ...(risk ? { risk } : {}),
    ...(defacing ? { defacing } : {}),
  };
  // Signed with the deployment's log key; with --record, derivations and the receipt's digest go into the log.
  const { signReceipt, receiptDigest } = await import('../integrity/receipt-signature.ts');
  let signed: Receipt;
  if (args.recordInLog) {
    const { openLogForWriting } = await import('../store/open-log.ts');
    const { recordDerivations } = await import('../pipeline/record-derivations.ts');
    const { signStatement } = await import('../integrity/statement.ts');
    const { log, signer, vkey, release } = openLogForWriting(args.recordInLog);
    try {
      if (released.length) {
        const pairs = outcomes.flatMap((o, i) => (o.status === 'released' && !gone.has(i) ? [{ i, input: files[i]!, output: join(outDir, o.output.path) }] : []));
        const indexes = await recordDerivations(pairs, log, signer, { edition: TABLE_EDITION, options });
        pairs.forEach((p, k) => { (outcomes[p.i] as Extract<InstanceOutcome, { status: 'released' }>).logIndex = indexes[k]!; });
      }
      signed = signReceipt(receipt as unknown as Record<string, unknown>, signer, vkey) as unknown as Receipt;
      log.appendBatch([{ signed: signStatement({ type: 'custos/receipt/v1', digest: receiptDigest(signed as unknown as Record<string, unknown>), time: new Date().toISOString(), signer: signer.name }, signer.key) }]);
    } finally {
      release();
    }
  } else {
    const { loadOrCreateLogKey } = await import('../store/log-key.ts');
    const { logKeyPathOf } = await import('../store/open-log.ts');
    const key = loadOrCreateLogKey(logKeyPathOf(args.dataDir ?? dataDirOf(undefined)));
    signed = signReceipt(receipt as unknown as Record<string, unknown>, key.signer, key.vkey) as unknown as Receipt;
  }
  mkdirSync(resolve(receiptPath, '..'), { recursive: true });
  writeFileSync(receiptPath + '.tmp', JSON.stringify(signed, null, 2) + '\n');
  renameSync(receiptPath + '.tmp', receiptPath);

  const residual = released.filter((o) => o.residualPhi?.found.length).length;
  if (residual) process.stderr.write(`custos: warning: ${residual} output(s) still hold one of their input's identifying values in free text (see residualPhi in the receipt; the element paths, not the values)\n`);
  if (!args.quiet) {
    const mb = inputBytes / 1e6;
    process.stdout.write(
      `released ${counts.released}, held back ${counts.held}, skipped ${counts.skipped}, failed ${counts.failed}${releaseBasis || withheld.length ? `, withheld ${withheld.length}` : ''} ` +
        `of ${files.length + withheld.length - gone.size} input(s) in ${seconds.toFixed(2)} s (${(files.length / seconds).toFixed(1)} files/s, ${(mb / seconds).toFixed(1)} MB/s)\n` +
        `output: ${outDir}\nreceipt: ${receiptPath}\nkey id: ${keyId}\n`,
    );
  }
  return counts.failed > 0 ? 1 : 0;
}

/**
 * How an input is named in messages: relative to the input (file or folder) it was found under, so
 * that the folders above it, which in real archives often carry a patient's name, are not repeated.
 */
function inputNamer(inputs: readonly string[]): (file: string) => string {
  const roots = inputs.map((i) => { try { return realpathSync.native(resolve(i)); } catch { return resolve(i); } });
  return (file) => {
    for (const r of roots) {
      if (file === r) return basename(file);
      if (file.startsWith(r + sep)) return relative(r, file);
    }
    return basename(file);
  };
}

/**
 * Hands out the indexes of the files still to do. Batches shrink towards the end of the list so
 * that no thread is left with a long tail while the others idle.
 */
class FileQueue {
  private next = 0;
  private readonly total: number;
  private readonly threads: number;
  private readonly maxBatch: number;
  constructor(total: number, threads: number, maxBatch: number) {
    this.total = total;
    this.threads = threads;
    this.maxBatch = maxBatch;
  }
  take(max = this.maxBatch): number[] {
    const size = Math.max(1, Math.min(max, this.maxBatch, Math.floor((this.total - this.next) / (this.threads * 4))));
    const out: number[] = [];
    while (out.length < size && this.next < this.total) out.push(this.next++);
    return out;
  }
}

/**
 * Worker threads, started before the run is ready for them and fed batches of files from the queue
 * once it is. Measured on 2 cores, 2,000 CT slices: a message per file cost each worker about 0.1 s
 * of postMessage and wake-ups. When pixels are cleaned a batch is one file (OCR takes ~0.3 s a file).
 */
class WorkerPool {
  private readonly workers: Worker[] = [];
  /** The first error of a worker that failed before `run` (loading its modules). */
  private failed: Error | undefined;
  constructor(count: number) {
    for (let i = 0; i < count; i++) {
      const w = new Worker(siblingModule('./deid-worker', import.meta.url));
      w.unref(); // an idle pool never keeps the process alive (a usage error after it was started)
      w.on('error', (e) => { this.failed ??= e; });
      this.workers.push(w);
    }
  }

  /** Resolves when every file sent has its outcome. */
  run(files: string[], queue: FileQueue, init: WorkerInit, record: (i: number, o: InstanceOutcome) => void): Promise<void> {
    return new Promise((resolveAll, reject) => {
      if (this.failed) { reject(this.failed); return; }
      let live = this.workers.length;
      for (const w of this.workers) {
        w.ref();
        w.postMessage(init);
        let inFlight = 0;
        const feed = (): void => {
          const batch = queue.take().map((index) => ({ index, path: files[index]! }));
          if (batch.length) { inFlight++; w.postMessage(batch); }
        };
        w.on('message', (results: Array<{ index: number; outcome: InstanceOutcome }>) => {
          for (const r of results) record(r.index, r.outcome);
          inFlight--;
          feed();
          if (inFlight > 0) return;
          void w.terminate(); // the queue is empty: this worker is done
          if (--live === 0) resolveAll();
        });
        w.on('error', (e) => { this.close(); reject(e); });
        // Two batches in flight per worker keep it busy while the main thread records results.
        feed(); feed();
        if (inFlight === 0) { void w.terminate(); if (--live === 0) resolveAll(); }
      }
    });
  }

  close(): void {
    for (const w of this.workers) void w.terminate();
  }
}

/** Files per message to a worker (header-only de-identification: about 1 ms each). */
const WORKER_BATCH = 16;

/**
 * Default thread count: one per core, the main thread being one of them. Measured on 2 cores, 2,000
 * CT slices of 512 KiB: two workers with the main thread only collecting 2.1-2.2 s, the main thread
 * working beside one worker 1.8-1.9 s. For a short run a worker's start-up costs more than it saves,
 * and the run stays on the main thread (IN_PROCESS_SECONDS).
 */
export function defaultJobs(): number {
  return availableParallelism();
}
