import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { type RecordedInstance, judgeListed, missingFrom, sampled } from '../src/integrity/sweep-findings.ts';
import { parseDimseAddress, parseMode, parseSince } from '../src/cli/sweep-command.ts';

const rec = (sop: string, over: Partial<RecordedInstance> = {}): RecordedInstance => ({
  index: 7, kind: 'ingest', studyInstanceUID: '2.25.1', seriesInstanceUID: '2.25.2', sopInstanceUID: sop, sopClassUID: '1.2.840.10008.5.1.4.1.1.2', ...over,
});
const listed = (sop: string, over: Record<string, string> = {}) => ({ studyInstanceUID: '2.25.1', seriesInstanceUID: '2.25.2', sopInstanceUID: sop, sopClassUID: '1.2.840.10008.5.1.4.1.1.2', ...over });

test('sweep judgement: a recorded instance where it was recorded is checked by content', () => {
  const j = judgeListed(listed('2.25.3'), [rec('2.25.3')], { seriesRecorded: true, studyRecorded: true });
  assert.equal(j.status, 'check');
});

test('sweep judgement: never recorded is inserted in a recorded series or study, unknown elsewhere', () => {
  assert.equal(judgeListed(listed('2.25.9'), [], { seriesRecorded: true, studyRecorded: true }).status, 'inserted');
  const inStudy = judgeListed(listed('2.25.9', { seriesInstanceUID: '2.25.8' }), [], { seriesRecorded: false, studyRecorded: true });
  assert.equal(inStudy.status, 'inserted');
  assert.match((inStudy as { reason: string }).reason, /recorded study/);
  assert.equal(judgeListed(listed('2.25.9'), [], { seriesRecorded: false, studyRecorded: false }).status, 'unknown');
});

test('sweep judgement: a recorded instance moved to another series or SOP class is tampered (header) without a fetch', () => {
  const j = judgeListed(listed('2.25.3', { seriesInstanceUID: '2.25.5' }), [rec('2.25.3')], { seriesRecorded: false, studyRecorded: true });
  assert.equal(j.status, 'tampered');
  assert.match((j as { reason: string }).reason, /series/);
  const k = judgeListed(listed('2.25.3', { sopClassUID: '1.2.840.10008.5.1.4.1.1.7' }), [rec('2.25.3')], { seriesRecorded: true, studyRecorded: true });
  assert.match((k as { reason: string }).reason, /SOP class/);
});

test('sweep judgement: recorded instances of the study not listed are missing, each once', () => {
  const recorded = [rec('2.25.3', { index: 9 }), rec('2.25.3', { index: 4 }), rec('2.25.4'), rec('2.25.6', { studyInstanceUID: '2.25.99' })];
  const m = missingFrom('2.25.1', recorded, new Set(['2.25.4']));
  assert.deepEqual(m.map((f) => [f.status, f.sopInstanceUID, f.index]), [['missing', '2.25.3', 9]]);
});

test('sweep sampling: the share is met within a few percent, and the seed changes the choice', () => {
  const hash = (s: string): number => createHash('sha256').update(s).digest().readUInt32BE(0) / 2 ** 32;
  const uids = Array.from({ length: 4000 }, (_, i) => `2.25.${i}`);
  const a = uids.filter((u) => sampled(u, 0.1, 1, hash));
  const b = uids.filter((u) => sampled(u, 0.1, 2, hash));
  assert.ok(Math.abs(a.length - 400) < 60, `${a.length}`);
  assert.notDeepEqual(a, b);
  assert.equal(uids.filter((u) => sampled(u, 1, 1, hash)).length, 4000);
});

test('sweep arguments: DIMSE address, date and sampling are checked (USAGE)', () => {
  assert.deepEqual(parseDimseAddress('PACS@10.0.0.1:104'), { aeTitle: 'PACS', host: '10.0.0.1', port: 104 });
  for (const bad of ['PACS@host', '@h:1', 'PACS@h:70000', 'A_TITLE_LONGER_THAN_16@h:1']) assert.throws(() => parseDimseAddress(bad), { code: 'USAGE' });
  assert.equal(parseSince('2026-11-01'), '20261101');
  assert.throws(() => parseSince('yesterday'), { code: 'USAGE' });
  assert.deepEqual(parseMode('5%', false).kind, 'sample');
  assert.equal((parseMode('0.25', false) as { share: number }).share, 0.25);
  assert.throws(() => parseMode('0', false), { code: 'USAGE' });
  assert.throws(() => parseMode('0.1', true), { code: 'USAGE' });
  assert.equal(parseMode(undefined, true).kind, 'metadata');
});

test('originals (deid profile none) only to a recipient that treats the patient; sweep ids unique', async () => {
  const { parseGatewayConfig } = await import('../src/config/gateway-config.ts');
  const recipient = (purpose: string) => ({ id: 'pacs', purpose, deid: { profile: 'none' }, deliver: { kind: 'dimse', host: '127.0.0.1', port: 104, aeTitle: 'PACS' } });
  const policy = { purposes: { TREAT: 'opt-out', HRESCH: 'opt-in' } };
  assert.throws(() => parseGatewayConfig({ recipients: [recipient('HRESCH')], policy }), { code: 'CONFIG_INVALID', message: /TREAT/ });
  assert.equal(parseGatewayConfig({ recipients: [recipient('TREAT')], policy }).recipients[0]!.deid.profile, 'none');
  const sweep = { id: 's', source: { kind: 'dicomweb', url: 'http://127.0.0.1:8042/dicom-web' } };
  assert.equal(parseGatewayConfig({ sweeps: [sweep] }).sweeps[0]!.mode, 'sample');
  assert.throws(() => parseGatewayConfig({ sweeps: [sweep, sweep] }), { code: 'CONFIG_INVALID', message: /used twice/ });
});
