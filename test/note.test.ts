import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { formatCheckpoint, parseCheckpoint } from '../src/integrity/checkpoint.ts';
import { MerkleTree } from '../src/integrity/merkle.ts';
import { formatSignerKey, formatVerifierKey, openNote, parseSignerKey, parseVerifierKey, signNote } from '../src/integrity/note.ts';
import { rawPublicKey } from '../src/integrity/ed25519.ts';
import { encodeTileIndex, entryBundle, hashTile, parseTilePath } from '../src/integrity/tiles.ts';

// The signed-note example key pair and note of golang.org/x/mod/sumdb/note (the C2SP signed-note format).
const SKEY = 'PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz';
const VKEY = 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW';
const TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const NOTE = `${TEXT}\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n`;

test('signed-note example: signing reproduces the published signature, which verifies', () => {
  assert.equal(signNote(TEXT, parseSignerKey(SKEY)), NOTE);
  const opened = openNote(NOTE, [parseVerifierKey(VKEY)]);
  assert.equal(opened.text, TEXT);
  assert.deepEqual(opened.verifiedBy, ['PeterNeumann']);
  assert.equal(formatVerifierKey('PeterNeumann', rawPublicKey(parseSignerKey(SKEY).key)), VKEY);
});

test('a changed text, an unknown key or a malformed key is refused', () => {
  assert.throws(() => openNote(NOTE.replace('cryptography', 'cryptographY'), [parseVerifierKey(VKEY)]), { code: 'NOTE_UNVERIFIED' });
  const other = formatSignerKey('custos.test/other', randomBytes(32));
  const otherV = formatVerifierKey('custos.test/other', rawPublicKey(parseSignerKey(other).key));
  assert.throws(() => openNote(NOTE, [parseVerifierKey(otherV)]), { code: 'NOTE_UNVERIFIED' });
  assert.throws(() => parseVerifierKey(VKEY.replace('c74f20a3', 'c74f20a4')), { code: 'KEY_INVALID' });
  assert.throws(() => parseVerifierKey('bad key'), { code: 'KEY_INVALID' });
});

test('cosignatures by unknown keys are kept but do not count', () => {
  const s = parseSignerKey(formatSignerKey('custos.test/log', randomBytes(32)));
  const w = parseSignerKey(formatSignerKey('witness.test/w1', randomBytes(32)));
  const note = signNote('custos.test/log\n1\nbjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0=\n', s);
  const cosigned = note + signNote('custos.test/log\n1\nbjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0=\n', w).split('\n\n')[1]!;
  const v = parseVerifierKey(formatVerifierKey(s.name, rawPublicKey(s.key)));
  const opened = openNote(cosigned, [v]);
  assert.equal(opened.otherSignatures.length, 1);
});

test('checkpoints round-trip and reject malformed bodies', () => {
  const c = { origin: 'custos.test/log', size: 8, root: Buffer.alloc(32, 7), extensions: [] };
  assert.deepEqual(parseCheckpoint(formatCheckpoint(c)), c);
  assert.throws(() => parseCheckpoint('o\n-1\nAAAA\n'), { code: 'NOTE_MALFORMED' });
  assert.throws(() => parseCheckpoint('o\n1\n'), { code: 'NOTE_MALFORMED' });
});

test('tile paths encode in groups of three and parse back; hash tiles hold the right nodes', () => {
  assert.equal(encodeTileIndex(1234067), 'x001/x234/067');
  assert.equal(encodeTileIndex(5), '005');
  assert.deepEqual(parseTilePath('0/x001/x234/067'), { level: 0, index: 1234067, width: 256 });
  assert.deepEqual(parseTilePath('entries/000.p/5'), { level: 'entries', index: 0, width: 5 });
  assert.throws(() => parseTilePath('0/1234'), { code: 'LOG_BAD_PROOF_REQUEST' });
  assert.throws(() => parseTilePath('../etc/passwd'), { code: 'LOG_BAD_PROOF_REQUEST' });
  const t = new MerkleTree();
  for (let i = 0; i < 300; i++) t.appendData(Buffer.from(`e${i}`));
  assert.equal(hashTile(t, 300, 0, 0, 256)!.length, 256 * 32);
  assert.equal(hashTile(t, 300, 0, 1, 44)!.subarray(0, 32).toString('hex'), t.leafHashAt(256).toString('hex'));
  assert.equal(hashTile(t, 300, 0, 1, 45), undefined);
  assert.equal(hashTile(t, 300, 1, 0, 1)!.toString('hex'), t.root(256).toString('hex'));
  assert.deepEqual(entryBundle([Buffer.from('ab'), Buffer.alloc(0)]), Buffer.from([0, 2, 0x61, 0x62, 0, 0]));
});

test('tlog-proof text round-trips and rejects malformed proofs', async () => {
  const { formatTlogProof, parseTlogProof } = await import('../src/integrity/tlog-proof.ts');
  const p = { index: 5, proof: [Buffer.alloc(32, 1), Buffer.alloc(32, 2)], checkpoint: 'o\n6\nAAAA\n\n\u2014 o sig\n', extra: Buffer.from('leaf') };
  const text = formatTlogProof(p);
  assert.ok(text.startsWith('c2sp.org/tlog-proof@v1\nextra bGVhZg==\nindex 5\n'));
  assert.deepEqual(parseTlogProof(text), p);
  assert.throws(() => parseTlogProof(text.replace('index 5', 'index 05')), { code: 'NOTE_MALFORMED' });
  assert.throws(() => parseTlogProof(text.replace('c2sp.org/tlog-proof@v1', 'x')), { code: 'NOTE_MALFORMED' });
});
