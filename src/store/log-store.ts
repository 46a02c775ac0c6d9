import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, readSync, renameSync, truncateSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { CustosError } from '../errors.ts';
import { type Checkpoint, formatCheckpoint, parseCheckpoint } from '../integrity/checkpoint.ts';
import { compareContent } from '../integrity/compare.ts';
import type { ContentDigests } from '../integrity/content.ts';
import { HashColumn } from '../integrity/hash-column.ts';
import { MerkleTree } from '../integrity/merkle.ts';
import { type NoteSigner, type NoteVerifier, openNote, signNote } from '../integrity/note.ts';
import { HASH_SIZE } from '../integrity/rfc6962.ts';
import { type SignedStatement, commitment, newSalt, verifyStatement } from '../integrity/statement.ts';
import { append, appendDurably, syncDir } from './log-files.ts';
import { LogIndex } from './log-index.ts';
import type { PublishedCheckpoints } from './log-published.ts';

/*
 * The transparency log on disk, in <data-dir>/log:
 *   entries          public leaves: 32-byte commitments, appended, never rewritten up to the checkpoint
 *   statements.jsonl private: {index, salt, signed statement} per line (erasable: drop the salt)
 *   checkpoint       the latest signed checkpoint (c2sp.org/tlog-checkpoint)
 * The statements are the record: an append writes and fsyncs them, and only then writes their
 * entries, which are derived from them (an entry is the commitment to its line) and fsynced before
 * the next checkpoint (write, fsync, rename) — one fsync per append instead of two. On open, the
 * entries up to the checkpoint must reproduce its signed root; past it, the entries are those of the
 * statements that follow, each signed, in order — what a crash left unwritten or torn there is
 * written again from them. An entry past the checkpoint that no statement backs, or a statement
 * whose signature fails, stops the log (LOG_CORRUPT); so does a statement edited, or one copied to
 * a new entry, found when the log is opened.
 *
 * Roll-back: every checkpoint published is also recorded outside this directory (PublishedCheckpoints,
 * and the gateway's database). A log that is not an extension of the latest one recorded there —
 * truncated, rewritten or deleted — is not opened (LOG_ROLLBACK), so the signer never signs a tree
 * smaller than, or inconsistent with, one it published.
 */

/** A private record; `parent` keeps what proves a derivation's parent reference (never public). */
export interface LogRecord { index: number; salt: string | null; signed: SignedStatement | null; parent?: { index: number; salt: string } }

export class LogStore {
  readonly dir: string;
  readonly origin: string;
  readonly tree = new MerkleTree();
  private readonly signer: NoteSigner | undefined;
  private readonly verifier: NoteVerifier;
  /** Where each entry's record is, and the look-ups that lead to records (log-index.ts). */
  private readonly lookup = new LogIndex();
  private statementsBytes = 0;
  private readonly recent = new Map<number, LogRecord>();
  private checkpointText = '';
  private checkpointValue: Checkpoint | undefined;
  private publishTimer: NodeJS.Timeout | undefined;
  private readonly entries = new HashColumn();
  /** Set when a write or sync failed: the files may hold more than this process knows, so it appends no more. */
  private broken: Error | undefined;
  /** Entries written since the last fsync of their file. */
  private entriesUnsynced = false;

  private readonly published: PublishedCheckpoints | undefined;
  private readonly publishListeners: Array<(note: string, body: Checkpoint) => void> = [];

  private constructor(dir: string, verifier: NoteVerifier, signer: NoteSigner | undefined, published: PublishedCheckpoints | undefined) {
    this.dir = dir;
    this.verifier = verifier;
    this.signer = signer;
    this.origin = verifier.name;
    this.published = published;
  }

  /**
   * Open for appending (signer given) or for reading only. Throws LOG_CORRUPT on any inconsistency,
   * LOG_ROLLBACK when the log does not extend the latest checkpoint `published` holds.
   */
  static open(dir: string, verifier: NoteVerifier, signer?: NoteSigner, published?: PublishedCheckpoints): LogStore {
    const log = new LogStore(dir, verifier, signer, published);
    if (signer) mkdirSync(dir, { recursive: true });
    log.load();
    return log;
  }

