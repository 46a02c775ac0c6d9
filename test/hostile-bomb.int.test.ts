/**
 * A deflate bomb (about 2 MB that inflates to 2 GiB) is refused at once with DICOM_INFLATE_LIMIT,
 * by the gateway (STOW-RS; DIMSE goes through the same ingest) and by `custos deid`, with memory bounded by the limit, not by
 * the bomb. This file runs in a process of its own, so its peak memory is the gateway's.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parseGatewayConfig } from '../src/config/gateway-config.ts';
import { type Gateway, startGateway } from '../src/gateway.ts';
import { encodeMultipart } from '../src/net/multipart.ts';
import { REPO, runCli, tempDir } from './helpers.ts';
import { api } from './peers.ts';

const work = tempDir('custos-bomb-');
let gw: Gateway;
let bomb: Buffer;
let bombFile: string;

before(async () => {
  // Made in a child process, so that this process's peak memory is the gateway's own.
  bombFile = join(work, 'bomb.dcm');
  execFileSync(process.execPath, ['--input-type=module', '-e', `import { deflateBomb } from ${JSON.stringify(join(REPO, 'test', 'bombs.ts'))}; import { writeFileSync } from 'node:fs'; writeFileSync(${JSON.stringify(bombFile)}, await deflateBomb());`]);
  bomb = readFileSync(bombFile);
  gw = await startGateway(parseGatewayConfig({ dimse: { port: 0 }, http: { port: 0 } }), join(work, 'data'));
});
after(async () => { await gw?.close(); });

const peakMiB = (): number => process.resourceUsage().maxRSS / 1024;

test('STOW-RS of a deflate bomb is refused at once with DICOM_INFLATE_LIMIT, memory bounded', { timeout: 120_000 }, async () => {
  assert.ok(bomb.length < 4 << 20, `the bomb is ${bomb.length} bytes`);
  const before = peakMiB();
  const started = Date.now();
  const { parts, contentType } = encodeMultipart([bomb], 'application/dicom');
  const res = await api(gw)(`${gw.http.url}/dicomweb/studies`, { method: 'POST', headers: { 'content-type': contentType }, body: Buffer.concat(parts) });
  const body = (await res.json()) as Record<string, { Value: Array<Record<string, { Value: unknown[] }>> }>;
  assert.equal(res.status, 409);
  const failed = body['00081198']!.Value[0]!;
  assert.equal(failed['00081197']!.Value[0], 0xc000);
  assert.match(String(failed['00000902']!.Value[0]), /^DICOM_INFLATE_LIMIT/);

  const seconds = (Date.now() - started) / 1000;
  assert.ok(seconds < 15, `refusing took ${seconds} s`);
  const grew = peakMiB() - before;
  assert.ok(grew < 512, `peak memory grew by ${grew.toFixed(0)} MiB`);
  const q = await gw.db.query<{ code: string }>('SELECT code FROM quarantine');
  assert.deepEqual(q.map((r) => r.code), ['DICOM_INFLATE_LIMIT']);
  const [n] = await gw.db.query<{ n: number }>('SELECT count(*)::int AS n FROM instances');
  assert.equal(n!.n, 0, 'a bomb was stored');
});

test('custos deid refuses the bomb with DICOM_INFLATE_LIMIT, quickly', { timeout: 120_000 }, () => {
  const started = Date.now();
  const r = runCli(['deid', bombFile, '--out', join(work, 'out'), '--data-dir', join(work, 'cli')]);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /DICOM_INFLATE_LIMIT/);
  assert.ok((Date.now() - started) / 1000 < 20);
});
