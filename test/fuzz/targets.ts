/**
 * Fuzz targets: every parser entry point fed random and mutated input (fast-check, property-based).
 * Each case must end in a valid result or a CustosError with a stable code: never another exception
 * (a bug), never an INTERNAL outcome, never a hang. Used by test/fuzz.test.ts (a bounded run with a
 * fixed seed in CI) and scripts/fuzz.ts (the long run recorded in docs/security.md).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { parseGatewayConfig } from '../../src/config/gateway-config.ts';
import { makeProfile } from '../../src/deid/profile.ts';
import { parsePixelRules } from '../../src/deid/pixel-rules.ts';
import { BufferSource } from '../../src/dicom/byte-source.ts';
import { charsetFor } from '../../src/dicom/charset.ts';
import { checkFirstFrame, checkPixelData } from '../../src/dicom/pixel-check.ts';
import { readDicom } from '../../src/dicom/read.ts';
import { isCustosError } from '../../src/errors.ts';
import { parseCheckpoint } from '../../src/integrity/checkpoint.ts';
import { formatSignerKey, formatVerifierKey, openNote, parseSignerKey, parseVerifierKey, signNote } from '../../src/integrity/note.ts';
import { privateKeyFromSeed, rawPublicKey } from '../../src/integrity/ed25519.ts';
import { createPublicKey } from 'node:crypto';
import { parseTilePath } from '../../src/integrity/tiles.ts';
import { parseTlogProof } from '../../src/integrity/tlog-proof.ts';
import { contentTypeParams, encodeMultipart, parseMultipart } from '../../src/net/multipart.ts';
import { deidentifySource } from '../../src/pipeline/deid-file.ts';

const PYDICOM = '/usr/lib/python3/dist-packages/pydicom/data/test_files';
const REPO = new URL('../..', import.meta.url).pathname;

/** Real files of every transfer syntax family to mutate (Debian's pydicom samples and the examples). */
export const SEEDS: readonly Buffer[] = [
  ...['CT_small.dcm', 'MR_small.dcm', 'MR_small_bigendian.dcm', 'MR_small_implicit.dcm', 'MR_small_deflate.dcm', 'MR_small_RLE.dcm', 'MR_small_jpeg_ls_lossless.dcm',
    'JPEG2000.dcm', 'SC_rgb_jpeg_dcmtk.dcm', 'rtplan.dcm', 'image_dfl.dcm', 'ExplVR_BigEndNoMeta.dcm', 'nested_priv_SQ.dcm', 'SC_rgb_rle_2frame.dcm'].map((f) => join(PYDICOM, f)),
  join(REPO, 'examples', 'synthetic-ct-1.dcm'),
].flatMap((p) => { try { return [readFileSync(p)]; } catch { return []; } });

/** A real file with edits: bytes overwritten, 32-bit lengths planted, cut short or extended. */
export const mutatedDicom = fc.record({
  seed: fc.nat({ max: SEEDS.length - 1 }),
  bytes: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
  // Most cases keep their length and structure, so that the code past the parser is reached too.
  lengths: fc.oneof({ weight: 3, arbitrary: fc.constant([] as Array<[number, number]>) }, { weight: 1, arbitrary: fc.array(fc.tuple(fc.nat(), fc.constantFrom(0, 1, 2, 0xfffffffe, 0xffffffff, 0x7fffffff, 0x10000)), { minLength: 1, maxLength: 3 }) }),
  cut: fc.oneof({ weight: 9, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.nat() }),
  append: fc.oneof({ weight: 9, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }) }),
}).map(({ seed, bytes, lengths, cut, append }) => {
  const base = SEEDS[seed]!;
  const b = Buffer.from(base);
  for (const [pos, v] of bytes) b[pos % b.length] = v;
  for (const [pos, v] of lengths) { const o = pos % Math.max(1, b.length - 4); b.writeUInt32LE(v >>> 0, o); }
  const cutAt = cut === null ? b.length : cut % (b.length + 1);
  return Buffer.concat([b.subarray(0, cutAt), Buffer.from(append ?? [])]);
});

export type Outcome = 'ok' | string; // 'ok' or the error code

/** Run `fn`; a CustosError is an expected outcome (its code), anything else is a bug and rethrown. */
export function expectCoded(fn: () => unknown): Outcome {
  try {
    fn();
    return 'ok';
  } catch (e) {
    if (isCustosError(e)) return e.code;
    throw e;
  }
}

const key = Buffer.alloc(32, 7);

// A real signed checkpoint note to mutate (the log's own formats, c2sp.org/signed-note).
const SEED32 = new Uint8Array(32).fill(9);
const VERIFIER = parseVerifierKey(formatVerifierKey('custos.fuzz/log', rawPublicKey(createPublicKey(privateKeyFromSeed(SEED32)))));
const VALID_NOTE = signNote('custos.fuzz/log\n12\nq2Xn3qk1rz2Gg3ZKqlr9bq0xoW3g3uWdz2j2Jg1pQxE=\n', parseSignerKey(formatSignerKey('custos.fuzz/log', SEED32)));

