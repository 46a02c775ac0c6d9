import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BufferSource } from '../src/dicom/byte-source.ts';
import { type DataElement, putElement } from '../src/dicom/dataset.ts';
import { implicitVR } from '../src/dicom/dictionary.ts';
import { writeChunksAtomic } from '../src/dicom/file-io.ts';
import { readDicom } from '../src/dicom/read.ts';
import { tag } from '../src/dicom/tag.ts';
import { encodePart10 } from '../src/dicom/write.ts';
import { makeProfile } from '../src/deid/profile.ts';
import { TABLE_E1_1 } from '../src/deid/table-e1-1.ts';
import { deidentifyFile } from '../src/pipeline/deid-file.ts';
import { PYDICOM, dcmdump, tempDir } from './helpers.ts';

/**
 * Every attribute of PS3.15 Table E.1-1 that a dataset can carry as text, a date, a number, a UID
 * or a sequence gets a unique synthetic value planted into a real CT file; with the Basic Profile
 * none of them may survive anywhere in the output.
 */
const planted: Array<{ tag: number; name: string; needle: string }> = [];
const elements: DataElement[] = [];
const ascii = (s: string) => Buffer.from(s.length % 2 ? s + ' ' : s, 'latin1');
let n = 0;
for (const [tagText, name] of TABLE_E1_1) {
  const m = /^\(([0-9A-F]{4}),([0-9A-F]{4})\)$/.exec(tagText);
  if (!m) continue;
  const g = parseInt(m[1]!, 16);
  if (g === 0x0000 || g === 0x0002 || g === 0x0004) continue; // command, file meta (rebuilt), DICOMDIR
  const t = tag(g, parseInt(m[2]!, 16));
  const vr = implicitVR(t);
  n++;
  const day = new Date(Date.UTC(1930, 0, 1) + n * 86_400_000 * 7).toISOString().slice(0, 10).replace(/-/g, '');
  let value: string | undefined;
  let needle: string;
  switch (vr) {
    case 'PN': case 'LO': case 'SH': case 'LT': case 'ST': case 'UT': case 'UC': case 'CS': case 'AE':
      value = needle = `PHI${n}X`; break;
    case 'UR': value = `http://phi${n}x.example/`; needle = `phi${n}x`; break;
    case 'DA': value = needle = day; break;
    case 'DT': value = `${day}101010`; needle = day; break;
    case 'IS': case 'DS': value = needle = `8${String(n).padStart(6, '0')}`; break;
    case 'UI': value = `1.2.999.${n}`; needle = `1.2.999.${n}`; break;
    case 'SQ': needle = `PHISQ${n}X`; break;
    default: continue; // binary values and times carry no planted text
  }
  const el: DataElement = vr === 'SQ'
    ? { tag: t, vr: 'SQ', items: [{ elements: [{ tag: tag(0x0008, 0x0104), vr: 'LO', value: ascii(`PHISQ${n}X`) }, { tag: tag(0x0010, 0x0010), vr: 'PN', value: ascii(`PHISQ${n}X`) }] }] }
    : { tag: t, vr, value: vr === 'UI' ? Buffer.from(value!.length % 2 ? value + '\0' : value!, 'latin1') : ascii(value!) };
  elements.push(el);
  planted.push({ tag: t, name, needle });
}

test(`all ${planted.length} plantable attributes of Table E.1-1 are gone after the Basic Profile`, async () => {
  assert.ok(planted.length > 450, `only ${planted.length} attributes planted`);
  const dir = tempDir();
  const input = join(dir, 'every-attribute.dcm');
  const src = new BufferSource(readFileSync(join(PYDICOM, 'CT_small.dcm')));
  const f = readDicom(src);
  for (const el of elements) putElement(f.dataset, el);
  writeChunksAtomic(input, encodePart10(f.meta, f.dataset, f.transferSyntax, src), src);
  const before = dcmdump(input);
  const missing = planted.filter((p) => !before.includes(p.needle));
  assert.deepEqual(missing.map((p) => p.name), [], 'planted values must be readable in the input');

  const out = tempDir();
  const r = await deidentifyFile(input, out, { profile: makeProfile([]), key: Buffer.alloc(32, 9) });
  assert.equal(r.status, 'released', JSON.stringify(r));
  if (r.status !== 'released') return;
  const path = join(out, r.output.path);
  const after = dcmdump(path);
  const raw = readFileSync(path).toString('latin1');
  const survivors = planted.filter((p) => after.includes(p.needle) || raw.includes(p.needle));
  assert.deepEqual(survivors.map((p) => `${p.name} ${p.needle}`), []);
});
