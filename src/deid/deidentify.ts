import { fileMeta } from '../dicom/part10.ts';
import { CustosError } from '../errors.ts';
import { type Charset, charsetFor, DEFAULT_CHARSET } from '../dicom/charset.ts';
import { type DataElement, type Dataset, type DicomFile, findElement, putElement } from '../dicom/dataset.ts';
import { type Tag, Tags, groupOf, elementOf, isPrivate, isPrivateCreator, privateCreatorTagOf } from '../dicom/tag.ts';
import { type VR, BINARY_SIZE, MAX_LENGTH, isFreeText, isStringVR } from '../dicom/vr.ts';
import { shiftDA, shiftDT } from './dates.ts';
import { type HoldBack, holdBackReason } from './hold-back.ts';
import { BASIC_PROFILE_CODE, OPTION_CODES, type Code } from './method-codes.ts';
import { type Action, type Profile, TABLE_EDITION, resolveAction, rowFor } from './profile.ts';
import { dateOffsetDays, patientPseudonym, pseudonymousUID } from './pseudonyms.ts';
import { safePrivateVR } from './safe-private.ts';
import { outsideDecision } from './outside-e1-1.ts';
import { type DenyList, dateRenderings, makeDenyList, nameTokens, scrubText } from './scrub.ts';

/*
 * The de-identification engine: PS3.15 Annex E Basic Application Level Confidentiality Profile and
 * options applied to every level of a dataset. Pure: a parsed file and a key in, a new dataset out;
 * no I/O. Pixel data and every value it does not change are carried over as the same bytes.
 */

import { CUSTOS_VERSION } from '../version.ts';
export { CUSTOS_VERSION };

export type ActionCounts = Record<'D' | 'Z' | 'X' | 'K' | 'C' | 'U', number>;

export interface DeidSettings {
  profile: Profile;
  /** Pseudonymisation key (deployment or recipient key); never stored in output or receipts. */
  key: Buffer;
}

export type DeidResult =
  | { status: 'released'; meta: Dataset; dataset: Dataset; counts: ActionCounts; ids: { patient: string; study: string; series: string; instance: string } }
  | { status: 'held'; hold: HoldBack };

/** How attributes not listed in Table E.1-1 are treated inside a sequence that the profile dummies or cleans. */
type Mode = 'normal' | 'dummy' | 'clean';

interface Ctx {
  s: DeidSettings;
  deny: DenyList;
  dateOffset: number;
  pseudonym: { id: string; name: string };
  counts: ActionCounts;
}

const text = (el: DataElement | undefined, cs: Charset = DEFAULT_CHARSET): string =>
  el?.value ? cs.decode(el.value, el.vr).replace(/[\0 ]+$/, '').trim() : '';

const ascii = (s: string): Buffer => Buffer.from(s, 'latin1');

/**
 * Pixels checked for burned-in text (PS3.15 E.3.2). `reencoded` describes new pixel data (interleaved)
 * when text was removed; without it the original pixel data and its description stay as they were.
 */
export interface CleanedPixels {
  /** Burned-in text was looked for and removed where found (Clean Pixel Data, PS3.15 E.3.2). */
  text?: boolean;
  /** The series was defaced, or found to show no face (Clean Recognizable Visual Features, E.3.3). */
  visualFeatures?: 'defaced' | 'none-found';
  reencoded?: { photometricInterpretation: string; samplesPerPixel: number };
}

