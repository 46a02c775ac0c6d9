/** DIMSE command sets encoded by hand (PS3.7 E.1) are byte for byte what the library's general encoder writes. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import dimse from 'dcmjs-dimse';
import { encodeCommandSet } from '../src/net/dimse-command.ts';

const { requests, responses, Dataset } = dimse;
// This file does not import dimse-lib.ts, so the library's own encoder is still in place here.
const library = (c: { getCommandDataset(): InstanceType<typeof Dataset> }): Buffer => c.getCommandDataset().getDenaturalizedCommandDataset();
const ours = (c: { getCommandDataset(): InstanceType<typeof Dataset> }): Buffer | undefined => encodeCommandSet(c.getCommandDataset().getElements());

test('C-STORE and C-ECHO requests and responses encode exactly as the library does', () => {
  const rq = new requests.CStoreRequest(new Dataset({ SOPClassUID: '1.2.840.10008.5.1.4.1.1.2', SOPInstanceUID: '2.25.123' }));
  rq.setMessageId(7);
  const ok = responses.CStoreResponse.fromRequest(rq);
  ok.setStatus(0);
  const refused = responses.CStoreResponse.fromRequest(rq);
  refused.setStatus(0xa700);
  refused.setErrorComment('INSTANCE_TOO_LARGE: odd');
  const echo = new requests.CEchoRequest();
  echo.setMessageId(65535);
  const echoed = responses.CEchoResponse.fromRequest(echo);
  echoed.setStatus(0);
  for (const c of [rq, ok, refused, echo, echoed]) {
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
