/**
 * An insider with write access to the data directory tries to roll the log back or rewrite it
 * (issue 26): each attempt is refused by `custos log checkpoint` and by `custos verify`.
 */
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { describeFile } from '../src/pipeline/integrity.ts';
import { recordIngests } from '../src/pipeline/record-derivations.ts';
import { logDirOf, openLogForWriting } from '../src/store/open-log.ts';
import { parseGatewayConfig } from '../src/config/gateway-config.ts';
import { startGateway } from '../src/gateway.ts';
import { REPO, runCli, tempDir } from './helpers.ts';
import { tokenOf, waitFor } from './peers.ts';
import { stow } from './stow.ts';

const EXAMPLE = join(REPO, 'examples', 'synthetic-ct-1.dcm');

/** A data directory whose log holds 8 ingest statements (size 8, checkpoint signed). */
async function logOfEight(): Promise<{ dataDir: string; logDir: string }> {
  const dataDir = tempDir();
  const described = await describeFile(EXAMPLE);
  const { log, signer, release } = openLogForWriting(dataDir);
  const items = Array.from({ length: 8 }, (_, i) => ({ described: { ...described, ids: { ...described.ids, sopInstanceUID: `${described.ids.sopInstanceUID}.${i}` } }, source: 'test' }));
  recordIngests(items, log, signer);
  assert.equal(log.checkpoint.body.size, 8);
  release();
  return { dataDir, logDir: logDirOf(dataDir) };
}

const lines = (path: string): string[] => readFileSync(path, 'utf8').split('\n').filter(Boolean);

function refused(dataDir: string, code: RegExp): void {
  const cp = runCli(['log', 'checkpoint', '--data-dir', dataDir]);
  assert.notEqual(cp.status, 0, 'log checkpoint must not sign');
  assert.match(cp.stderr, code);
  const v = runCli(['verify', EXAMPLE, '--data-dir', dataDir]);
  assert.notEqual(v.status, 0);
  assert.match(v.stderr, code);
}

test('log insider: truncated to 5 entries with the checkpoint files deleted, the log is not signed again (LOG_ROLLBACK)', async () => {
  const { dataDir, logDir } = await logOfEight();
  for (const f of ['checkpoint', 'verifier-checkpoint']) rmSync(join(logDir, f), { force: true });
  truncateSync(join(logDir, 'entries'), 5 * 32);
  writeFileSync(join(logDir, 'statements.jsonl'), lines(join(logDir, 'statements.jsonl')).slice(0, 5).map((l) => `${l}\n`).join(''));
  refused(dataDir, /LOG_ROLLBACK: the log was rolled back: it holds 5 entries, but a checkpoint for 8 was published/);
});

test('log insider: the log directory deleted, no new empty log is started under the same key (LOG_ROLLBACK)', async () => {
  const { dataDir, logDir } = await logOfEight();
  rmSync(logDir, { recursive: true });
  refused(dataDir, /LOG_ROLLBACK: the log was rolled back: it holds 0 entries/);
});

test('log insider: an edited statement stops the log before a checkpoint is signed (LOG_CORRUPT)', async () => {
  const { dataDir, logDir } = await logOfEight();
  const path = join(logDir, 'statements.jsonl');
  const all = lines(path);
  all[3] = all[3]!.replace('"source":"test"', '"source":"elsewhere"');
  writeFileSync(path, all.map((l) => `${l}\n`).join(''));
  refused(dataDir, /LOG_CORRUPT: the statement of entry 3 does not match its entry: it was edited/);
});

test('log insider: a statement line copied to a new entry is refused (LOG_CORRUPT)', async () => {
  const { dataDir, logDir } = await logOfEight();
  const path = join(logDir, 'statements.jsonl');
  const copy = JSON.parse(lines(path)[2]!) as { index: number };
  copy.index = 8;
  appendFileSync(path, JSON.stringify(copy) + '\n');
  refused(dataDir, /LOG_CORRUPT: the statement of entry 8 is a copy of entry 2's/);
});

test('log insider: a log from before the published record was kept adopts its checkpoint, and an untouched log opens', async () => {
  const { dataDir } = await logOfEight();
  rmSync(join(dataDir, 'keys', 'log-checkpoint'));
  assert.equal(runCli(['log', 'checkpoint', '--data-dir', dataDir]).status, 0);
  assert.match(readFileSync(join(dataDir, 'keys', 'log-checkpoint'), 'utf8'), /\n8\n/);
  assert.equal(runCli(["verify", EXAMPLE, "--data-dir", dataDir]).status, 0);
});

test('log insider, gateway: the log directory and the copy beside the key deleted, the database\'s copy stops the gateway (LOG_ROLLBACK)', async () => {
  const dataDir = join(tempDir('custos-ins-'), 'data');
  const config = () => parseGatewayConfig({ dimse: { port: 0 }, http: { port: 0 } });
  const gw = await startGateway(config(), dataDir);
  assert.equal(await stow(gw.http.url, [readFileSync(EXAMPLE)], tokenOf(gw.dataDir)), 200);
  await waitFor('the instance to be logged', async () => (await gw.db.query('SELECT 1 FROM instances WHERE log_index IS NOT NULL')).length > 0 || undefined);
  await gw.close();
  rmSync(logDirOf(dataDir), { recursive: true });
  rmSync(join(dataDir, 'keys', 'log-checkpoint'));
  await assert.rejects(startGateway(config(), dataDir), (e: Error & { code?: string }) => e.code === 'LOG_ROLLBACK' && /recorded in the database/.test(e.message));
});
