/**
 * Witnesses (c2sp.org/tlog-witness, tlog-cosignature): `custos witness serve` cosigns a log's
 * checkpoints only while the log only grows; a fork of the log (same key, other entries) and a
 * rolled-back copy are refused; `custos verify --witness … --quorum N` rejects a checkpoint without
 * the quorum. Real processes on 127.0.0.1; synthetic data only.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { cpSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { describeFile } from '../src/pipeline/integrity.ts';
import { recordIngests } from '../src/pipeline/record-derivations.ts';
import { openLogForWriting } from '../src/store/open-log.ts';
import { REPO, runCli, tempDir } from './helpers.ts';
import { waitFor } from './peers.ts';

const EXAMPLE = join(REPO, 'examples', 'synthetic-ct-1.dcm');

/** Append `count` ingest statements (SOP UIDs suffixed `.tag.i`) to a data directory's log. */
async function grow(dataDir: string, count: number, tag: string): Promise<number> {
  const described = await describeFile(EXAMPLE);
  const { log, signer, release } = openLogForWriting(dataDir);
  try {
    recordIngests(Array.from({ length: count }, (_, i) => ({ described: { ...described, ids: { ...described.ids, sopInstanceUID: `${described.ids.sopInstanceUID}.${tag}.${i}` } }, source: 'test' })), log, signer);
    return log.checkpoint.body.size;
  } finally { release(); }
}

const work = tempDir('custos-witness-');
const site = join(work, 'site');
let witness: ChildProcess;
let url = '';
let wkey = '';
let logKey = '';