  /** Called with every checkpoint this process publishes (the gateway keeps them in its database, and sends them to witnesses). */
  onPublish(listener: (note: string, body: Checkpoint) => void): void {
    this.publishListeners.push(listener);
  }

  /**
   * Throws LOG_ROLLBACK unless this log extends the checkpoint `note` (one it published, kept
   * elsewhere): its size is not above the log's, and the log's root at that size is the same.
   */
  checkExtends(note: string, where: string): void {
    let cp: Checkpoint;
    try {
      cp = parseCheckpoint(openNote(note, [this.verifier]).text);
    } catch (e) {
      throw new CustosError('LOG_ROLLBACK', `the checkpoint recorded in ${where} is not one of this log's (${(e as Error).message}): the log or its key was replaced`);
    }
    if (cp.origin !== this.origin) throw new CustosError('LOG_ROLLBACK', `the checkpoint recorded in ${where} is of log ${cp.origin}, not ${this.origin}`);
    if (cp.size > this.tree.size) {
      throw new CustosError('LOG_ROLLBACK', `the log was rolled back: it holds ${this.tree.size} entries, but a checkpoint for ${cp.size} was published (recorded in ${where})`);
    }
    if (!this.tree.root(cp.size).equals(cp.root)) {
      throw new CustosError('LOG_ROLLBACK', `the log was rewritten: its first ${cp.size} entries do not reproduce the checkpoint published for that size (recorded in ${where})`);
    }
  }

  private path(name: string): string {
    return join(this.dir, name);
  }

