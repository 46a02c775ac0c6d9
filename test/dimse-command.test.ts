/** DIMSE command sets encoded and decoded by hand (PS3.7 E.1) are what the library's general encoder and decoder make of them. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import dimse from 'dcmjs-dimse';
import { decodeCommandSet, encodeCommandSet } from '../src/net/dimse-command.ts';

const { requests, responses, Dataset } = dimse;
// This file does not import dimse-lib.ts, so the library's own encoder is still in place here.
const library = (c: { getCommandDataset(): InstanceType<typeof Dataset> }): Buffer => c.getCommandDataset().getDenaturalizedCommandDataset();
const ours = (c: { getCommandDataset(): InstanceType<typeof Dataset> }): Buffer | undefined => encodeCommandSet(c.getCommandDataset().getElements());

/** C-STORE and C-ECHO requests and responses as the gateway sends and receives them (with and without an Error Comment). */
function sampleCommands() {
  const rq = new requests.CStoreRequest(new Dataset({ SOPClassUID: '1.2.840.10008.5.1.4.1.1.2', SOPInstanceUID: '2.25.123' }));
  rq.setMessageId(7);
  const ok = responses.CStoreResponse.fromRequest(rq);
  ok.setStatus(0);
  const refused = responses.CStoreResponse.fromRequest(rq);
  refused.setStatus(0xa700);
  refused.setErrorComment('INSTANCE_TOO_LARGE: odd');
  const warned = responses.CStoreResponse.fromRequest(rq);
  warned.setStatus(0xb007);
  warned.setErrorComment('  padded  ');
  const echo = new requests.CEchoRequest();
  echo.setMessageId(65535);
  const echoed = responses.CEchoResponse.fromRequest(echo);
  echoed.setStatus(0);
  return [rq, ok, refused, warned, echo, echoed];
}

test('C-STORE and C-ECHO requests and responses encode exactly as the library does', () => {
  for (const c of sampleCommands()) {
    const mine = ours(c);
    assert.ok(mine, `encoded ${c.toString()}`);
    assert.equal(mine.toString('hex'), library(c).toString('hex'), c.toString());
    assert.equal(mine.readUInt32LE(8), mine.length - 12, 'Command Group Length counts what follows it');
  }
});

test('what the table does not know is left to the library', () => {
  assert.equal(encodeCommandSet({ CommandField: 1, SomethingElse: 'x' }), undefined);
  assert.equal(encodeCommandSet({ CommandField: 70000 }), undefined);
  assert.equal(encodeCommandSet({ AffectedSOPClassUID: 12 }), undefined);
});

test('command sets decode exactly as the library decodes them', () => {
  for (const c of sampleCommands()) {
    const bytes = library(c);
    assert.deepEqual(decodeCommandSet(bytes), new Dataset(bytes).getElements(), c.toString());
  }
});

test('what the decoder does not know is left to the library', () => {
  const bytes = library(new requests.CEchoRequest());
  const unknown = Buffer.from(bytes);
  unknown.writeUInt16LE(0x0999, 14); // an element outside the table
  assert.equal(decodeCommandSet(unknown), undefined);
  assert.equal(decodeCommandSet(bytes.subarray(0, bytes.length - 1)), undefined, 'truncated');
  const dataset = Buffer.from([0x08, 0x00, 0x60, 0x00, 0x02, 0x00, 0x00, 0x00, 0x43, 0x54]); // (0008,0060) CT
  assert.equal(decodeCommandSet(dataset), undefined, 'not a command set');
});
