/**
 * The hostile-client run (bounded in time, 127.0.0.1 only): while attackers send malformed PDUs,
 * stall associations, hold idle connections, trickle STOW-RS uploads, and send deflate bombs and
 * 1,000-part junk requests, a good modality keeps sending with storescu. The gateway stays up, every
 * good instance is acknowledged within a few seconds, and the process's peak memory stays under
 * the bound stated in docs/security.md.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { type Socket, connect } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parseGatewayConfig } from '../src/config/gateway-config.ts';
import { type Gateway, startGateway } from '../src/gateway.ts';
import { encodeMultipart } from '../src/net/multipart.ts';
import { REPO, plant, tempDir } from './helpers.ts';
import { tokenOf } from './peers.ts';

/** The bound docs/security.md states for this run: peak RSS of the process holding the gateway. */
const MEMORY_BOUND_MIB = 2048;
const ATTACK_MS = 15_000;

const work = tempDir('custos-hostile-');
let gw: Gateway;
let bomb: Buffer;
before(async () => {
  const bombFile = join(work, 'bomb.dcm');
  execFileSync(process.execPath, ['--input-type=module', '-e', `import { deflateBomb } from ${JSON.stringify(join(REPO, 'test', 'bombs.ts'))}; import { writeFileSync } from 'node:fs'; writeFileSync(${JSON.stringify(bombFile)}, await deflateBomb());`]);
  bomb = readFileSync(bombFile);
  gw = await startGateway(parseGatewayConfig({
    dimse: { port: 0, maxAssociations: 32, maxAssociationsPerSource: 8, artimSeconds: 2, idleSeconds: 3 },
    http: { port: 0, minBytesPerSecond: 1024, slowRequestGraceSeconds: 2, idleSeconds: 3, maxStowParts: 100 },
  }), join(work, 'data'));
});
after(async () => { await gw?.close(); });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const connectFrom = (port: number, localAddress: string): Promise<Socket> => new Promise((resolve) => {
  const s = connect({ host: '127.0.0.1', port, localAddress });
  s.on('error', () => undefined);
  s.once('connect', () => resolve(s));
  s.once('error', () => resolve(s));
});
const storescu = (file: string): Promise<{ status: number; ms: number }> => new Promise((resolve) => {
  const t0 = Date.now();
  const p = spawn('storescu', ['-aet', 'MODALITY', '-aec', 'CUSTOS', '127.0.0.1', String(gw.dimse.port), file], { env: { ...process.env, TCP_NODELAY: '1' } });
  p.on('exit', (code) => resolve({ status: code ?? -1, ms: Date.now() - t0 }));
});

test('under attack, the gateway stays up, serves a good sender with normal latency, and stays under its memory bound', { timeout: 180_000 }, async () => {
  const goodDir = tempDir();
  let n = 0;
  const sendGood = async (): Promise<{ status: number; ms: number }> => {
    const file = plant(join(REPO, 'examples', 'synthetic-ct-1.dcm'), goodDir, `good-${n}.dcm`, { SOPInstanceUID: `2.25.777.${n}` });
    n++;
    return storescu(file);
  };
  // Normal latency first, with nobody attacking.
  const quiet: number[] = [];
  for (let i = 0; i < 3; i++) quiet.push((await sendGood()).ms);
  const token = tokenOf(gw.dataDir);
  const httpPort = Number(new URL(gw.http.url).port);
  const until = Date.now() + ATTACK_MS;
  const sockets: Socket[] = [];
  const counts = { idle: 0, malformed: 0, trickle: 0, bombs: 0, junk: 0 };

  const attackers = [
    // Idle DIMSE connections from several addresses, re-opened as the gateway closes them.
    (async () => { while (Date.now() < until) { for (const a of ['127.0.0.2', '127.0.0.3', '127.0.0.4']) { sockets.push(await connectFrom(gw.dimse.port, a)); counts.idle++; } await sleep(300); } })(),
    // Malformed PDUs: random bytes, impossible lengths, association requests cut short.
    (async () => {
      while (Date.now() < until) {
        const s = await connectFrom(gw.dimse.port, '127.0.0.5');
        const kind = counts.malformed % 3;
        const pdu = kind === 0 ? randomBytes(200) : kind === 1 ? Buffer.from([0x01, 0, 0xff, 0xff, 0xff, 0xff, 0, 1]) : Buffer.concat([Buffer.from([0x01, 0, 0, 0, 0, 0x44, 0, 1, 0, 0]), randomBytes(60)]);
        s.write(pdu);
        counts.malformed++;
        await sleep(50);
        s.destroy();
      }
    })(),
    // Slow-loris STOW-RS uploads.
    (async () => {
      while (Date.now() < until) {
        const s = await connectFrom(httpPort, '127.0.0.6');
        s.write(`POST /dicomweb/studies HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\nContent-Type: multipart/related; type="application/dicom"; boundary=x\r\nContent-Length: 100000000\r\n\r\n`);
        const drip = setInterval(() => { if (!s.destroyed) s.write('x'); else clearInterval(drip); }, 250);
        sockets.push(s);
        counts.trickle++;
        await sleep(1000);
      }
    })(),
    // Deflate bombs and 1,000-part junk requests over STOW-RS.
    (async () => {
      while (Date.now() < until) {
        const body = counts.bombs <= counts.junk ? [bomb] : Array.from({ length: 1000 }, (_, i) => Buffer.from(`junk ${i}`));
        const { parts, contentType } = encodeMultipart(body, 'application/dicom');
        const res = await fetch(`${gw.http.url}/dicomweb/studies`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': contentType }, body: Buffer.concat(parts) });
        await res.arrayBuffer();
        assert.ok(res.status === 409 || res.status === 413, `an attack request answered ${res.status}`);
        if (body.length === 1) counts.bombs++; else counts.junk++;
        await sleep(500);
      }
    })(),
  ];

  // The good modality: one instance at a time, each a new SOP Instance UID.
  const good: Array<{ status: number; ms: number }> = [];
  while (Date.now() < until) {
    good.push(await sendGood());
    await sleep(200);
  }
  await Promise.all(attackers);
  for (const s of sockets) s.destroy();

  assert.ok(good.length >= 10, `only ${good.length} good sends`);
  assert.deepEqual(good.filter((g) => g.status !== 0), [], 'a good instance was refused');
  const worst = Math.max(...good.map((g) => g.ms));
  assert.ok(worst < 5_000, `a good send took ${worst} ms`);
  const [stored] = await gw.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM instances WHERE sop_instance_uid LIKE '2.25.777.%'`);
  assert.equal(stored!.n, good.length + quiet.length);
  const peak = process.resourceUsage().maxRSS / 1024;
  assert.ok(peak < MEMORY_BOUND_MIB, `peak RSS ${peak.toFixed(0)} MiB`);
  assert.ok(counts.idle > 50 && counts.malformed > 50 && counts.trickle >= 10 && counts.bombs >= 3 && counts.junk >= 3, JSON.stringify(counts));
  const median = (v: number[]): number => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
  writeFileSync(join(work, 'result.json'), JSON.stringify({ counts, good: good.length, quietMedianMs: median(quiet), medianMs: median(good.map((g) => g.ms)), worstMs: worst, peakMiB: Math.round(peak) }));
  console.log(`hostile run: ${JSON.stringify(counts)}; ${good.length} good sends, median ${median(good.map((g) => g.ms))} ms (quiet: ${median(quiet)} ms), worst ${worst} ms; peak RSS ${peak.toFixed(0)} MiB`);
});