  private load(): void {
    // The signed checkpoint pins what was acknowledged.
    const cpPath = this.path('checkpoint');
    let cp: Checkpoint | undefined;
    if (existsSync(cpPath)) {
      this.checkpointText = readFileSync(cpPath, 'utf8');
      cp = parseCheckpoint(openNote(this.checkpointText, [this.verifier]).text);
      if (cp.origin !== this.origin) throw new CustosError('LOG_CORRUPT', `checkpoint origin ${cp.origin} is not this log's (${this.origin})`);
    }
    const size = cp?.size ?? 0;
    // Entries: those up to the checkpoint are durable and must reproduce its root.
    const entriesPath = this.path('entries');
    const raw = existsSync(entriesPath) ? readFileSync(entriesPath) : Buffer.alloc(0);
    const onDisk = Math.floor(raw.length / HASH_SIZE);
    if (size > onDisk) throw new CustosError('LOG_CORRUPT', `the log holds ${onDisk} entries but its signed checkpoint commits to ${size}: entries were removed or rolled back`);
    for (let i = 0; i < size; i++) {
      const e = raw.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE);
      this.entries.push(e);
      this.tree.appendData(e);
    }
    if (cp && !this.tree.root(size).equals(cp.root)) throw new CustosError('LOG_CORRUPT', `the entries do not reproduce the signed root at size ${size}: the log storage was modified`);
    this.checkpointValue = cp;
    // Private statements; only the last line may be torn (written in part before a crash, never
    // acknowledged). A writer cuts it off: the next append would otherwise be joined to it, and its
    // statement lost with it.
    const stPath = this.path('statements.jsonl');
    let st = existsSync(stPath) ? readFileSync(stPath) : Buffer.alloc(0);
    if (st.length && st[st.length - 1] !== 0x0a && this.signer) {
      st = st.subarray(0, st.lastIndexOf(0x0a) + 1);
      truncateSync(stPath, st.length);
    }
    this.statementsBytes = st.length;
    /** Lines of entries past the checkpoint, by index, in file order. */
    const tail = new Map<number, Array<{ rec: LogRecord; at: number; length: number }>>();
    /** Entries below the checkpoint whose only line does not commit to them (so far). */
    const unmatched = new Set<number>();
    for (let start = 0, line = 1; start < st.length; line++) {
      // The next newline, by a plain loop: Buffer.indexOf cost 6 µs a call here, a fifth of opening.
      let end = start;
      while (end < st.length && st[end] !== 0x0a) end++;
      const at = start;
      start = end + 1;
      if (end === at) continue;
      let rec: LogRecord;
      try {
        rec = JSON.parse(st.toString('utf8', at, end)) as LogRecord;
      } catch {
        if (end === st.length) continue; // torn final line (a reader's view; a writer cut it off above)
        throw new CustosError('LOG_CORRUPT', `statements file line ${line} is not valid JSON`);
      }
      if (rec.index >= size) {
        const lines = tail.get(rec.index);
        if (lines) lines.push({ rec, at, length: end - at }); else tail.set(rec.index, [{ rec, at, length: end - at }]);
        continue;
      }
      // Logs written before the statements were the record may hold two lines for one entry (a crash
      // between a batch's statements and its entries, then the next append numbered again): the one
      // its entry commits to counts. Every entry needs one: a statement edited stops the log.
      const matching = this.matches(rec);
      if (this.lookup.line(rec.index)) {
        if (!matching) continue;
        const was = this.lookup.line(rec.index)!;
        this.lookup.remove(JSON.parse(st.toString('utf8', was.start, was.start + was.length)) as LogRecord);
      }
      if (matching) unmatched.delete(rec.index); else unmatched.add(rec.index);
      this.lookup.add(rec, at, end - at);
    }
    if (unmatched.size) {
      const first = Math.min(...unmatched);
      throw new CustosError('LOG_CORRUPT', `the statement of entry ${first} does not match its entry${unmatched.size > 1 ? ` (and ${unmatched.size - 1} more)` : ''}: it was edited`);
    }
    // Past the checkpoint the statements are the record: each index in turn takes its signed line
    // (of several, the one its entry on disk commits to, else the last written), and its entry is that
    // line's commitment.
    let rewrite = false;
    for (let i = size; ; i++) {
      const lines = tail.get(i);
      if (!lines) break;
      for (const { rec } of lines) {
        if (!rec.salt || !rec.signed || !verifyStatement(rec.signed, this.verifier.key)) throw new CustosError('LOG_CORRUPT', `the statement of entry ${i} is not signed by this log: it was forged or corrupted`);
      }
      const old = i < onDisk ? raw.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE) : undefined;
      const leaves = lines.map(({ rec }) => commitment(rec.salt!, rec.signed!));
      const matching = old ? leaves.findIndex((l) => l.equals(old)) : -1;
      const k = matching >= 0 ? matching : lines.length - 1;
      const chosen = lines[k]!;
      if (!old?.equals(leaves[k]!)) rewrite = true;
      const copied = this.copyOf(chosen.rec);
      if (copied !== undefined) throw new CustosError('LOG_CORRUPT', `the statement of entry ${i} is a copy of entry ${copied}'s: a statement is recorded once`);
      this.entries.push(leaves[k]!);
      this.tree.appendData(leaves[k]!);
      this.lookup.add(chosen.rec, chosen.at, chosen.length);
    }
    if (this.tree.size < onDisk) throw new CustosError('LOG_CORRUPT', `entry ${this.tree.size} is not backed by a signed statement: it was forged or corrupted`);
    // The checkpoint kept outside this directory: the log must extend it (else it was rolled back).
    const published = this.published?.latest();
    if (published) this.checkExtends(published, 'the published-checkpoint file beside the log key');
    if (this.signer) {
      // What a crash left of the entries past the checkpoint is written again from the statements.
      if (rewrite || raw.length !== this.tree.size * HASH_SIZE) {
        truncateSync(entriesPath, size * HASH_SIZE);
        const leaves: Buffer[] = [];
        for (let i = size; i < this.tree.size; i++) leaves.push(this.entries.at(i)!);
        appendDurably(entriesPath, Buffer.concat(leaves));
      }
      if (this.checkpointValue?.size !== this.tree.size) this.publish();
      else if (!published && this.checkpointValue) this.published?.record(this.checkpointText); // a log from before the record was kept
    }
  }

  /** The index of an earlier record carrying the same signed statement, if any (found through the look-ups that lead to it). */
  private copyOf(rec: LogRecord): number | undefined {
    if (!rec.signed) return undefined;
    for (const j of this.lookup.sameKeys(rec)) {
      if (j !== rec.index && this.readRecord(j)?.signed?.signature === rec.signed.signature) return j;
    }
    return undefined;
  }

  /** Whether the entry of a record commits to it (an erased record, without salt, is not checked). */
  private matches(rec: LogRecord): boolean {
    return !rec.salt || !rec.signed || commitment(rec.salt, rec.signed).equals(this.entries.at(rec.index)!);
  }

  get size(): number {
    return this.tree.size;
  }

  /** The latest signed checkpoint note, and its parsed body. */
  get checkpoint(): { note: string; body: Checkpoint } {
    this.publishPending();
    if (!this.checkpointValue) throw new CustosError('LOG_CORRUPT', 'the log has no signed checkpoint yet');
    return { note: this.checkpointText, body: this.checkpointValue };
  }

  entry(i: number): Buffer {
    return this.entries.at(i)!;
  }

  /**
   * The private record of entry i: from memory if recent, else read from statements.jsonl and,
   * read again from disk, checked again: its entry must commit to it.
   */
  record(i: number): LogRecord | undefined {
    const hit = this.recent.get(i);
    if (hit) return hit;
    const rec = this.readRecord(i);
    if (!rec) return undefined;
    if (rec.index !== i || !this.matches(rec)) {
      throw new CustosError('LOG_CORRUPT', `the record of entry ${i} in the statements file does not match its entry: it was changed or forged`);
    }
    this.remember(rec);
    return rec;
  }

  /** The line of entry i in statements.jsonl, parsed (unchecked; not JSON: a record of no entry). */
  private readRecord(i: number): LogRecord | undefined {
    const where = this.lookup.line(i);
    if (!where) return undefined;
    const length = where.length;
    const line = Buffer.allocUnsafe(length);
    const fd = openSync(this.path('statements.jsonl'), 'r');
    try {
      for (let got = 0; got < length;) {
        const n = readSync(fd, line, got, length - got, where.start + got);
        if (n === 0) throw new CustosError('LOG_CORRUPT', `the statements file ends inside the record of entry ${i}`);
        got += n;
      }
    } finally {
      closeSync(fd);
    }
    try { return JSON.parse(line.toString('utf8')) as LogRecord; } catch { return { index: -1, salt: null, signed: null }; }
  }

  /** Keep a record in memory among the RECENT_RECORDS latest (the gateway reads them back soon after appending). */
  private remember(rec: LogRecord): void {
    this.recent.delete(rec.index);
    this.recent.set(rec.index, rec);
    if (this.recent.size > RECENT_RECORDS) this.recent.delete(this.recent.keys().next().value!);
  }

  /** Where a receipt's digest was recorded, if it was. */
  findReceipt(digest: string): number | undefined { return this.lookup.receipt(digest); }
  /** Audit seals, oldest first. */
  findAuditSeals(): number[] { return this.lookup.auditSeals(); }
  findBySop(uid: string): number[] { return this.lookup.bySop(uid); }
  /** The index of an ingest statement for this instance with exactly this content, if one was logged. */
  findIngest(sopInstanceUID: string, content: ContentDigests): number | undefined {
    return this.findBySop(sopInstanceUID).find((i) => {
      const s = this.record(i)?.signed?.statement;
      return s?.type === 'custos/ingest/v1' && compareContent(s.content, content) === undefined;
    });
  }
  findByPixelRoot(root: string): number[] { return this.lookup.byPixelRoot(root); }
  findByStudy(uid: string): number[] { return this.lookup.byStudy(uid); }
  /** Ingest records of a series' instances. */
  findSeriesMembers(uid: string): number[] { return this.lookup.seriesMembers(uid); }
  /** Series statements of a series, oldest first. */
  findSeriesStatements(uid: string): number[] { return this.lookup.seriesStatements(uid); }

  /**
   * Append signed statements as one batch: one fsync (of the statements) and one checkpoint for all
   * of them. Returns their indexes once they are durable, and (with `checkpoint: 'now'`, the default) once the
   * checkpoint that includes them is durable too; with 'soon' that checkpoint follows (publishPending).
   * After a failed write or fsync it appends nothing more (LOG_UNAVAILABLE): the files may then hold
   * more than this process knows, which opening the log again sorts out.
   */
  appendBatch(items: Array<{ signed: SignedStatement; parent?: { index: number; salt: string } }>, opts: { checkpoint?: 'now' | 'soon' } = {}): { indexes: number[]; checkpoint: string } {
    if (!this.signer) throw new CustosError('LOG_CORRUPT', 'log opened read-only');
    if (this.broken) throw new CustosError('LOG_UNAVAILABLE', `the log could not be written (${this.broken.message}); restart to check it and go on`);
    if (items.length === 0) return { indexes: [], checkpoint: this.checkpointText };
    const start = this.tree.size;
    const recs: LogRecord[] = items.map((it, i) => ({ index: start + i, salt: newSalt(), signed: it.signed, ...(it.parent ? { parent: it.parent } : {}) }));
    const leaves = recs.map((r) => commitment(r.salt!, r.signed!));
    const lines = recs.map((r) => Buffer.from(JSON.stringify(r) + '\n', 'utf8'));
    try {
      appendDurably(this.path('statements.jsonl'), Buffer.concat(lines));
      // Derived from the statements, now durable: fsynced before the next checkpoint (publish).
      append(this.path('entries'), Buffer.concat(leaves));
      this.entriesUnsynced = true;
    } catch (e) {
      this.broken = e as Error;
      throw new CustosError('LOG_UNAVAILABLE', `the log could not be written: ${(e as Error).message}`);
    }
    for (let i = 0; i < recs.length; i++) {
      this.entries.push(leaves[i]!);
      this.tree.appendData(leaves[i]!);
      this.lookup.add(recs[i]!, this.statementsBytes, lines[i]!.length - 1);
      this.statementsBytes += lines[i]!.length;
      this.remember(recs[i]!);
    }
    if (opts.checkpoint === 'soon') this.schedulePublish(); else this.publish();
    return { indexes: recs.map((r) => r.index), checkpoint: this.checkpointText };
  }

  /**
   * Sign and publish a checkpoint now if entries were appended since the last one. A busy writer
   * (the gateway) appends with `checkpoint: 'soon'`: its entries are durable at once (their statements
   * fsynced), and one checkpoint covers every append of the next CHECKPOINT_DELAY_MS instead of one
   * checkpoint (an fsync of the entries, a signature, two fsyncs and a rename) per append. Reading `checkpoint`
   * publishes first, so nothing in this process ever sees a stale one; after a crash, opening the
   * log publishes what was appended.
   */
  publishPending(): void {
    if (this.signer && this.checkpointValue?.size !== this.tree.size) this.publish();
  }

  private schedulePublish(): void {
    if (this.publishTimer) return;
    this.publishTimer = setTimeout(() => {
      this.publishTimer = undefined;
      try {
        this.publishPending();
      } catch (e) {
        process.stderr.write(`custos: log checkpoint not published: ${(e as Error).message}\n`);
      }
    }, CHECKPOINT_DELAY_MS);
    this.publishTimer.unref();
  }

  private publish(): void {
    if (this.publishTimer) { clearTimeout(this.publishTimer); this.publishTimer = undefined; }
    if (this.entriesUnsynced) {
      // A checkpoint is signed over entries on disk only (opening checks its root against them). After
      // a failed fsync the kernel may have dropped what it could not write, and a second fsync would
      // not say so: no checkpoint is signed until the log is opened again and rewrites them.
      if (this.broken) throw new CustosError('LOG_UNAVAILABLE', `the log could not be written (${this.broken.message}); restart to check it and go on`);
      try {
        const fd = openSync(this.path('entries'), 'r');
        try { fsyncSync(fd); } finally { closeSync(fd); }
      } catch (e) {
        this.broken = e as Error;
        throw new CustosError('LOG_UNAVAILABLE', `the log could not be written: ${(e as Error).message}`);
      }
      this.entriesUnsynced = false;
    }
    const body: Checkpoint = { origin: this.origin, size: this.tree.size, root: this.tree.root(), extensions: [] };
    const note = signNote(formatCheckpoint(body), this.signer!);
    const tmp = this.path(`checkpoint.${process.pid}.tmp`);
    const fd = openSync(tmp, 'w', 0o644);
    try { writeSync(fd, note); fsyncSync(fd); } finally { closeSync(fd); }
    renameSync(tmp, this.path('checkpoint'));
    syncDir(this.dir);
    this.checkpointText = note;
    this.checkpointValue = body;
    this.published?.record(note);
    for (const l of this.publishListeners) l(note, body);
  }
}

/** Records kept in memory after they were appended or read (about 1 KB each). */
const RECENT_RECORDS = 4096;

/** How long a checkpoint may lag appends made with `checkpoint: 'soon'`. */
const CHECKPOINT_DELAY_MS = 200;
