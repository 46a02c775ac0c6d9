/** The gateway on a PostgreSQL server instead of embedded PGlite: same migrations, same behaviour. */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parseGatewayConfig } from '../src/config/gateway-config.ts';
import { startGateway } from '../src/gateway.ts';
import { encodeMultipart } from '../src/net/multipart.ts';
import { REPO, tempDir } from './helpers.ts';
import { api, freePort, tokenOf, waitFor } from './peers.ts';
import { type PgCluster, startPostgres } from './postgres.ts';
import { allowReleases } from './policy-helpers.ts';

let pg: PgCluster;
const work = tempDir('custos-pg-');
before(async () => { pg = await startPostgres(join(work, 'pg')); });
after(() => pg?.stop());

test('on a PostgreSQL server: instances are stored, jobs queued and dead-lettered, and survive a restart', async () => {
  const dead = await freePort();
  const config = parseGatewayConfig({
    dimse: { port: 0 }, http: { port: 0 }, database: { url: pg.url },
    forwarding: { maxAttempts: 2, initialBackoffMs: 50, maxBackoffMs: 100 },
    policy: { purposes: { TREATDS: 'opt-out' } },
    recipients: [{ id: 'offline', purpose: 'TREATDS', deliver: { kind: 'stow', url: `http://127.0.0.1:${dead}/dicomweb` } }],
    routes: [{ recipient: 'offline' }],
  });
  const dataDir = join(work, 'data');
  let gw = await startGateway(config, dataDir);
  await allowReleases(gw.http.url, tokenOf(gw.dataDir), ['offline'], ['TREATDS']);
  try {
    assert.equal(gw.db.kind, 'postgres');
    const files = readdirSync(join(REPO, 'examples')).filter((f) => f.endsWith('.dcm')).map((f) => readFileSync(join(REPO, 'examples', f)));
    const { parts, contentType } = encodeMultipart(files, 'application/dicom');
    const res = await api(gw)(`${gw.http.url}/dicomweb/studies`, { method: 'POST', headers: { 'content-type': contentType }, body: Buffer.concat(parts) });
    assert.equal(res.status, 200);
    await waitFor('jobs to be dead-lettered', async () => {
      const [r] = await gw.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM jobs WHERE state = 'dead'`);
      return r!.n === files.length ? true : undefined;
    }, 20_000);
    const [job] = await gw.db.query<{ last_error_code: string; attempts: number }>('SELECT last_error_code, attempts FROM jobs LIMIT 1');
    assert.deepEqual({ code: job!.last_error_code, attempts: job!.attempts }, { code: 'STOW_FAILED', attempts: 2 });
  } finally {
    await gw.close();
  }
  gw = await startGateway(config, dataDir); // migrations are applied once; the data is still there
  try {
    const st = (await (await api(gw)(`${gw.http.url}/api/status`)).json()) as { instances: number; database: string; jobs: { dead: number } };
    assert.deepEqual({ instances: st.instances, database: st.database, dead: st.jobs.dead }, { instances: 3, database: 'postgres', dead: 3 });
  } finally {
    await gw.close();
  }
});