export function deidentify(file: DicomFile, s: DeidSettings, cleaned?: CleanedPixels): DeidResult {
  const ds = file.dataset;
  const cs = charsetFor(text(findElement(ds, Tags.SpecificCharacterSet)));
  const hold = holdBackReason(
    {
      burnedInAnnotation: text(findElement(ds, Tags.BurnedInAnnotation)),
      modality: text(findElement(ds, Tags.Modality)),
      sopClassUID: text(findElement(ds, Tags.SOPClassUID)) || text(findElement(file.meta, Tags.MediaStorageSOPClassUID)),
      bodyPart: text(findElement(ds, Tags.BodyPartExamined)),
      descriptions: [Tags.StudyDescription, Tags.SeriesDescription, Tags.ProtocolName].map((t) => text(findElement(ds, t), cs)).join(' ').toUpperCase(),
    },
    s.profile,
    { text: cleaned?.text === true, visualFeatures: cleaned?.visualFeatures !== undefined },
  );
  if (hold) return { status: 'held', hold };

  for (const [t, name] of [[Tags.SOPInstanceUID, 'SOP Instance UID (0008,0018)'], [Tags.SOPClassUID, 'SOP Class UID (0008,0016)']] as const) {
    if (!text(findElement(ds, t))) throw new CustosError('DICOM_MISSING_ATTRIBUTE', `not a composite instance: ${name} is missing or empty`);
  }
  const patientKey = patientIdentityKey(ds, cs);
  const ctx: Ctx = {
    s,
    deny: denyListFor(file, s.profile),
    dateOffset: dateOffsetDays(s.key, patientKey),
    pseudonym: patientPseudonym(s.key, patientKey),
    counts: { D: 0, Z: 0, X: 0, K: 0, C: 0, U: 0 },
  };
  const out = processDataset(ds, ctx, 'normal', cs, 0);
  addDeidentificationAttributes(out, s.profile, cleaned?.text === true, cleaned?.visualFeatures !== undefined);
  if (cleaned) describeCleanedPixels(out, cleaned);

  const sop = text(findElement(out, Tags.SOPInstanceUID));
  const sopClass = text(findElement(ds, Tags.SOPClassUID)) || text(findElement(file.meta, Tags.MediaStorageSOPClassUID));
  const meta: Dataset = fileMeta(sopClass, sop, file.transferSyntax.uid);
  if (s.profile.options.has('retain-uids')) ctx.counts.K++; else ctx.counts.U++; // Media Storage SOP Instance UID (0002,0003)
  return {
    status: 'released',
    meta,
    dataset: out,
    counts: ctx.counts,
    ids: {
      patient: ctx.pseudonym.id,
      study: text(findElement(out, Tags.StudyInstanceUID)),
      series: text(findElement(out, Tags.SeriesInstanceUID)),
      instance: sop,
    },
  };
}

/** Custos's Implementation Class UID (PS3.7 D.3.3.2), a 2.25 UID fixed for the product. */
export { IMPLEMENTATION_CLASS_UID } from '../version.ts';

/** The identity a pseudonym and a date offset are derived from: issuer + Patient ID, else name + birth date. */
function patientIdentityKey(ds: Dataset, cs: Charset): string {
  const id = text(findElement(ds, Tags.PatientID), cs);
  if (id) return `id\0${text(findElement(ds, Tags.IssuerOfPatientID), cs)}\0${id}`;
  return `name\0${text(findElement(ds, Tags.PatientName), cs)}\0${text(findElement(ds, Tags.PatientBirthDate))}`;
}

/** The header-seeded deny list of an instance (also used to find its name and IDs burned into pixels). */
export function denyListFor(file: DicomFile, profile: Profile): DenyList {
  const cs = charsetFor(text(findElement(file.dataset, Tags.SpecificCharacterSet)));
  return makeDenyList(denyTokens(file.dataset, cs, profile));
}

/** Identifying values of this instance that must not survive in any free text (header-seeded deny list). */
function denyTokens(ds: Dataset, cs: Charset, profile: Profile): string[] {
  const tokens: string[] = [];
  const walk = (d: Dataset, c: Charset): void => {
    const local = findElement(d, Tags.SpecificCharacterSet) ? charsetFor(text(findElement(d, Tags.SpecificCharacterSet))) : c;
    for (const el of d.elements) {
      if (el.items) { for (const it of el.items) walk(it, local); continue; }
      if (el.vr === 'PN') tokens.push(...nameTokens(text(el, local)));
    }
  };
  walk(ds, cs);
  const values = (t: Tag): string[] => text(findElement(ds, t), cs).split('\\').map((v) => v.trim()).filter(Boolean);
  for (const t of [Tags.PatientID, Tags.OtherPatientIDs, Tags.AccessionNumber]) tokens.push(...values(t).filter((v) => v.length >= 3));
  const sid = values(Tags.StudyID).filter((v) => v.length >= 4);
  tokens.push(...sid);
  for (const t of [Tags.PatientTelephoneNumbers, Tags.ReferringPhysicianTelephoneNumbers]) tokens.push(...values(t));
  for (const t of [Tags.PatientAddress, Tags.ReferringPhysicianAddress]) {
    for (const v of values(t)) tokens.push(v, ...v.split(/[,;\n]+/).map((p) => p.trim()).filter((p) => p.length >= 4));
  }
  if (!profile.options.has('retain-institution-identity')) {
    for (const t of [Tags.InstitutionName, Tags.InstitutionAddress, Tags.InstitutionalDepartmentName]) {
      for (const v of values(t)) tokens.push(v, ...v.split(/[,;\n]+/).map((p) => p.trim()).filter((p) => p.length >= 4));
    }
  }
  if (!profile.options.has('retain-device-identity')) tokens.push(...values(Tags.StationName).filter((v) => v.length >= 3));
  tokens.push(...dateRenderings(text(findElement(ds, Tags.PatientBirthDate))));
  if (!profile.options.has('retain-longitudinal-full-dates')) {
    for (const t of [Tags.StudyDate, Tags.SeriesDate, Tags.AcquisitionDate, Tags.ContentDate]) tokens.push(...dateRenderings(text(findElement(ds, t))));
  }
  return tokens;
}

