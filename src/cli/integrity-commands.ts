import { readFileSync, writeFileSync } from 'node:fs';
import Fastify from 'fastify';
import { CustosError } from '../errors.ts';
import { logRoutes } from '../api/log-routes.ts';
import { type FoundMember, type LogView, type Verdict, proveSeries, verifyFileInSeries } from '../pipeline/integrity.ts';
import { compareSeries } from '../integrity/series.ts';
import { type ProofKit, buildProofKit, checkAgainstTrusted, kitView, localView, witnessedCheckpoint } from '../pipeline/log-views.ts';
import { signFiles } from '../pipeline/sign-files.ts';
import { loadOrCreateLogKey } from '../store/log-key.ts';
import { LogStore } from '../store/log-store.ts';
import { logDirOf, logKeyPathOf, openLogForReading, openLogForWriting } from '../store/open-log.ts';
import { dataDirOf, parseCommand } from './args.ts';
import { KIT_HELP, LOG_HELP, SIGN_HELP, VERIFY_HELP } from './help.ts';
import { collectInputs } from './walk.ts';
import { parseVerifierKey } from '../integrity/note.ts';
import { formatTlogProof } from '../integrity/tlog-proof.ts';
import { parseCosignerVkey } from '../integrity/cosignature.ts';
import { parseCheckpoint } from '../integrity/checkpoint.ts';
import { openNote } from '../integrity/note.ts';
import type { WitnessEndpoint } from '../net/witness-client.ts';
import { Witnessing, cosignedPathOf, quorumOf } from '../pipeline/witnessing.ts';
import { existsSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { FileSource } from '../dicom/byte-source.ts';
import type { SignatureReport } from '../integrity/dicom-signature.ts';
import { embeddedSignatures } from '../pipeline/sign-instance.ts';
import { signingPathsOf } from '../store/signing-paths.ts';

/** --witness <vkey>@<url>: a witness's key and where it takes checkpoints. */
function parseWitnessEndpoint(s: string): WitnessEndpoint {
  const m = /^([^@\s]+)@(https?:\/\/\S+)$/.exec(s);
  if (!m) throw new CustosError('USAGE', `--witness must be <witness vkey>@<url>, got ${JSON.stringify(s.slice(0, 80))}`);
  return { cosigner: parseCosignerVkey(m[1]!), url: m[2]! };
}

/** --quorum: how many of the witnesses given must have cosigned (default all). */
function quorumArg(q: string | undefined, witnesses: number): number {
  if (q === undefined) return witnesses;
  const n = Number(q);
  if (!Number.isInteger(n) || n < 1 || n > witnesses) throw new CustosError('USAGE', `--quorum must be 1-${witnesses} (the number of --witness keys given)`);
  return n;
}

/** Refuse a checkpoint that lacks the quorum of cosignatures (WITNESS_QUORUM). */
function requireQuorum(note: string, witnessKeys: readonly string[], quorum: string | undefined, where: string): void {
  const keys = witnessKeys.map(parseCosignerVkey);
  const need = quorumArg(quorum, keys.length);
  const q = quorumOf(note, keys, need);
  if (!q.met) throw new CustosError('WITNESS_QUORUM', `the checkpoint (${where}, size ${q.size}) carries ${q.witnesses.length} valid cosignature(s) of the ${keys.length} witness(es) given, ${need} required`);
}





export async function signMain(argv: string[]): Promise<number> {
  const { values: v, positionals } = parseCommand(argv, { source: { type: 'string', default: 'cli' } });
  if (v.help) { process.stdout.write(SIGN_HELP); return 0; }
  if (!positionals.length) throw new CustosError('USAGE', 'no input given');
  const files = collectInputs(positionals);
  const { log, signer, release } = openLogForWriting(dataDirOf(v['data-dir']));
  try {
    const outcomes = await signFiles(files, log, signer, v.source!, (acked, size) => {
      process.stdout.write(`checkpoint ${size}: recorded ${acked.length}\n`);
    });
    let failed = 0;
    for (const o of outcomes) {
      if (o.status === 'failed') { failed++; process.stderr.write(`failed: ${o.path}: ${o.error.code}: ${o.error.message}\n`); }
    }
    const recorded = outcomes.filter((o) => o.status === 'recorded').length;
    const already = outcomes.filter((o) => o.status === 'already').length;
    process.stdout.write(`recorded ${recorded}, already in the log ${already}, failed ${failed}; log size ${log.size}\n`);
    return failed ? 1 : 0;
  } finally {
    release();
  }
}

function describe(v: Verdict): string {
  switch (v.status) {
    case 'authentic': return `log #${v.index}, ingested ${v.time} from ${v.source}, signed by ${v.signer}`;
    case 'derived': return `log #${v.index}, de-identified ${v.time} (PS3.15 ${v.profile.edition}${v.profile.options.length ? ' + ' + v.profile.options.join(', ') : ''})${v.parentIndex !== undefined ? `, from log #${v.parentIndex}` : ''}`;
    case 'tampered': return `${v.reason}${v.index !== undefined ? ` (log #${v.index})` : ''}`;
    case 'unknown': case 'skipped': return v.reason;
  }
}

export async function verifyMain(argv: string[]): Promise<number> {
  const { values: v, positionals } = parseCommand(argv, {
    json: { type: 'boolean', default: false }, kit: { type: 'string' }, 'log-key': { type: 'string' }, checkpoint: { type: 'string' },
    witness: { type: 'string', multiple: true }, quorum: { type: 'string' }, trust: { type: 'string', multiple: true },
  });
  const anchors = trustAnchors(v.trust ?? [], v.kit ? undefined : dataDirOf(v['data-dir']));
  const witnessKeys = v.witness ?? [];
  if (v.quorum !== undefined && !witnessKeys.length) throw new CustosError('USAGE', '--quorum needs --witness keys');
  if (v.help) { process.stdout.write(VERIFY_HELP); return 0; }
  if (!positionals.length) throw new CustosError('USAGE', 'no input given');
  const files = collectInputs(positionals);
  let view: LogView | undefined;
  let emptyReason: string | undefined;
  if (v.kit) {
    const kit = JSON.parse(readFileSync(v.kit, 'utf8')) as ProofKit;
    if (witnessKeys.length) requireQuorum(kit.checkpoint, witnessKeys, v.quorum, 'the proof kit\'s');
    view = kitView(kit, v['log-key']);
  } else {
    const { log, verifier } = openLogForReading(dataDirOf(v['data-dir']), v['log-key']);
    if (log.size === 0 && !safeHasCheckpoint(log)) emptyReason = 'the log is empty';
    else if (witnessKeys.length) {
      // Proven against a witnessed checkpoint: the one given, or the latest gathered in the log directory.
      const path = cosignedPathOf(log.dir);
      const note = v.checkpoint ? readFileSync(v.checkpoint, 'utf8') : existsSync(path) ? readFileSync(path, 'utf8') : undefined;
      if (!note) throw new CustosError('WITNESS_QUORUM', 'no witnessed checkpoint: none given with --checkpoint, and none gathered in the log directory (custos log cosign, or the gateway\'s witnesses)');
      requireQuorum(note, witnessKeys, v.quorum, v.checkpoint ? v.checkpoint : 'log/cosigned-checkpoint');
      checkAgainstTrusted(log, verifier, note);
      view = localView(log, verifier, parseCheckpoint(openNote(note, [verifier]).text));
    } else {
      checkAgainstTrusted(log, verifier, v.checkpoint ? readFileSync(v.checkpoint, 'utf8') : undefined);
      view = localView(log, verifier);
    }
  }
  let worst = 0;
  const members: FoundMember[] = [];
  for (const file of files) {
    const { verdict, member } = view ? await verifyFileInSeries(file, view) : { verdict: { status: 'unknown', reason: emptyReason! } as Verdict };
    if (member) members.push(member);
    if (verdict.status === 'tampered') worst = Math.max(worst, 2);
    if (verdict.status === 'unknown') worst = Math.max(worst, 1);
    const signatures = verdict.status === 'skipped' ? [] : signaturesIn(file, anchors);
    if (signatures.some((sg) => !sg.valid)) worst = Math.max(worst, 2);
    if (v.json) process.stdout.write(JSON.stringify({ file, ...verdict, ...(signatures.length ? { signatures } : {}) }) + '\n');
    else {
      process.stdout.write(`${verdict.status.padEnd(9)} ${file}: ${describe(verdict)}\n`);
      signatures.forEach((sg, i) => process.stdout.write(`          DICOM signature ${i + 1}: ${describeSignature(sg)}\n`));
    }
  }
  // Series: compare the files found with the latest series statement (position order, series root).
  const bySeries = Map.groupBy(members, (m) => m.seriesInstanceUID);
  for (const [uid, found] of bySeries) {
    const rec = view?.seriesStatement(uid);
    if (!rec || !view) continue;
    const proved = proveSeries(rec, view);
    if ('problem' in proved) continue;
    const cmp = compareSeries(proved.statement.members, found);
    const changed = cmp.changed.length > 0 || cmp.extra.length > 0;
    if (changed) worst = Math.max(worst, 2);
    const summary = {
      series: uid, status: changed ? 'tampered' : 'consistent', index: rec.index, slices: proved.statement.members.length,
      checked: found.length, changedPositions: cmp.changed, missingPositions: cmp.missing, extraInstances: cmp.extra.length,
    };
    if (v.json) process.stdout.write(JSON.stringify(summary) + '\n');
    else {
      const parts = [`${found.length - cmp.extra.length} of ${summary.slices} slices checked in position order`];
      if (cmp.changed.length) parts.push(`slices at positions ${cmp.changed.join(', ')} changed`);
      if (cmp.extra.length) parts.push(`${cmp.extra.length} instance(s) not in the recorded series`);
      process.stdout.write(`series    ${uid}: ${summary.status}: ${parts.join('; ')} (log #${rec.index})\n`);
    }
  }
  return worst === 2 ? 1 : worst === 1 ? 3 : 0;
}

/** Certificates embedded signatures may chain to: those given, and the data directory's own signing certificate. */
function trustAnchors(files: readonly string[], dataDir: string | undefined): X509Certificate[] {
  const paths = [...files, ...(dataDir && existsSync(signingPathsOf(dataDir).certFile) ? [signingPathsOf(dataDir).certFile] : [])];
  return paths.map((p) => {
    try { return new X509Certificate(readFileSync(p)); } catch (e) { throw new CustosError('USAGE', `--trust ${p}: not a certificate (${(e as Error).message})`); }
  });
}

/** The DICOM digital signatures embedded in a file, each checked; none when it has none or cannot be read. */
function signaturesIn(file: string, anchors: readonly X509Certificate[]): SignatureReport[] {
  const source = new FileSource(file);
  try { return embeddedSignatures(source, anchors); } catch { return []; } finally { source.close(); }
}

function describeSignature(sg: SignatureReport): string {
  const who = sg.signer ? sg.signer.subject.replaceAll('\n', ', ') : 'unknown signer';
  const trust = sg.trusted === true ? ', certificate trusted' : sg.trusted === false ? ', certificate NOT trusted' : '';
  return `${sg.valid ? 'valid' : 'INVALID'}, ${who} (${sg.macAlgorithm || '?'} over ${sg.signedAttributes} attributes, ${sg.time}${trust})${sg.reason ? `: ${sg.reason}` : ''}`;
}

function safeHasCheckpoint(log: LogStore): boolean {
  try { return Boolean(log.checkpoint); } catch { return false; }
}

export async function logMain(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  const { values: v } = parseCommand(rest, { host: { type: 'string', default: '127.0.0.1' }, port: { type: 'string', default: '8081' }, index: { type: 'string' }, witness: { type: 'string', multiple: true } });
  if (v.help || !sub || sub === 'help') { process.stdout.write(LOG_HELP); return 0; }
  const dataDir = dataDirOf(v['data-dir']);
  if (sub === 'key') {
    process.stdout.write(loadOrCreateLogKey(logKeyPathOf(dataDir)).vkey + '\n');
    return 0;
  }
  if (sub === 'proof') {
    const index = Number(v.index);
    const { log } = openLogForReading(dataDir);
    const size = log.checkpoint.body.size;
    if (!Number.isInteger(index) || index < 0 || index >= size) throw new CustosError('USAGE', `--index must be a log index below the checkpoint size ${size}`);
    process.stdout.write(formatTlogProof({ index, proof: log.tree.inclusionProof(index, size), checkpoint: log.checkpoint.note, extra: log.entry(index) }));
    return 0;
  }
  if (sub === 'checkpoint') {
    const { log, release } = openLogForWriting(dataDir); // publishes a checkpoint for a new log
    try { process.stdout.write(log.checkpoint.note); } finally { release(); }
    return 0;
  }
  if (sub === 'cosign') {
    const witnesses = (v.witness ?? []).map(parseWitnessEndpoint);
    if (!witnesses.length) throw new CustosError('USAGE', 'give each witness as --witness <witness vkey>@<url>');
    const { log, release } = openLogForWriting(dataDir);
    try {
      const outcomes = await new Witnessing(log, witnesses).submit();
      for (const o of outcomes) process.stdout.write(o.ok ? `cosigned  ${o.witness}: size ${o.size}\n` : `refused   ${o.witness}: ${o.code}: ${o.message}\n`);
      const refused = outcomes.filter((o) => !o.ok);
      if (refused.length) throw new CustosError(refused[0]!.ok ? 'WITNESS_UNREACHABLE' : refused[0]!.code, `${refused.length} of ${outcomes.length} witness(es) did not cosign`);
    } finally { release(); }
    return 0;
  }
  if (sub === 'serve') {
    const port = Number(v.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new CustosError('USAGE', `--port must be 0-65535, got ${JSON.stringify(v.port)}`);
    { const { release } = openLogForWriting(dataDir); release(); } // make sure a signed checkpoint exists
    const vkey = loadOrCreateLogKey(logKeyPathOf(dataDir)).vkey;
    const app = Fastify({ logger: false });
    await app.register(logRoutes(() => LogStore.open(logDirOf(dataDir), parseVerifierKey(vkey))));
    const address = await app.listen({ host: v.host!, port });
    process.stdout.write(`custos log: serving ${address}/log/checkpoint (tlog-tiles under ${address}/log/)\nverifier key: ${vkey}\ndata directory: ${dataDir}\n`);
    await new Promise<void>((resolveStop) => {
      const stop = (): void => { void app.close().then(() => resolveStop()); };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    return 0;
  }
  throw new CustosError('USAGE', `unknown log command ${JSON.stringify(sub)}`);
}

export async function proofKitMain(argv: string[]): Promise<number> {
  const { values: v } = parseCommand(argv, { study: { type: 'string' }, out: { type: 'string' }, witnessed: { type: 'boolean', default: false } });
  if (v.help) { process.stdout.write(KIT_HELP); return 0; }
  if (!v.study || !v.out) throw new CustosError('USAGE', '--study <uid> and --out <file> are required');
  const { log, vkey, verifier } = openLogForReading(dataDirOf(v['data-dir']));
  let kit: ProofKit;
  if (v.witnessed) {
    // Against the witnessed checkpoint, so that the kit carries the witnesses' cosignatures.
    const w = witnessedCheckpoint(log, verifier);
    if (!w) throw new CustosError('WITNESS_QUORUM', 'no witnessed checkpoint in the log directory yet (custos log cosign, or the gateway\'s witnesses)');
    kit = buildProofKit(log, vkey, v.study, w);
  } else kit = buildProofKit(log, vkey, v.study);
  writeFileSync(v.out, JSON.stringify(kit, null, 2) + '\n', { mode: 0o600 });
  process.stdout.write(`wrote ${v.out}: ${kit.entries.length} statement(s), checkpoint size ${log.checkpoint.body.size}\n`);
  return 0;
}