before(async () => {
  // The original is an ingest of the example itself (so that verify finds it authentic), then 4 more.
  assert.equal(runCli(['sign', EXAMPLE, '--data-dir', site]).status, 0);
  await grow(site, 4, 'a');
  logKey = runCli(['log', 'key', '--data-dir', site]).stdout.trim();
  witness = spawn(process.execPath, [join(REPO, 'bin', 'custos.js'), 'witness', 'serve', '--dir', join(work, 'w1'), '--name', 'witness.test/w1', '--log-key', logKey, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  witness.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  witness.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
  [url, wkey] = await waitFor('the witness to start', () => {
    const u = /custos witness: (http:\/\/\S+)\/add-checkpoint/.exec(out)?.[1];
    const k = /witness key: (\S+)/.exec(out)?.[1];
    return u && k ? [u, k] : undefined;
  });
});
after(() => { witness?.kill(); });

const cosign = (dataDir: string) => runCli(['log', 'cosign', '--witness', `${wkey}@${url}`, '--data-dir', dataDir]);

test('witness: a growing log is cosigned, and verify with a quorum of that witness accepts it', async () => {
  const r = cosign(site);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /cosigned {2}witness\.test\/w1: size 6/);
  const note = readFileSync(join(site, 'log', 'cosigned-checkpoint'), 'utf8');
  assert.match(note, /\n\u2014 witness\.test\/w1 /);
  const v = runCli(['verify', EXAMPLE, '--witness', wkey, '--data-dir', site]);
  assert.equal(v.status, 0, v.stdout + v.stderr);
  assert.match(v.stdout, /^authentic/);
  // Grown and cosigned again: the witness takes the consistency proof from size 6.
  await grow(site, 2, 'b');
  assert.equal(cosign(site).status, 0);
  assert.match(readFileSync(join(site, 'log', 'cosigned-checkpoint'), 'utf8'), /\n8\n/);
});

test('witness quorum: a checkpoint without the required cosignatures is rejected (WITNESS_QUORUM)', () => {
  const other = runCli(['witness', 'key', '--dir', join(work, 'w2'), '--name', 'witness.test/w2']).stdout.trim();
  const two = runCli(['verify', EXAMPLE, '--witness', wkey, '--witness', other, '--data-dir', site]);
  assert.equal(two.status, 1);
  assert.match(two.stderr, /WITNESS_QUORUM: .*1 valid cosignature\(s\) of the 2 witness\(es\) given, 2 required/);
  assert.equal(runCli(['verify', EXAMPLE, '--witness', wkey, '--witness', other, '--quorum', '1', '--data-dir', site]).status, 0);
  // A data directory whose checkpoints were never witnessed.
  const lone = join(work, 'lone');
  assert.equal(runCli(['sign', EXAMPLE, '--data-dir', lone]).status, 0);
  const none = runCli(['verify', EXAMPLE, '--witness', wkey, '--data-dir', lone]);
  assert.equal(none.status, 1);
  assert.match(none.stderr, /WITNESS_QUORUM/);
  // A checkpoint given with --checkpoint that carries no cosignature.
  const plain = join(work, 'plain-checkpoint');
  cpSync(join(site, 'keys', 'log-checkpoint'), plain);
  assert.match(runCli(['verify', EXAMPLE, '--witness', wkey, '--checkpoint', plain, '--data-dir', site]).stderr, /WITNESS_QUORUM/);
});

test('witness refuses a rolled-back copy, a split view and an inconsistent fork; the evidence is kept', async () => {
  // A copy of the site taken at size 8, then the site grows to 10 and is cosigned.
  const fork = join(work, 'fork');
  cpSync(site, fork, { recursive: true });
  await grow(site, 2, 'c');
  assert.equal(cosign(site).status, 0);
  // The copy is behind what the witness cosigned: rolled back.
  const behind = cosign(fork);
  assert.equal(behind.status, 1);
  assert.match(behind.stdout + behind.stderr, /LOG_ROLLBACK: witness witness\.test\/w1 cosigned a tree of 10 entries; this log has 8/);
  // The copy grows to 10 with other entries: the same size, another root.
  await grow(fork, 2, 'forked');
  const split = cosign(fork);
  assert.equal(split.status, 1);
  assert.match(split.stdout + split.stderr, /WITNESS_SPLIT_VIEW/);
  // And past it: not consistent with what the witness cosigned.
  await grow(fork, 1, 'forked-more');
  const inconsistent = cosign(fork);
  assert.equal(inconsistent.status, 1);
  assert.match(inconsistent.stdout + inconsistent.stderr, /WITNESS_INCONSISTENT/);
  const evidence = readFileSync(join(work, 'w1', 'evidence.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { kind: string });
  assert.deepEqual(evidence.map((e) => e.kind), ['split-view', 'inconsistent']);
  // The site itself is still cosigned.
  await grow(site, 1, 'd');
  assert.equal(cosign(site).status, 0);
  assert.ok(existsSync(join(work, 'w1', 'state.json')));
});

test('witness: a checkpoint of a log it does not follow is 404, one not signed by the log key 403, garbage 400', async () => {
  const stranger = join(work, 'stranger');
  assert.equal(runCli(['sign', EXAMPLE, '--data-dir', stranger]).status, 0);
  assert.match(cosign(stranger).stdout, /WITNESS_UNKNOWN_LOG/);
  const garbage = await fetch(`${url}/add-checkpoint`, { method: 'POST', body: 'nonsense' });
  assert.equal(garbage.status, 400);
  // The site's checkpoint text with a signature by another key under the log's name.
  const note = readFileSync(join(site, 'keys', 'log-checkpoint'), 'utf8');
  const forged = note.replace(/(\u2014 \S+ )(\S+)/, (_m, head: string, sig: string) => head + Buffer.from(Buffer.from(sig, 'base64').map((b, i) => (i > 4 ? b ^ 1 : b))).toString('base64'));
  const res = await fetch(`${url}/add-checkpoint`, { method: 'POST', body: `old 0\n\n${forged}` });
  assert.equal(res.status, 403);
});

test('gateway: each new checkpoint is submitted to its witnesses; cosignatures kept in the database and log/cosigned-checkpoint, status in /api/witnesses', { timeout: 120_000 }, async () => {
  const { parseGatewayConfig } = await import('../src/config/gateway-config.ts');
  const { startGateway } = await import('../src/gateway.ts');
  const { stow } = await import('./stow.ts');
  const { tokenOf, authed } = await import('./peers.ts');
  const gwDir = join(work, 'gw');
  const gwLogKey = runCli(['log', 'key', '--data-dir', gwDir]).stdout.trim();
  const w3 = spawn(process.execPath, [join(REPO, 'bin', 'custos.js'), 'witness', 'serve', '--dir', join(work, 'w3'), '--name', 'witness.test/w3', '--log-key', gwLogKey, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  w3.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  try {
    const [w3url, w3key] = await waitFor('the witness to start', () => {
      const u = /custos witness: (http:\/\/\S+)\/add-checkpoint/.exec(out)?.[1];
      const k = /witness key: (\S+)/.exec(out)?.[1];
      return u && k ? [u, k] as const : undefined;
    });
    const gw = await startGateway(parseGatewayConfig({ dimse: { port: 0 }, http: { port: 0 }, witnessing: { witnesses: [{ url: w3url, key: w3key }], intervalSeconds: 1 } }), gwDir);
    try {
      assert.equal(await stow(gw.http.url, [readFileSync(EXAMPLE)], tokenOf(gwDir)), 200);
      const api = authed(tokenOf(gwDir));
      type Status = { witness: string; cosignedSize: number | null; lastError: unknown };
      const status = await waitFor('the instance to be witnessed', async () => {
        const [logged] = await gw.db.query<{ n: number }>('SELECT max(log_index)::int AS n FROM instances');
        const s = ((await (await api(`${gw.http.url}/api/witnesses`)).json()) as Status[])[0];
        return logged?.n !== null && logged?.n !== undefined && s && (s.cosignedSize ?? 0) > logged.n ? s : undefined;
      }, 30_000);
      assert.equal(status.witness, 'witness.test/w3');
      assert.equal(status.lastError, null);
      const rows = await gw.db.query<{ witness: string }>('SELECT witness FROM log_cosignatures');
      assert.ok(rows.some((r) => r.witness === 'witness.test/w3'));
      const v = runCli(['verify', EXAMPLE, '--witness', w3key, '--data-dir', gwDir]);
      assert.equal(v.status, 0, v.stdout + v.stderr);
      assert.match(v.stdout, /^authentic/);
      assert.equal((await fetch(`${gw.http.url}/api/witnesses`)).status, 401, 'deny by default');
    } finally { await gw.close(); }
  } finally { w3.kill(); }
});
