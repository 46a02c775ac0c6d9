import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TABLE_E1_1 } from '../src/deid/table-e1-1.ts';
import { makeProfile, resolveAction, rowFor } from '../src/deid/profile.ts';
import { tag } from '../src/dicom/tag.ts';
import { SHARED } from './helpers.ts';

const REFERENCE = join(SHARED, 'ps3.15-table-e.1-1-2024b.json');
const COLUMNS: Record<string, string> = {
  rtnLongFullDatesOpt: 'retain-longitudinal-full-dates', rtnLongModifDatesOpt: 'retain-longitudinal-modified-dates',
  rtnPatCharsOpt: 'retain-patient-characteristics', rtnDevIdOpt: 'retain-device-identity', rtnInstIdOpt: 'retain-institution-identity',
  rtnUIDsOpt: 'retain-uids', rtnSafePrivOpt: 'retain-safe-private', cleanDescOpt: 'clean-descriptors',
  cleanStructContOpt: 'clean-structured-content', cleanGraphOpt: 'clean-graphics',
};

test('Table E.1-1 in the project matches the PS3.15 2024b transcription row for row', { skip: !existsSync(REFERENCE) && 'shared/reference not present' }, () => {
  const ref = JSON.parse(readFileSync(REFERENCE, 'utf8')) as Array<Record<string, string>>;
  assert.equal(TABLE_E1_1.length, 621);
  assert.equal(ref.length, TABLE_E1_1.length);
  const ours = new Map(TABLE_E1_1.map((r) => [r[0].toUpperCase(), r]));
  for (const r of ref) {
    const t = r.tag!.startsWith('(GGGG,EEEE)') ? '(GGGG,EEEE)' : r.tag!.toUpperCase();
    const row = ours.get(t);
    assert.ok(row, `row ${r.tag} (${r.name}) missing`);
    assert.equal(row[1], r.name, `name of ${t}`);
    assert.equal(row[2], r.basicProfile, `basic action of ${t}`);
    for (const [col, name] of Object.entries(COLUMNS)) {
      assert.equal((row[3] as Record<string, string> | undefined)?.[name], r[col], `${name} of ${t}`);
    }
  }
});

test('rows resolve for exact tags, overlay/curve groups and private groups', () => {
  assert.equal(rowFor(tag(0x0010, 0x0010))?.[1], "Patient's Name");
  assert.equal(rowFor(tag(0x6002, 0x3000))?.[1], 'Overlay Data');
  assert.equal(rowFor(tag(0x5010, 0x0005))?.[1], 'Curve Data');
  assert.equal(rowFor(tag(0x0029, 0x1010))?.[1], 'Private Attributes');
  assert.equal(rowFor(tag(0x0028, 0x0010)), undefined); // Rows: not listed, kept
});

test('combined actions resolve by Type; options override; cleaning beats keeping', () => {
  const basic = makeProfile([]);
  const at = (g: number, e: number, p = basic) => resolveAction(rowFor(tag(g, e))!, p, tag(g, e));
  assert.equal(at(0x0008, 0x0022), 'Z'); // Acquisition Date X/Z
  assert.equal(at(0x0008, 0x0021), 'D'); // Series Date X/D
  assert.equal(at(0x0008, 0x0023), 'D'); // Content Date Z/D, Type 1 in enhanced IODs
  assert.equal(at(0x0008, 0x1010), 'Z'); // Station Name X/Z/D
  assert.equal(at(0x0008, 0x1140), 'R'); // Referenced Image Sequence X/Z/U*
  assert.equal(at(0x0020, 0x000d), 'U');
  assert.equal(at(0x0020, 0x000d, makeProfile(['retain-uids'])), 'K');
  assert.equal(at(0x0008, 0x0020, makeProfile(['retain-longitudinal-modified-dates'])), 'C');
  // Beam Hold Transition DateTime: Retain Device Identity K + Modified Dates C -> C
  assert.equal(at(0x300c, 0x0127, makeProfile(['retain-device-identity', 'retain-longitudinal-modified-dates'])), 'C');
  assert.equal(at(0x0008, 0x1030, makeProfile(['clean-descriptors'])), 'C');
});

test('option names are validated, every bad one reported, and date options exclude each other', () => {
  assert.throws(() => makeProfile(['clean-descriptors', 'retain-everything', 'nope']), (e: { code: string; message: string }) =>
    e.code === 'DEID_BAD_OPTION' && e.message.includes('retain-everything') && e.message.includes('nope'));
  assert.throws(() => makeProfile(['retain-longitudinal-full-dates', 'retain-longitudinal-modified-dates']), { code: 'DEID_BAD_OPTION' });
});
