/**
 * Export of the audit trail to the hospital's audit repository: DICOM audit messages (PS3.15 A.5)
 * over syslog on TLS (RFC 5425) to a real rsyslog started here. Every record arrives once, in
 * order, including those recorded while the repository was down.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parseGatewayConfig } from '../src/config/gateway-config.ts';
import { type Gateway, startGateway } from '../src/gateway.ts';
import { tempDir } from './helpers.ts';
import { api, freePort, waitFor } from './peers.ts';
import { makePki } from './pki.ts';
import { type Rsyslog, startRsyslog } from './syslog.ts';

const work = tempDir('custos-syslog-');
let gw: Gateway;
let rsyslog: Rsyslog | undefined;
let port: number;
const pki = makePki(join(work, 'pki'));

before(async () => {
  port = await freePort();
  rsyslog = await startRsyslog(join(work, 'rsyslog'), pki, port);
  gw = await startGateway(parseGatewayConfig({ dimse: { port: 0 }, http: { port: 0 }, audit: { syslog: { host: '127.0.0.1', port, caFile: pki.ca, intervalSeconds: 0.2 } } }), join(work, 'data'));
});
after(async () => { await gw?.close(); await rsyslog?.stop(); });

/** What the repository received: per audit record id, its messages. */
function received(): Map<number, string[]> {
  const out = new Map<number, string[]>();
  const file = join(work, 'rsyslog', 'received.log');
  if (!existsSync(file)) return out;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^custos-(\d+) (.*)$/.exec(line);
    if (m) out.set(Number(m[1]), [...(out.get(Number(m[1])) ?? []), m[2]!]);
  }
  return out;
}
const recordIds = async (): Promise<number[]> => (await gw.db.query<{ id: number }>('SELECT id FROM events ORDER BY id')).map((r) => Number(r.id));
const someEvents = async (n: number, tag: string): Promise<void> => {
  for (let i = 0; i < n; i++) {
    const res = await api(gw)(`${gw.http.url}/api/tokens`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: `${tag}-${i}`, role: 'auditor', expiresInDays: 1 }) });
    assert.equal(res.status, 201);
  }
};

test('every audit record reaches the repository once, as a well-formed DICOM audit message', async () => {
  await someEvents(3, 'first');
  const ids = await recordIds();
  const got = await waitFor('the records at the repository', () => { const r = received(); return ids.every((id) => r.has(id)) ? r : undefined; }, 20_000, 100);
  for (const id of ids) assert.equal(got.get(id)!.length, 1, `record ${id} once`);
  const msg = got.get(ids[ids.length - 1]!)![0]!;
  assert.match(msg, /^<\?xml version="1\.0" encoding="UTF-8"\?><AuditMessage><EventIdentification EventActionCode="C" EventDateTime="[^"]+" EventOutcomeIndicator="0"><EventID csd_code="110137" codeSystemName="DCM"/);
  assert.match(msg, /<ActiveParticipant UserID="token:[^"]+" UserIsRequestor="true">/);
  assert.match(msg, /<AuditSourceIdentification AuditSourceID="custos:CUSTOS">/);
  execFileSync('python3', ['-c', 'import sys, xml.dom.minidom; xml.dom.minidom.parseString(sys.stdin.read())'], { input: msg }); // well-formed
});

test('records made while the repository is down are sent once it is back: nothing lost, nothing twice', async () => {
  await rsyslog!.stop();
  rsyslog = undefined;
  await someEvents(4, 'during-outage');
  await new Promise((r) => setTimeout(r, 1500)); // the exporter tries, and fails, meanwhile
  rsyslog = await startRsyslog(join(work, 'rsyslog'), pki, port);
  const ids = await recordIds();
  const got = await waitFor('every record at the repository', () => { const r = received(); return ids.every((id) => r.has(id)) ? r : undefined; }, 30_000, 100);
  for (const id of ids) assert.equal(got.get(id)!.length, 1, `record ${id} exactly once`);
  assert.deepEqual([...got.keys()].sort((a, b) => a - b), ids, 'nothing else');
});
