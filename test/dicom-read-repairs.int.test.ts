/**
 * What real devices write and PS3.5 lets a reader repair: elements out of order (sorted, recorded as
 * DICOM_ELEMENTS_OUT_OF_ORDER), odd value lengths (padded), standard attributes sent as UN (given
 * their dictionary VR). The batch tool and the gateway read them alike; two elements with one tag are
 * refused by both (DICOM_DUPLICATE_ELEMENT). Built from pydicom's CT_small.dcm; dcmtk reads each.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parseGatewayConfig } from '../src/config/gateway-config.ts';
import { BufferSource } from '../src/dicom/byte-source.ts';
import { findElement } from '../src/dicom/dataset.ts';
import { readDicom } from '../src/dicom/read.ts';
import { Tags } from '../src/dicom/tag.ts';
import { encodePart10 } from '../src/dicom/write.ts';
import { type Gateway, startGateway } from '../src/gateway.ts';
import { PYDICOM, dcmdump, runCli, tempDir } from './helpers.ts';
import { stow } from './stow.ts';
import { tokenOf } from './peers.ts';

const dir = tempDir('custos-repairs-');
const original = readFileSync(join(PYDICOM, 'CT_small.dcm'));

/** CT_small.dcm re-encoded with its elements in the order `arrange` gives them. */
function variant(name: string, arrange: (els: ReturnType<typeof readDicom>['dataset']['elements']) => void): string {
  const src = new BufferSource(original);
  const f = readDicom(src);
  arrange(f.dataset.elements);
  const path = join(dir, name);
  writeFileSync(path, Buffer.concat(encodePart10(f.meta, f.dataset, f.transferSyntax, src).map((c) => (Buffer.isBuffer(c) ? c : src.read(c.offset, c.length)))));
  return path;
}
const swapped = variant('out-of-order.dcm', (els) => {
  const i = els.findIndex((e) => e.tag === Tags.Modality);
  const j = els.findIndex((e) => e.tag === Tags.StudyInstanceUID);
  assert.ok(i >= 0 && j >= 0);
  [els[i], els[j]] = [els[j]!, els[i]!];
});
const duplicated = variant('duplicate.dcm', (els) => {
  const i = els.findIndex((e) => e.tag === Tags.Modality);
  els.splice(i + 1, 0, { ...els[i]! });
});
const unAndOdd = variant('un-odd.dcm', (els) => {
  const i = els.findIndex((e) => e.tag === 0x00180050); // Slice Thickness (DS), sent as UN
  els[i] = { ...els[i]!, vr: 'UN' };
  const m = els.findIndex((e) => e.tag === 0x00080070); // Manufacturer
  assert.ok(i >= 0 && m >= 0);
  const k = els.findIndex((e) => e.tag === Tags.SOPInstanceUID); // an instance of its own
  els[k] = { ...els[k]!, value: Buffer.from('1.2.826.0.1.3680043.9.7433.99.3\0', 'latin1') };
  els[m] = { ...els[m]!, value: Buffer.from('ODD', 'latin1') }; // a 3-byte value: PS3.5 7.1.1 wants even lengths
});

test('dcmtk reads the odd files (so Custos should too)', () => {
  for (const f of [swapped, unAndOdd]) assert.match(dcmdump(f), /\(0008,0060\) CS \[CT\]/);
});

test('elements out of order are sorted and recorded, not refused as DICOM_BAD_LENGTH; a duplicate tag is refused', () => {
  const f = readDicom(new BufferSource(readFileSync(swapped)));
  const tags = f.dataset.elements.map((e) => e.tag);
  assert.deepEqual(tags, [...tags].sort((a, b) => a - b));
  assert.deepEqual(f.warnings?.map((w) => w.code), ['DICOM_ELEMENTS_OUT_OF_ORDER']);
  assert.throws(() => readDicom(new BufferSource(readFileSync(duplicated))), { code: 'DICOM_DUPLICATE_ELEMENT' });
  const u = readDicom(new BufferSource(readFileSync(unAndOdd)));
  assert.equal(findElement(u.dataset, 0x00180050)!.vr, 'DS');
  assert.deepEqual(u.warnings?.map((w) => w.code), ['DICOM_UN_RELABELLED']);
});

test('custos deid releases them valid (sorted, even lengths, dictionary VR) with the repair in the receipt, and refuses the duplicate', () => {
  const out = join(dir, 'out');
  const r = runCli(['deid', swapped, unAndOdd, duplicated, '--out', out]);
  assert.equal(r.status, 1, r.stdout + r.stderr); // the duplicate failed
  assert.match(r.stderr, /DICOM_DUPLICATE_ELEMENT/);
  type Outcome = { status: string; input: { sha256: string }; output?: { path: string }; warnings?: Array<{ code: string }>; error?: { code: string } };
  const receipt = JSON.parse(readFileSync(join(out, 'custos-receipt.json'), 'utf8')) as { instances: Outcome[] };
  const of = (path: string): Outcome => receipt.instances.find((i) => i.input.sha256 === createHash('sha256').update(readFileSync(path)).digest('hex'))!;
  const [a, b, c] = [of(swapped), of(unAndOdd), of(duplicated)];
  assert.equal(a!.status, 'released');
  assert.deepEqual(a!.warnings?.map((w) => w.code), ['DICOM_ELEMENTS_OUT_OF_ORDER']);
  assert.equal(b!.status, 'released');
  assert.deepEqual(b!.warnings?.map((w) => w.code), ['DICOM_UN_RELABELLED']);
  assert.equal(c!.error?.code, 'DICOM_DUPLICATE_ELEMENT');
  for (const o of [a!, b!]) {
    const path = join(out, o.output!.path);
    const log = execFileSync('dcmdump', ['-dc', path], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    assert.doesNotMatch(log, /W: |E: /);
    const f = readDicom(new BufferSource(readFileSync(path)));
    assert.equal(f.warnings, undefined, 'the output needs no repair');
    for (const e of f.dataset.elements) assert.equal((e.value?.length ?? 0) % 2, 0, `even length for ${e.tag.toString(16)}`);
  }
});

let gw: Gateway;
before(async () => { gw = await startGateway(parseGatewayConfig({ dimse: { port: 0 }, http: { port: 0 } }), join(dir, 'data')); });
after(async () => { await gw?.close(); });

test('the gateway stores an instance with elements out of order, recording the repair with its received event; the duplicate is quarantined', async () => {
  assert.equal(await stow(gw.http.url, [readFileSync(swapped)], tokenOf(gw.dataDir)), 200);
  const [ev] = await gw.db.query<{ detail: { warnings?: string[] } }>(`SELECT detail FROM events WHERE kind = 'instance.received' ORDER BY id DESC LIMIT 1`);
  assert.deepEqual(ev!.detail.warnings, ['DICOM_ELEMENTS_OUT_OF_ORDER']);
  assert.notEqual(await stow(gw.http.url, [readFileSync(duplicated)], tokenOf(gw.dataDir)), 200);
  const [q] = await gw.db.query<{ code: string }>('SELECT code FROM quarantine ORDER BY id DESC LIMIT 1');
  assert.equal(q!.code, 'DICOM_DUPLICATE_ELEMENT');
});
