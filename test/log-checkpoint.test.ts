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

test('log: statements left by a crash before their entries are written are replaced by the next append, and found by nothing', async (t) => {
  const { dataDir, described, uid, item } = await scratch(t);
  const dir = logDirOf(dataDir);
  let w = openLogForWriting(dataDir);
  recordIngests([item('kept')], w.log, w.signer);
  const checkpoint = readFileSync(join(dir, 'checkpoint'));
  recordIngests([item('lost1'), item('lost2'), item('lost3')], w.log, w.signer);
  w.release();
  // As if the crash came after the statements were durable and before the entries and checkpoint were.
  writeFileSync(join(dir, 'checkpoint'), checkpoint);
  writeFileSync(join(dir, 'entries'), readFileSync(join(dir, 'entries')).subarray(0, 32));
  w = openLogForWriting(dataDir);
  assert.equal(w.log.size, 1);
  assert.deepEqual(recordIngests([item('new1'), item('new2')], w.log, w.signer), [1, 2]);
  w.release();
  const again = openLogForWriting(dataDir);
  t.after(() => again.release());
  assert.deepEqual(['kept', 'new1', 'new2', 'lost1', 'lost2', 'lost3'].map((n) => again.log.findBySop(uid(n))), [[0], [1], [2], [], [], []]);
  const statement = again.log.record(1)?.signed?.statement;
  assert.equal(statement?.type === 'custos/ingest/v1' ? statement.instance.sopInstanceUID : undefined, uid('new1'));
  assert.deepEqual(again.log.findByStudy(described.ids.studyInstanceUID), [0, 1, 2]);
});