/** A valid text with characters replaced, removed or inserted. */
function mutatedText(valid: string): fc.Arbitrary<string> {
  return fc.array(fc.tuple(fc.nat(), fc.constantFrom('replace', 'delete', 'insert'), fc.string({ maxLength: 3 })), { minLength: 1, maxLength: 4 }).map((edits) => {
    let t = valid;
    for (const [pos, op, str] of edits) {
      const i = pos % (t.length + 1);
      t = op === 'delete' ? t.slice(0, i) + t.slice(i + 1) : op === 'insert' ? t.slice(0, i) + str + t.slice(i) : t.slice(0, i) + str + t.slice(i + str.length);
    }
    return t;
  });
}
const settings = { profile: makeProfile([]), key };

export interface Target { name: string; property: fc.IAsyncProperty<[unknown]> | fc.IProperty<[unknown]> }

const prop = <T>(arb: fc.Arbitrary<T>, check: (v: T) => void | Promise<void>) => (fc.asyncProperty(arb, async (v) => { await check(v); }) as unknown) as fc.IAsyncProperty<[unknown]>;

export const TARGETS: Target[] = [
  {
    name: 'Part 10 and datasets (every syntax, mutated) → de-identification',
    property: prop(mutatedDicom, async (bytes) => {
      const r = await deidentifySource(new BufferSource(bytes), settings);
      if (r.status === 'failed' && r.error.code === 'INTERNAL') throw new Error(`INTERNAL: ${r.error.message}`);
    }),
  },
  {
    name: 'Part 10 parse and the ingest pixel checks, first frame decoded (mutated)',
    property: prop(mutatedDicom, async (bytes) => {
      const src = new BufferSource(bytes);
      let f: ReturnType<typeof readDicom> | undefined;
      expectCoded(() => { f = readDicom(src); if (!f.transferSyntax.deflated) checkPixelData(f, src); else f = undefined; });
      if (f) await checkFirstFrame(f, src).catch((e: unknown) => { if (!isCustosError(e)) throw e; });
    }),
  },
  {
    name: 'Part 10 parse (random bytes, with and without the DICM prefix)',
    property: prop(fc.tuple(fc.boolean(), fc.uint8Array({ maxLength: 2048 })), ([prefix, body]) => {
      const head = Buffer.alloc(132); head.write('DICM', 128, 'latin1');
      expectCoded(() => readDicom(new BufferSource(prefix ? Buffer.concat([head, body]) : Buffer.from(body))));
    }),
  },
  {
    name: 'character sets (Specific Character Set values and text)',
    property: prop(fc.tuple(fc.string({ maxLength: 80 }), fc.uint8Array({ maxLength: 256 })), ([cs, text]) => {
      expectCoded(() => { const c = charsetFor(cs); for (const vr of ['PN', 'LO', 'ST'] as const) c.decode(Buffer.from(text), vr); });
    }),
  },
  {
    name: 'STOW-RS multipart/related bodies',
    property: prop(fc.tuple(fc.string({ maxLength: 70 }), fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 5 }), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }), fc.option(fc.uint8Array({ maxLength: 300 }))),
      ([header, bodies, edits, raw]) => {
        const { params } = contentTypeParams(header);
        const boundary = params.boundary ?? 'b';
        const body = raw ? Buffer.from(raw) : Buffer.concat(encodeMultipart(bodies.map((x) => Buffer.from(x)), 'application/dicom', boundary).parts);
        for (const [p, v] of edits) if (body.length) body[p % body.length] = v;
        expectCoded(() => parseMultipart(body, boundary, 100));
      }),
  },
  {
    name: 'gateway configuration (any JSON value)',
    property: prop(fc.oneof(fc.jsonValue(), fc.record({ host: fc.string(), dimse: fc.jsonValue(), http: fc.jsonValue(), recipients: fc.array(fc.jsonValue(), { maxLength: 3 }), routes: fc.jsonValue() }, { requiredKeys: [] })), (v) => {
      expectCoded(() => parseGatewayConfig(v));
    }),
  },
  {
    name: 'pixel rules (any JSON value)',
    property: prop(fc.jsonValue(), (v) => { expectCoded(() => parsePixelRules(v, 'fuzz')); }),
  },
  {
    name: 'signed notes, checkpoints, verifier keys, tile paths, tlog-proofs',
    property: prop(fc.tuple(fc.oneof(fc.string({ maxLength: 300 }), mutatedText(VALID_NOTE)), fc.constantFrom('note', 'checkpoint', 'vkey', 'tile', 'proof')), ([text, kind]) => {
      expectCoded(() => {
        switch (kind) {
          case 'note': return openNote(text, [VERIFIER]);
          case 'checkpoint': return parseCheckpoint(text);
          case 'vkey': return parseVerifierKey(text);
          case 'tile': return parseTilePath(text);
          default: return parseTlogProof(text);
        }
      });
    }),
  },
];
