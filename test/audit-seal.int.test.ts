/**
 * The audit trail cannot be quietly edited: its records are sealed in batches into the integrity
 * log, and `custos audit verify` recomputes every seal from the database. Editing or deleting a
 * record, or a seal, afterwards is reported.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseGatewayConfig } from '../src/config/gateway-config.ts';
import { startGateway } from '../src/gateway.ts';
import { openDatabase } from '../src/store/database.ts';
import { runCli, tempDir } from './helpers.ts';
import { api, waitFor } from './peers.ts';

test('custos audit verify finds the trail intact, then every edit, deletion and missing seal', { timeout: 120_000 }, async () => {
  const dataDir = join(tempDir('custos-audit-'), 'data');
  const gw = await startGateway(parseGatewayConfig({ dimse: { port: 0 }, http: { port: 0 }, audit: { sealSeconds: 0.2 } }), dataDir);
  try {
    // Audited events: credentials issued, failed sign-ins, reads.
    for (let i = 0; i < 5; i++) {
      const res = await api(gw)(`${gw.http.url}/api/tokens`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: `t${i}`, role: 'auditor', expiresInDays: 1 }) });
      assert.equal(res.status, 201);
      await fetch(`${gw.http.url}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'nobody', password: 'wrong password' }) });
    }
    // Sealed while the gateway runs (events older than the settling time).
    await waitFor('a seal', async () => ((await gw.db.query('SELECT 1 FROM audit_seals LIMIT 1')).length ? true : undefined), 20_000, 200);
  } finally {
    await gw.close(); // seals the rest
  }
  const verify = () => runCli(['audit', 'verify', '--data-dir', dataDir]);
  let r = verify();
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^intact: \d+ event\(s\) in \d+ seal\(s\) checked against the log; 0 not sealed yet/m);

  const tamper = async (sql: string): Promise<void> => {
    const db = await openDatabase({ dir: join(dataDir, 'db') });
    try { await db.query(sql); } finally { await db.close(); }
  };
  await tamper(`UPDATE events SET detail = '{"by": "someone else"}'::jsonb WHERE id = (SELECT min(id) FROM events WHERE kind = 'auth.token-created')`);
  r = verify();
  assert.equal(r.status, 1, r.stdout);
  assert.match(r.stdout, /AUDIT_CHANGED: events \d+–\d+ \(seal \d+, log entry \d+\): one or more changed/);
  assert.match(r.stdout, /^TAMPERED/m);

  await tamper(`DELETE FROM events WHERE id = (SELECT max(id) FROM events WHERE kind = 'auth.login-failed')`);
  r = verify();
  assert.equal(r.status, 1);
  assert.match(r.stdout, /deleted since they were sealed|changed since they were sealed/);

  await tamper('DELETE FROM audit_seals WHERE seq = 1');
  r = verify();
  assert.match(r.stdout, /AUDIT_SEAL_MISSING: seal 1/);
});