function processDataset(ds: Dataset, ctx: Ctx, mode: Mode, inherited: Charset, depth: number): Dataset {
  const scs = findElement(ds, Tags.SpecificCharacterSet);
  const cs = scs ? charsetFor(text(scs)) : inherited; // an item may declare its own set (PS3.5 7.5.3)
  const out: DataElement[] = [];
  const creators = new Map<Tag, DataElement>();
  const neededCreators = new Set<Tag>();
  for (const el of ds.elements) {
    const t = el.tag;
    if (elementOf(t) === 0x0000 || groupOf(t) === 0x0002) { ctx.counts.X++; continue; } // group lengths are retired; meta is rebuilt
    if (isPrivate(t)) {
      if (isPrivateCreator(t)) { creators.set(t, el); continue; }
      const creator = creators.get(privateCreatorTagOf(t));
      const safeVR = ctx.s.profile.options.has('retain-safe-private') && creator !== undefined && elementOf(t) >= 0x1000
        ? safePrivateVR(text(creator), groupOf(t), elementOf(t) & 0xff) : undefined;
      if (safeVR === undefined) { ctx.counts.X++; continue; }
      neededCreators.add(privateCreatorTagOf(t));
      // Read as UN (implicit VR): the table's VR applies, so a safe UID is mapped like any other (PS3.15 E.3.10, E.3.9).
      const typed = el.vr === 'UN' && /^[A-Z]{2}$/.test(safeVR) && safeVR !== 'SQ' ? { ...el, vr: safeVR as VR } : el;
      out.push(applyAction(typed.vr === 'UI' && !ctx.s.profile.options.has('retain-uids') ? 'U' : 'C', typed, ctx, 'clean', cs, depth)!);
      continue;
    }
    const g = groupOf(t);
    if ((g & 0xff00) === 0x6000 || (g & 0xff00) === 0x5000) {
      // Overlays and curves (PS3.15 E.1-1 (60xx,3000), (60xx,4000), (50xx,xxxx)): the whole group goes,
      // so no Overlay Rows/Columns are left without their data. With Clean Graphics, removal is the cleaning.
      ctx.counts.X++;
      continue;
    }
    const row = rowFor(t);
    const action = row ? resolveAction(row, ctx.s.profile, t) : outsideAction(t, el.vr, mode, ctx.s.profile);
    const next = applyAction(action, el, ctx, mode, cs, depth);
    if (next) out.push(next);
  }
  for (const c of neededCreators) { const el = creators.get(c); if (el) { out.push(el); ctx.counts.K++; } }
  for (const c of creators.keys()) if (!neededCreators.has(c)) ctx.counts.X++;
  out.sort((a, b) => a.tag - b.tag);
  return ds.undefinedLength ? { elements: out, undefinedLength: true } : { elements: out };
}

/**
 * Attributes Table E.1-1 does not list: the decision generated for each from the data dictionary
 * (outside-e1-1.ts). An attribute the dictionary edition does not know is removed. Where the
 * element's own VR is text but the decision is to keep (a VR the dictionary does not give it), the
 * text is scrubbed all the same. Inside a sequence the profile dummies (D) or cleans (C), free text
 * and dates alike.
 */
function outsideAction(t: Tag, vr: VR, mode: Mode, profile: Profile): Action | 'S' {
  let decision = outsideDecision(t);
  if (decision === undefined) return 'X';
  if (decision === 'K' && (isFreeText(vr) || vr === 'DA' || vr === 'DT')) decision = vr === 'PN' ? 'Z' : isFreeText(vr) ? 'S' : 'A';
  switch (decision) {
    case 'R': return vr === 'SQ' ? 'R' : 'X';
    case 'K': return vr === 'TM' && mode !== 'normal' ? dateAction(vr, mode, profile) : 'K';
    case 'U': return profile.options.has('retain-uids') ? 'K' : 'U';
    case 'X': return 'X';
    case 'Z': return mode === 'dummy' ? 'D' : 'Z';
    case 'E': return profile.options.has('retain-device-identity') ? 'K' : 'X';
    case 'A': return vr === 'TM' && mode === 'normal' ? 'K' : dateAction(vr, mode, profile);
    case 'S': return mode === 'dummy' ? 'D' : mode === 'clean' ? 'C' : 'S';
  }
}

