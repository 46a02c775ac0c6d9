import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { cosign, cosignerKeyId, formatCosignerSkey, formatCosignerVkey, parseCosignerSkey, parseCosignerVkey, verifiedCosignatures } from '../src/integrity/cosignature.ts';
import { rawPublicKey } from '../src/integrity/ed25519.ts';
import { decideAddCheckpoint, formatAddCheckpoint, parseAddCheckpoint } from '../src/integrity/witness.ts';
import { MerkleTree } from '../src/integrity/merkle.ts';
import { formatCheckpoint } from '../src/integrity/checkpoint.ts';
import { formatVerifierKey, parseSignerKey, parseVerifierKey, signNote, formatSignerKey } from '../src/integrity/note.ts';

const TEXT = 'example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n';

test('cosignature/v1: key ID per c2sp.org/tlog-cosignature, blob = key ID || u64 time || Ed25519 over the spec message', () => {
  const w = parseCosignerSkey(formatCosignerSkey('witness.example/w1', randomBytes(32)));
  const pub = rawPublicKey(w.key);
  const expectedId = createHash('sha256').update('witness.example/w1\n').update(Buffer.of(0x04)).update(pub).digest().readUInt32BE(0);
  assert.equal(cosignerKeyId('witness.example/w1', pub), expectedId);
  const vkey = formatCosignerVkey(w.name, pub);
  assert.equal(Buffer.from(vkey.split('+')[2]!, 'base64')[0], 0x04);
  const line = cosign(TEXT, w, 1679315147);
  const blob = Buffer.from(line.split(' ')[2]!.trim(), 'base64');
  assert.equal(blob.length, 76);
  assert.equal(blob.readBigUInt64BE(4), 1679315147n);
  const ok = verifiedCosignatures(TEXT, [line], [parseCosignerVkey(vkey)]);
  assert.deepEqual(ok.map((c) => [c.witness, c.time]), [['witness.example/w1', 1679315147]]);
  // Over another checkpoint it fails loudly; from an unknown witness it is ignored.
  assert.throws(() => verifiedCosignatures(TEXT.replace('20852163', '20852164'), [line], [parseCosignerVkey(vkey)]), { code: 'NOTE_UNVERIFIED' });
  const other = parseCosignerSkey(formatCosignerSkey('witness.example/w2', randomBytes(32)));
  assert.deepEqual(verifiedCosignatures(TEXT, [line], [other]), []);
  // A log key (type 0x01) is not a witness key.
  assert.throws(() => parseCosignerVkey(formatVerifierKey('log.example', pub)), { code: 'KEY_INVALID' });
});

test('add-checkpoint: body round trip, and the witness decisions (200, 409 size and split view, 422, 404, 403, 400)', () => {
  const skey = formatSignerKey('log.example/test', randomBytes(32));
  const signer = parseSignerKey(skey);
  const verifier = parseVerifierKey(formatVerifierKey(signer.name, rawPublicKey(signer.key)));
  const tree = new MerkleTree();
  const noteAt = (t: MerkleTree) => signNote(formatCheckpoint({ origin: signer.name, size: t.size, root: t.root(), extensions: [] }), signer);
  for (let i = 0; i < 5; i++) tree.appendData(Buffer.from(`leaf ${i}`));
  const n5 = noteAt(tree);
  const body = formatAddCheckpoint(0, [], n5);
  assert.deepEqual(parseAddCheckpoint(body), { oldSize: 0, proof: [], note: n5 });
  assert.equal(decideAddCheckpoint(parseAddCheckpoint(body), [verifier], () => undefined).status, 200);
  const held = { size: 5, root: tree.root().toString('base64'), note: n5 };
  for (let i = 5; i < 9; i++) tree.appendData(Buffer.from(`leaf ${i}`));
  const n9 = noteAt(tree);
  assert.equal(decideAddCheckpoint({ oldSize: 5, proof: tree.consistencyProof(5, 9), note: n9 }, [verifier], () => held).status, 200);
  assert.deepEqual(decideAddCheckpoint({ oldSize: 3, proof: tree.consistencyProof(3, 9), note: n9 }, [verifier], () => held), { status: 409, size: 5, splitView: false, message: 'this witness last cosigned size 5' });
  const fork = new MerkleTree();
  for (let i = 0; i < 5; i++) fork.appendData(Buffer.from(`other ${i}`));
  assert.equal((decideAddCheckpoint({ oldSize: 5, proof: [], note: noteAt(fork) }, [verifier], () => held) as { splitView?: boolean }).splitView, true);
  for (let i = 5; i < 9; i++) fork.appendData(Buffer.from(`other ${i}`));
  assert.equal(decideAddCheckpoint({ oldSize: 5, proof: fork.consistencyProof(5, 9), note: noteAt(fork) }, [verifier], () => held).status, 422);
  assert.equal(decideAddCheckpoint({ oldSize: 0, proof: [], note: n9 }, [], () => undefined).status, 404);
  const stranger = parseSignerKey(formatSignerKey('log.example/test', randomBytes(32)));
  assert.equal(decideAddCheckpoint({ oldSize: 0, proof: [], note: signNote(formatCheckpoint({ origin: signer.name, size: 9, root: tree.root(), extensions: [] }), stranger) }, [verifier], () => undefined).status, 403);
  assert.equal(decideAddCheckpoint({ oldSize: 10, proof: [], note: n9 }, [verifier], () => undefined).status, 400);
  assert.throws(() => parseAddCheckpoint('old 01\n\nx'), { code: 'WITNESS_BAD_REQUEST' });
  assert.throws(() => parseAddCheckpoint(`old 1\n${'AAAA\n'.repeat(2)}\nx`), { code: 'WITNESS_BAD_REQUEST' });
});
