import { CustosError } from '../errors.ts';
import { type Tag, tag, groupOf, elementOf } from '../dicom/tag.ts';
import { TABLE_E1_1, TABLE_EDITION } from './table-e1-1.ts';
import { type BasicAction, type ProfileOption, type ProfileRow, OPTIONS } from './profile-types.ts';

export { TABLE_EDITION, OPTIONS, type ProfileOption, type ProfileRow };

/**
 * An action as Custos applies it. D, Z, X, K, C, U are PS3.15 E.3.1's; R (recurse) is the
 * X/Z/U* of sequences: keep the sequence and apply the profile to its items.
 */
export type Action = 'D' | 'Z' | 'X' | 'K' | 'C' | 'U' | 'R';

/** A chosen profile: Basic Application Level Confidentiality Profile plus options (PS3.15 E.2, E.3). */
export interface Profile {
  readonly options: ReadonlySet<ProfileOption>;
}

/** Validate option names (CLI/config input): every bad name is reported at once. */
export function makeProfile(names: readonly string[]): Profile {
  const bad = names.filter((n) => !(OPTIONS as readonly string[]).includes(n));
  if (bad.length) {
    throw new CustosError('DEID_BAD_OPTION', `unknown de-identification option(s): ${bad.join(', ')}; known options: ${OPTIONS.join(', ')}`);
  }
  const options = new Set(names as ProfileOption[]);
  if (options.has('retain-longitudinal-full-dates') && options.has('retain-longitudinal-modified-dates')) {
    throw new CustosError('DEID_BAD_OPTION', 'retain-longitudinal-full-dates and retain-longitudinal-modified-dates exclude each other (PS3.15 E.3.6)');
  }
  return { options };
}

const EXACT = new Map<Tag, ProfileRow>();
const REPEATING = new Map<number, ProfileRow>(); // (50xx,xxxx) and (60xx,eeee) keyed by base group/element
let PRIVATE_ROW: ProfileRow | undefined;
for (const row of TABLE_E1_1) {
  const m = /^\(([0-9A-Fx]{4}),([0-9A-Fx]{4})\)$/.exec(row[0]);
  if (!m) { PRIVATE_ROW = row; continue; }
  const [g, e] = [m[1]!, m[2]!];
  if (g.includes('x')) REPEATING.set(tag(parseInt(g.replace(/x/g, '0'), 16), e.includes('x') ? 0xffff : parseInt(e, 16)), row);
  else EXACT.set(tag(parseInt(g, 16), parseInt(e, 16)), row);
}

/** The row of Table E.1-1 that governs a tag, if any (exact tags, 50xx curves, 60xx overlays, private). */
export function rowFor(t: Tag): ProfileRow | undefined {
  const hit = EXACT.get(t);
  if (hit) return hit;
  const g = groupOf(t);
  if ((g & 1) === 1) return PRIVATE_ROW;
  const base = g & 0xff00;
  if ((base === 0x5000 || base === 0x6000) && (g & 0xff) <= 0x1e) {
    return REPEATING.get(tag(base, 0xffff)) ?? REPEATING.get(tag(base, elementOf(t)));
  }
  return undefined;
}

/**
 * Attributes that are Type 1 in some IOD (PS3.3) and whose basic action is Z/D or X/Z/D: they get a
 * dummy (D) so the output keeps conforming; the others are emptied (Z).
 */
const TYPE1_SOMEWHERE: ReadonlySet<Tag> = new Set([
  tag(0x0008, 0x0023), // Content Date
  tag(0x0008, 0x0033), // Content Time
  tag(0x0008, 0x002a), // Acquisition DateTime (Enhanced MR/CT/XA Image)
  tag(0x0018, 0x1000), // Device Serial Number (Enhanced General Equipment)
  tag(0x0018, 0x9919), // Instruction Performed DateTime
]);

/**
 * Resolve a row to one action for the chosen options (PS3.15 E.3.1). Where several options apply,
 * cleaning wins over keeping (e.g. Retain Device Identity K with Modified Dates C shifts the date).
 * Combined basic actions resolve to the least-removing action that is valid whatever the attribute's
 * Type in its IOD: an attribute present in the input satisfies its IOD's presence rule, so emptying
 * (Z) keeps a Type 2 valid and a dummy (D) keeps a Type 1 valid.
 */
export function resolveAction(row: ProfileRow, profile: Profile, t: Tag): Action {
  const [, , basic, opts] = row;
  if (opts) {
    let chosen: 'K' | 'C' | undefined;
    for (const [name, act] of Object.entries(opts)) {
      if (!profile.options.has(name as ProfileOption)) continue;
      if (act === 'C' || chosen === undefined) chosen = act;
    }
    if (chosen) return chosen;
  }
  return resolveBasic(basic, t);
}

function resolveBasic(basic: BasicAction, t: Tag): Action {
  switch (basic) {
    case 'D': case 'Z': case 'X': case 'K': case 'C': case 'U': return basic;
    case 'X/Z': return 'Z';
    case 'X/D': return 'D';
    case 'X/Z/D': case 'Z/D': return TYPE1_SOMEWHERE.has(t) ? 'D' : 'Z';
    case 'X/Z/U*': return 'R';
  }
}