/** Dates outside Table E.1-1: emptied unless a date option keeps or shifts them, so no original date survives. */
function dateAction(vr: VR, mode: Mode, profile: Profile): Action {
  if (profile.options.has('retain-longitudinal-full-dates')) return 'K';
  if (profile.options.has('retain-longitudinal-modified-dates')) return 'C';
  return mode === 'dummy' ? 'D' : vr === 'TM' ? 'K' : 'Z';
}

function applyAction(action: Action | 'S', el: DataElement, ctx: Ctx, mode: Mode, cs: Charset, depth: number): DataElement | undefined {
  const { counts } = ctx;
  switch (action) {
    case 'X':
      counts.X++;
      return undefined;
    case 'Z':
      if (depth === 0 && (el.tag === Tags.PatientName || el.tag === Tags.PatientID)) return pseudonymFor(el, ctx);
      counts.Z++;
      return el.vr === 'SQ' ? { tag: el.tag, vr: 'SQ', items: [] } : { tag: el.tag, vr: el.vr, value: Buffer.alloc(0) };
    case 'D':
      if (depth === 0 && (el.tag === Tags.PatientName || el.tag === Tags.PatientID)) return pseudonymFor(el, ctx);
      counts.D++;
      if (el.vr === 'SQ') return { ...el, items: (el.items ?? []).map((it) => processDataset(it, ctx, 'dummy', cs, depth + 1)) };
      if (el.vr === 'UI') return { tag: el.tag, vr: 'UI', value: mapUIDs(el, ctx) };
      return { tag: el.tag, vr: el.vr, value: dummyValue(el.vr) };
    case 'U':
      counts.U++;
      return el.vr === 'UI' ? { tag: el.tag, vr: 'UI', value: mapUIDs(el, ctx) } : { tag: el.tag, vr: el.vr, value: Buffer.alloc(0) };
    case 'K':
      counts.K++;
      if (el.items) return { ...el, items: el.items.map((it) => processDataset(it, ctx, mode, cs, depth + 1)) };
      return el;
    case 'R':
      counts.K++;
      return { ...el, items: (el.items ?? []).map((it) => processDataset(it, ctx, mode, cs, depth + 1)) };
    case 'C':
      counts.C++;
      if (el.items) return { ...el, items: el.items.map((it) => processDataset(it, ctx, 'clean', cs, depth + 1)) };
      return clean(el, ctx, cs, true);
    case 'S': {
      const next = clean(el, ctx, cs, false);
      if (next === el) counts.K++; else counts.C++;
      return next;
    }
  }
}

/** C on a value: dates shift with Modified Dates (else emptied), text loses identifying content. */
function clean(el: DataElement, ctx: Ctx, cs: Charset, patterns: boolean): DataElement {
  if (!el.value || el.value.length === 0) return el;
  if (el.vr === 'DA' || el.vr === 'DT') {
    if (ctx.s.profile.options.has('retain-longitudinal-full-dates')) return el;
    if (!ctx.s.profile.options.has('retain-longitudinal-modified-dates')) return { tag: el.tag, vr: el.vr, value: Buffer.alloc(0) };
    const v = text(el);
    return { tag: el.tag, vr: el.vr, value: ascii(el.vr === 'DA' ? shiftDA(v, ctx.dateOffset) : shiftDT(v, ctx.dateOffset)) };
  }
  if (el.vr === 'TM') return el; // times are kept when dates shift by whole days
  if (!isStringVR(el.vr)) return el;
  const before = cs.decode(el.value, el.vr);
  const after = scrubText(before, ctx.deny, patterns);
  if (after === before) return el;
  const max = MAX_LENGTH[el.vr];
  return { tag: el.tag, vr: el.vr, value: cs.encode(max ? after.split('\\').map((v) => [...v].slice(0, max).join('')).join('\\') : after, el.vr) };
}

