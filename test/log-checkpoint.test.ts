/** Checkpoints of a busy writer: entries durable at once, one checkpoint a moment later, never stale to readers. */
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { parseCheckpoint } from '../src/integrity/checkpoint.ts';
import { openNote, parseVerifierKey } from '../src/integrity/note.ts';
import { describeFile } from '../src/pipeline/integrity.ts';
import { recordIngests } from '../src/pipeline/record-derivations.ts';
import { LogStore } from '../src/store/log-store.ts';
import { logDirOf, openLogForWriting } from '../src/store/open-log.ts';

const EXAMPLE = join(import.meta.dirname, '..', 'examples', 'synthetic-ct-1.dcm');

/** A data directory of its own (removed after the test), and ingest items: the example instance under SOP Instance UIDs of their own. */
async function scratch(t: TestContext) {
  const dataDir = mkdtempSync(join(tmpdir(), 'custos-cp-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const described = await describeFile(EXAMPLE);
  const uid = (name: string | number): string => `${described.ids.sopInstanceUID}.${name}`;
  const item = (name: string | number) => ({ described: { ...described, ids: { ...described.ids, sopInstanceUID: uid(name) } }, source: 'test' });
  return { dataDir, described, uid, item };
}

test('log: appends with a checkpoint "soon" are durable at once, covered by the next checkpoint, and by any read of it', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'custos-cp-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const { log, signer, vkey, release } = openLogForWriting(dataDir);
  const described = await describeFile(EXAMPLE);
  const onDisk = (): number => parseCheckpoint(openNote(readFileSync(join(logDirOf(dataDir), 'checkpoint'), 'utf8'), [parseVerifierKey(vkey)]).text).size;
  const before = onDisk();

  recordIngests([{ described, source: 'test' }], log, signer, undefined, 'soon');
  assert.equal(log.size, before + 1);
  assert.equal(onDisk(), before, 'no checkpoint per append');
  // Another process opening the log now (as after a crash) finds the entry backed by its statement.
  assert.equal(LogStore.open(logDirOf(dataDir), parseVerifierKey(vkey)).size, before + 1);
  // Within the delay the checkpoint follows on its own.
  await new Promise((r) => setTimeout(r, 400));
  assert.equal(onDisk(), before + 1);

  // A reader in the writing process never sees a checkpoint older than the entries.
  const described2 = { ...described, ids: { ...described.ids, sopInstanceUID: `${described.ids.sopInstanceUID}.2` } };
  recordIngests([{ described: described2, source: 'test' }], log, signer, undefined, 'soon');
  assert.equal(log.checkpoint.body.size, before + 2);
  assert.equal(onDisk(), before + 2);
  release();
});

test('log: after a failed write nothing more is appended until the log is opened again, which finds what was durable', async (t) => {
  const { dataDir, item: nth } = await scratch(t);
  const { log, signer, vkey, release } = openLogForWriting(dataDir);
  const start = log.size;
  assert.deepEqual(recordIngests([nth(0), nth(1)], log, signer), [start, start + 1]);
  // The statements file cannot be opened for appending (a directory in its place): the append fails,
  // and so does every later one, also once the file is back.
  const statements = join(logDirOf(dataDir), 'statements.jsonl');
  renameSync(statements, `${statements}.aside`);
  mkdirSync(statements);
  assert.throws(() => recordIngests([nth(2)], log, signer), (e: Error & { code?: string }) => e.code === 'LOG_UNAVAILABLE');
  rmdirSync(statements);
  renameSync(`${statements}.aside`, statements);
  assert.throws(() => recordIngests([nth(3)], log, signer), (e: Error & { code?: string }) => e.code === 'LOG_UNAVAILABLE');
  assert.equal(log.size, start + 2);
  release();
  // Opened again: checked against its signed checkpoint, and appends go on.
  const again = openLogForWriting(dataDir);
  t.after(() => again.release());
  assert.equal(again.log.size, start + 2);
  assert.deepEqual(recordIngests([nth(2)], again.log, again.signer), [start + 2]);
  assert.equal(LogStore.open(logDirOf(dataDir), parseVerifierKey(vkey)).size, start + 3);
});

test('log: a statement line torn by a crash is cut off when the log is opened for writing, so that later appends keep their statements', async (t) => {
  const { dataDir, uid, item: nth } = await scratch(t);
  let w = openLogForWriting(dataDir);
  recordIngests([nth(0)], w.log, w.signer);
  w.release();
  // Part of the next line reached the disk before a crash (never acknowledged).
  appendFileSync(join(logDirOf(dataDir), 'statements.jsonl'), '{"index":1,"salt":"ab');
  w = openLogForWriting(dataDir);
  assert.equal(w.log.size, 1);
  recordIngests([nth(1)], w.log, w.signer);
  recordIngests([nth(2)], w.log, w.signer);
  w.release();
  w = openLogForWriting(dataDir);
  t.after(() => w.release());
  assert.deepEqual([0, 1, 2].map((i) => w.log.findBySop(uid(i))), [[0], [1], [2]], 'every appended statement is found again');
});

test('log: records stay on disk once appended; opened again, each is read back whole and found by its instance', async (t) => {
  const { dataDir, item } = await scratch(t);
  const items = Array.from({ length: 300 }, (_, i) => ({ ...item(i), source: `test ${'é'.repeat(i % 3)}` }));
  const w = openLogForWriting(dataDir);
  const indexes = recordIngests(items, w.log, w.signer);
  const written = indexes.map((i) => JSON.stringify(w.log.record(i)));
  w.release();
  const again = LogStore.open(logDirOf(dataDir), parseVerifierKey(w.vkey));
  assert.deepEqual(indexes.map((i) => JSON.stringify(again.record(i))), written, 'the same records, multi-byte text included');
  assert.deepEqual(items.map((it) => again.findIngest(it.described.ids.sopInstanceUID, it.described.content)), indexes);
  assert.equal(again.record(again.size), undefined);
  // Changed on disk after the log was opened: read again, the record no longer matches its entry.
  const third = LogStore.open(logDirOf(dataDir), parseVerifierKey(w.vkey));
  const path = join(logDirOf(dataDir), 'statements.jsonl');
  const text = readFileSync(path, 'utf8');
  const salt = JSON.parse(text.slice(0, text.indexOf('\n'))).salt as string;
  writeFileSync(path, text.replace(salt, `${salt[0] === '0' ? '1' : '0'}${salt.slice(1)}`));
  assert.throws(() => third.record(0), (e: Error & { code?: string }) => e.code === 'LOG_CORRUPT');
});

test('log: statements durable before a crash are entries: opening again writes the entries a crash left unwritten or torn from them', async (t) => {
  const { dataDir, described, uid, item } = await scratch(t);
  const dir = logDirOf(dataDir);
  let w = openLogForWriting(dataDir);
  recordIngests([item('kept')], w.log, w.signer);
  const checkpoint = readFileSync(join(dir, 'checkpoint'));
  recordIngests([item('a'), item('b'), item('c')], w.log, w.signer, undefined, 'soon');
  const entries = readFileSync(join(dir, 'entries'));
  w.release();
  // As if the crash came once the statements were durable: of the entries after the checkpoint, one
  // reached the disk as zeros and the rest not at all (written, never fsynced).
  writeFileSync(join(dir, 'checkpoint'), checkpoint);
  writeFileSync(join(dir, 'entries'), Buffer.concat([entries.subarray(0, 32), Buffer.alloc(32), Buffer.alloc(7, 1)]));
  const reader = LogStore.open(dir, parseVerifierKey(w.vkey));
  assert.equal(reader.size, 4, 'a reader sees the entries of the statements');
  assert.ok(readFileSync(join(dir, 'entries')).length < 4 * 32, 'a reader writes nothing');
  w = openLogForWriting(dataDir);
  assert.equal(w.log.size, 4);
  assert.ok(readFileSync(join(dir, 'entries')).equals(entries), 'the entries are written again, the same');
  assert.equal(w.log.checkpoint.body.size, 4);
  assert.deepEqual(recordIngests([item('d')], w.log, w.signer), [4]);
  w.release();
  const again = openLogForWriting(dataDir);
  t.after(() => again.release());
  assert.deepEqual(['kept', 'a', 'b', 'c', 'd'].map((n) => again.log.findBySop(uid(n))), [[0], [1], [2], [3], [4]]);
  assert.deepEqual(again.log.findByStudy(described.ids.studyInstanceUID), [0, 1, 2, 3, 4]);
});

test('log: a log written before the statements were the record opens with the lines its entries commit to', async (t) => {
  const { dataDir, uid, item } = await scratch(t);
  const dir = logDirOf(dataDir);
  const files = ['statements.jsonl', 'entries', 'checkpoint'];
  let w = openLogForWriting(dataDir);
  recordIngests([item('kept')], w.log, w.signer);
  const saved = files.map((f) => readFileSync(join(dir, f)));
  recordIngests([item('lost1'), item('lost2')], w.log, w.signer);
  const lost = readFileSync(join(dir, 'statements.jsonl')).subarray(saved[0]!.length);
  w.release();
  // Then, the old way: those statements' entries never written, and the next append numbered again
  // (and no published checkpoint kept beside the key: logs of that time had none).
  files.forEach((f, i) => writeFileSync(join(dir, f), saved[i]!));
  rmSync(join(dataDir, 'keys', 'log-checkpoint'));
  w = openLogForWriting(dataDir);
  recordIngests([item('new1'), item('new2'), item('new3')], w.log, w.signer);
  w.release();
  const statements = readFileSync(join(dir, 'statements.jsonl'));
  writeFileSync(join(dir, 'statements.jsonl'), Buffer.concat([saved[0]!, lost, statements.subarray(saved[0]!.length)]));
  const again = openLogForWriting(dataDir);
  t.after(() => again.release());
  assert.equal(again.log.size, 4);
  assert.deepEqual(['kept', 'new1', 'new2', 'new3', 'lost1', 'lost2'].map((n) => again.log.findBySop(uid(n))), [[0], [1], [2], [3], [], []]);
});

test('log: past the checkpoint, a statement whose signature fails or an entry without a statement stops the log', async (t) => {
  const { dataDir, item } = await scratch(t);
  const dir = logDirOf(dataDir);
  const w = openLogForWriting(dataDir);
  recordIngests([item(0)], w.log, w.signer);
  w.release();
  const statements = readFileSync(join(dir, 'statements.jsonl'), 'utf8');
  const forged = JSON.parse(statements.trim()) as { index: number; signed: { statement: { source: string } } };
  forged.index = 1;
  forged.signed.statement.source = 'forged';
  writeFileSync(join(dir, 'statements.jsonl'), `${statements}${JSON.stringify(forged)}\n`);
  assert.throws(() => LogStore.open(dir, parseVerifierKey(w.vkey)), (e: Error & { code?: string }) => e.code === 'LOG_CORRUPT' && /entry 1 is not signed/.test(e.message));
  writeFileSync(join(dir, 'statements.jsonl'), statements);
  appendFileSync(join(dir, 'entries'), Buffer.alloc(32, 0x41));
  assert.throws(() => LogStore.open(dir, parseVerifierKey(w.vkey)), (e: Error & { code?: string }) => e.code === 'LOG_CORRUPT' && /entry 1 is not backed/.test(e.message));
});
