import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { HashColumn } from '../src/integrity/hash-column.ts';
import { MerkleTree, verifyConsistency, verifyInclusion } from '../src/integrity/merkle.ts';
import { EMPTY_ROOT, leafHash, nodeHash } from '../src/integrity/rfc6962.ts';

const hex = (s: string): Buffer => Buffer.from(s, 'hex');
const b64 = (s: string): Buffer => Buffer.from(s, 'base64');
/** A proof test vector that must fail fails as a refused proof, not by accident (a TypeError would not do). */
const proofRefused = (e: Error & { code?: string }): boolean => e.code === 'LOG_PROOF_INVALID' || e.code === 'LOG_ROOT_MISMATCH' || e.code === 'LOG_BAD_PROOF_REQUEST';

// The reference leaves and roots of the RFC 6962 test tree (used by certificate-transparency and
// transparency-dev/merkle): facts, restated here as the project's own test vectors.
const LEAVES = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map(hex);
const ROOTS = [
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
].map(hex);

function tree(n = 8): MerkleTree {
  const t = new MerkleTree();
  for (const l of LEAVES.slice(0, n)) t.appendData(l);
  return t;
}

test('RFC 6962 hashes: empty tree, leaf, node', () => {
  assert.equal(EMPTY_ROOT.toString('hex'), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  assert.equal(leafHash(Buffer.alloc(0)).toString('hex'), '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d');
  assert.equal(nodeHash(leafHash(hex('')), leafHash(hex('00'))).toString('hex'), ROOTS[1]!.toString('hex'));
  assert.equal(new MerkleTree().root().toString('hex'), EMPTY_ROOT.toString('hex'));
});

test('roots of every size of the reference tree', () => {
  const t = tree();
  for (let n = 1; n <= 8; n++) assert.equal(t.root(n).toString('hex'), ROOTS[n - 1]!.toString('hex'), `size ${n}`);
});

// transparency-dev/merkle testdata/inclusion/{1,4}/happy-path.json and broken variants.
const INCLUSION = [
  { desc: 'happy path 0/8', leafIdx: 0, treeSize: 8, root: 'XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=', leafHash: 'bjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0=', proof: ['lqKW0iTyhcZ77pPDD4owkVfw2qNdxbh+QQt4YwoJz8c=', 'Xwg/ChozygdqlSeYMlgNs+DvRYS9/x9UyKNg9Q3jAx4=', 'a0eq8p7jwq+a+Im8H7klTavTEXfxYjLdaqsDXKOb9uQ='], wantErr: false },
  { desc: 'happy path 1/5', leafIdx: 1, treeSize: 5, root: 'Tju7H3tHjc/nH7YxYxUZo7yhLJrvyhYSv85ME6hiZNQ=', leafHash: 'lqKW0iTyhcZ77pPDD4owkVfw2qNdxbh+QQt4YwoJz8c=', proof: ['bjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0=', 'Xwg/ChozygdqlSeYMlgNs+DvRYS9/x9UyKNg9Q3jAx4=', 'vBoGQ7EuTS18d5GPROD095qDi2z57FtcKD4fTYhZnms='], wantErr: false },
  { desc: 'modified proof[0] bit 3', leafIdx: 0, treeSize: 8, root: 'XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=', leafHash: 'bjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0=', proof: ['nqKW0iTyhcZ77pPDD4owkVfw2qNdxbh+QQt4YwoJz8c=', 'Xwg/ChozygdqlSeYMlgNs+DvRYS9/x9UyKNg9Q3jAx4=', 'a0eq8p7jwq+a+Im8H7klTavTEXfxYjLdaqsDXKOb9uQ='], wantErr: true },
  { desc: 'leafIdx + 1', leafIdx: 1, treeSize: 8, root: 'XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=', leafHash: 'bjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0=', proof: ['lqKW0iTyhcZ77pPDD4owkVfw2qNdxbh+QQt4YwoJz8c=', 'Xwg/ChozygdqlSeYMlgNs+DvRYS9/x9UyKNg9Q3jAx4=', 'a0eq8p7jwq+a+Im8H7klTavTEXfxYjLdaqsDXKOb9uQ='], wantErr: true },
  { desc: 'treeSize * 2', leafIdx: 0, treeSize: 16, root: 'XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=', leafHash: 'bjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0=', proof: ['lqKW0iTyhcZ77pPDD4owkVfw2qNdxbh+QQt4YwoJz8c=', 'Xwg/ChozygdqlSeYMlgNs+DvRYS9/x9UyKNg9Q3jAx4=', 'a0eq8p7jwq+a+Im8H7klTavTEXfxYjLdaqsDXKOb9uQ='], wantErr: true },
  { desc: 'removed component', leafIdx: 0, treeSize: 8, root: 'XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=', leafHash: 'bjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0=', proof: ['lqKW0iTyhcZ77pPDD4owkVfw2qNdxbh+QQt4YwoJz8c=', 'Xwg/ChozygdqlSeYMlgNs+DvRYS9/x9UyKNg9Q3jAx4='], wantErr: true },
];

for (const v of INCLUSION) {
  test(`inclusion vector: ${v.desc}`, () => {
    const run = () => verifyInclusion(v.leafIdx, v.treeSize, b64(v.leafHash), v.proof.map(b64), b64(v.root));
    if (v.wantErr) assert.throws(run, proofRefused); else assert.doesNotThrow(run);
    if (!v.wantErr) assert.deepEqual(tree().inclusionProof(v.leafIdx, v.treeSize).map((p) => p.toString('base64')), v.proof);
  });
}

// transparency-dev/merkle testdata/consistency/{1,4}/happy-path.json and broken variants.
const CONSISTENCY = [
  { desc: 'happy path 1->8', size1: 1, size2: 8, root1: 'bjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0=', root2: 'XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=', proof: ['lqKW0iTyhcZ77pPDD4owkVfw2qNdxbh+QQt4YwoJz8c=', 'Xwg/ChozygdqlSeYMlgNs+DvRYS9/x9UyKNg9Q3jAx4=', 'a0eq8p7jwq+a+Im8H7klTavTEXfxYjLdaqsDXKOb9uQ='], wantErr: false },
  { desc: 'happy path 6->7', size1: 6, size2: 7, root1: 'duZ9rbzfHhDht03cYIq9L5jfsW+851J3tSMqEn8gh+8=', root2: '3bib5AOAnjJXUNPSY814kpwpQreUKjS3fhIslZSnTIw=', proof: ['DrxdNDf74tsVi58Sah0RjjCBgQMdCpSfje3t68VY72o=', 'sIaT7C5yFZcTBkHoIR5+7cy0wmQTlj7ubB4u0W/7Gl8=', '037kGJdt2VdTwcc4Yrk5j6Kiz5tP8P3+izDNlSCWFLc='], wantErr: false },
  { desc: 'wrong root1', size1: 1, size2: 8, root1: 'V3JvbmdSb290', root2: 'XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=', proof: ['lqKW0iTyhcZ77pPDD4owkVfw2qNdxbh+QQt4YwoJz8c=', 'Xwg/ChozygdqlSeYMlgNs+DvRYS9/x9UyKNg9Q3jAx4=', 'a0eq8p7jwq+a+Im8H7klTavTEXfxYjLdaqsDXKOb9uQ='], wantErr: true },
  { desc: 'swapped roots', size1: 6, size2: 7, root1: '3bib5AOAnjJXUNPSY814kpwpQreUKjS3fhIslZSnTIw=', root2: 'duZ9rbzfHhDht03cYIq9L5jfsW+851J3tSMqEn8gh+8=', proof: ['DrxdNDf74tsVi58Sah0RjjCBgQMdCpSfje3t68VY72o=', 'sIaT7C5yFZcTBkHoIR5+7cy0wmQTlj7ubB4u0W/7Gl8=', '037kGJdt2VdTwcc4Yrk5j6Kiz5tP8P3+izDNlSCWFLc='], wantErr: true },
  { desc: 'truncated proof', size1: 6, size2: 7, root1: 'duZ9rbzfHhDht03cYIq9L5jfsW+851J3tSMqEn8gh+8=', root2: '3bib5AOAnjJXUNPSY814kpwpQreUKjS3fhIslZSnTIw=', proof: ['DrxdNDf74tsVi58Sah0RjjCBgQMdCpSfje3t68VY72o=', 'sIaT7C5yFZcTBkHoIR5+7cy0wmQTlj7ubB4u0W/7Gl8='], wantErr: true },
  { desc: 'empty proof', size1: 6, size2: 7, root1: 'duZ9rbzfHhDht03cYIq9L5jfsW+851J3tSMqEn8gh+8=', root2: '3bib5AOAnjJXUNPSY814kpwpQreUKjS3fhIslZSnTIw=', proof: [], wantErr: true },
];

for (const v of CONSISTENCY) {
  test(`consistency vector: ${v.desc}`, () => {
    const run = () => verifyConsistency(v.size1, v.size2, b64(v.root1), b64(v.root2), v.proof.map(b64));
    if (v.wantErr) assert.throws(run, proofRefused); else assert.doesNotThrow(run);
    if (!v.wantErr) assert.deepEqual(tree().consistencyProof(v.size1, v.size2).map((p) => p.toString('base64')), v.proof);
  });
}

test('proofs generated for every pair of sizes up to 40 verify, and fail on a wrong root', () => {
  const t = new MerkleTree();
  for (let i = 0; i < 40; i++) t.appendData(Buffer.from(`entry ${i}`));
  for (let n = 1; n <= 40; n++) {
    for (let i = 0; i < n; i++) verifyInclusion(i, n, t.leafHashAt(i), t.inclusionProof(i, n), t.root(n));
    for (let m = 1; m <= n; m++) verifyConsistency(m, n, t.root(m), t.root(n), t.consistencyProof(m, n));
  }
  assert.throws(() => verifyInclusion(3, 10, t.leafHashAt(3), t.inclusionProof(3, 10), t.root(11)), { code: 'LOG_ROOT_MISMATCH' });
  assert.throws(() => verifyConsistency(5, 10, t.root(4), t.root(10), t.consistencyProof(5, 10)), { code: 'LOG_ROOT_MISMATCH' });
});

test('hash column: hashes appended past its first allocation read back unchanged; out of range is undefined', () => {
  const col = new HashColumn();
  const hashes = Array.from({ length: 1000 }, (_, i) => createHash('sha256').update(String(i)).digest());
  for (const h of hashes) col.push(h);
  assert.equal(col.length, 1000);
  hashes.forEach((h, i) => assert.deepEqual(col.at(i), h));
  assert.equal(col.at(1000), undefined);
  assert.equal(col.at(-1), undefined);
  assert.throws(() => col.push(Buffer.alloc(31)), RangeError);
});
