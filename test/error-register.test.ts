/**
 * One register of codes (src/errors.ts): every code the program emits is in it, and docs/errors.md
 * documents exactly the codes it holds.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, filesUnder } from './helpers.ts';

/** The string literals of the unions in src/errors.ts. */
function register(): Set<string> {
  const src = readFileSync(join(REPO, 'src/errors.ts'), 'utf8');
  const codes = new Set<string>();
  for (const block of src.matchAll(/export type \w+Code =([^;]+);/g)) for (const m of block[1]!.matchAll(/'([A-Z][A-Z0-9_]+)'/g)) codes.add(m[1]!);
  return codes;
}

/** Codes written where the program emits one: thrown, returned as an outcome's code, sent as an HTTP error. */
function emitted(): Map<string, string> {
  const found = new Map<string, string>();
  for (const file of filesUnder(join(REPO, 'src')).filter((f) => f.endsWith('.ts'))) {
    for (const [n, line] of readFileSync(file, 'utf8').split('\n').entries()) {
      if (/system:|coding|Obligation/.test(line)) continue; // FHIR and HL7 codes, not Custos's
      for (const m of line.matchAll(/(?:CustosError\(|\b(?:code|error|reason): |refuse\(\w+, \d+, )'([A-Z][A-Z0-9_]{2,})'/g)) {
        found.set(m[1]!, `${file.slice(REPO.length)}:${n + 1}`);
      }
    }
  }
  return found;
}

test('every code the program emits is in the register (src/errors.ts)', () => {
  const codes = register();
  assert.ok(codes.size > 80, `${codes.size} codes`);
  const outside = [...emitted()].filter(([c]) => !codes.has(c)).map(([c, where]) => `${c} (${where})`);
  assert.deepEqual(outside, []);
});

test('docs/errors.md documents exactly the codes of the register', () => {
  const codes = register();
  const doc = readFileSync(join(REPO, 'docs/errors.md'), 'utf8');
  const documented = new Set<string>();
  for (const line of doc.split('\n')) {
    const first = /^\| ([^|]+)\|/.exec(line)?.[1] ?? '';
    for (const m of first.matchAll(/`([A-Z][A-Z0-9_]+)`/g)) documented.add(m[1]!);
  }
  assert.deepEqual([...codes].filter((c) => !documented.has(c)).sort(), [], 'in the register, not documented in a table row');
  assert.deepEqual([...documented].filter((c) => !codes.has(c)).sort(), [], 'documented, not in the register');
});