function pseudonymFor(el: DataElement, ctx: Ctx): DataElement {
  ctx.counts.D++;
  return { tag: el.tag, vr: el.vr, value: ascii(el.tag === Tags.PatientName ? ctx.pseudonym.name : ctx.pseudonym.id) };
}

function mapUIDs(el: DataElement, ctx: Ctx): Buffer {
  // Well-known UIDs under the DICOM root (PS3.6 Annex A: classes, syntaxes, palettes) identify nobody and are kept.
  const mapped = text(el).split('\\').map((u) => (!u.trim() ? '' : u.trim().startsWith('1.2.840.10008.') ? u.trim() : pseudonymousUID(ctx.s.key, u.trim())));
  return ascii(mapped.join('\\'));
}

/** A non-identifying dummy value of the VR (PS3.15 E.3.1 action D). */
function dummyValue(vr: VR): Buffer {
  switch (vr) {
    case 'DA': return ascii('19000101');
    case 'DT': return ascii('19000101000000');
    case 'TM': return ascii('000000');
    case 'AS': return ascii('000Y');
    case 'DS': case 'IS': return ascii('0');
    case 'AE': case 'CS': case 'SH': return ascii('ANONYMIZED');
    case 'LO': case 'LT': case 'ST': case 'UT': case 'UC': case 'PN': return ascii('ANONYMIZED');
    case 'UR': return Buffer.alloc(0);
    case 'OB': case 'UN': return Buffer.alloc(2);
    default: return Buffer.alloc(BINARY_SIZE[vr] ?? 0);
  }
}

function item(code: Code): Dataset {
  return {
    elements: [
      { tag: Tags.CodeValue, vr: 'SH', value: ascii(code.CodeValue) },
      { tag: Tags.CodingSchemeDesignator, vr: 'SH', value: ascii(code.CodingSchemeDesignator) },
      { tag: Tags.CodeMeaning, vr: 'LO', value: ascii(code.CodeMeaning) },
    ],
  };
}

/** PS3.15 E.1.1 (6)-(7): Patient Identity Removed, De-identification Method and its code sequence. */
function addDeidentificationAttributes(ds: Dataset, profile: Profile, pixelsCleaned: boolean, faceChecked: boolean): void {
  // Clean Pixel Data is claimed only for instances whose pixels were cleaned; Clean Recognizable
  // Visual Features only for instances of a series defaced or found to show no face.
  const applied = [...profile.options].filter((o) => (o !== 'clean-pixel-data' || pixelsCleaned) && (o !== 'clean-recognizable-visual-features' || faceChecked)).sort();
  putElement(ds, { tag: Tags.PatientIdentityRemoved, vr: 'CS', value: ascii('YES') });
  putElement(ds, { tag: Tags.DeidentificationMethod, vr: 'LO', value: ascii([`Custos ${CUSTOS_VERSION}`, `PS3.15 ${TABLE_EDITION} Basic Profile`, ...applied].join('\\')) });
  putElement(ds, { tag: Tags.DeidentificationMethodCodeSequence, vr: 'SQ', items: [BASIC_PROFILE_CODE, ...applied.map((o) => OPTION_CODES[o])].map(item) });
  const dates = profile.options.has('retain-longitudinal-full-dates') ? 'UNMODIFIED' : profile.options.has('retain-longitudinal-modified-dates') ? 'MODIFIED' : 'REMOVED';
  putElement(ds, { tag: Tags.LongitudinalTemporalInformationModified, vr: 'CS', value: ascii(dates) });
}

/** After pixel cleaning: Burned In Annotation NO (PS3.15 E.3.2); after defacing: Recognizable Visual Features NO; and the pixel description of a new encoding. */
function describeCleanedPixels(ds: Dataset, c: CleanedPixels): void {
  if (c.text) putElement(ds, { tag: Tags.BurnedInAnnotation, vr: 'CS', value: ascii('NO') });
  if (c.visualFeatures) putElement(ds, { tag: 0x00280302, vr: 'CS', value: ascii('NO') }); // Recognizable Visual Features (PS3.3 C.7.6.1)
  if (!c.reencoded) return;
  const { photometricInterpretation: pi, samplesPerPixel } = c.reencoded;
  putElement(ds, { tag: 0x00280004, vr: 'CS', value: ascii(pi.length % 2 ? `${pi} ` : pi) });
  if (samplesPerPixel > 1) putElement(ds, { tag: 0x00280006, vr: 'US', value: Buffer.alloc(2) }); // Planar Configuration 0 (interleaved)
}
