/*
 * Purposes of use (HL7 v3-ActReason, http://terminology.hl7.org/CodeSystem/v3-ActReason) that a
 * release can be made for, and how they nest. Only the codes Custos decides on are listed.
 */

export const ACT_REASON = 'http://terminology.hl7.org/CodeSystem/v3-ActReason';

/** Each purpose with its parent in the v3-ActReason hierarchy (undefined: a root here). */
const PARENT: Readonly<Record<string, string | undefined>> = {
  TREAT: undefined,
  TREATDS: 'TREAT', // treatment decision support: an AI reading that informs care
  HOPERAT: undefined,
  HRESCH: undefined,
  BIORCH: 'HRESCH',
  CLINTRCH: 'HRESCH',
  CLINTRCHNPC: 'CLINTRCH',
  CLINTRCHPC: 'CLINTRCH',
  PRECLINTRCH: 'HRESCH',
  DSRCH: 'HRESCH',
  POARCH: 'HRESCH',
  TRANSRCH: 'HRESCH',
  MLTRAINING: undefined, // see denyAncestors
};

export const PURPOSES: readonly string[] = Object.keys(PARENT);

export const isPurpose = (code: string): boolean => code in PARENT;

/** The purpose and its ancestors, nearest first. */
export function lineage(purpose: string): string[] {
  const out: string[] = [];
  for (let p: string | undefined = purpose; p !== undefined && !out.includes(p); p = PARENT[p]) out.push(p);
  return out;
}

/**
 * What a permission for `granted` covers: the purpose itself and every purpose below it. A research
 * permit (HRESCH) does not extend to training machine-learning models: MLTRAINING is asked for by
 * name.
 */
export function permitCovers(granted: string, purpose: string): boolean {
  return lineage(purpose).includes(granted);
}

/**
 * What a refusal of `refused` covers: everything a permit would, and also MLTRAINING under a
 * research refusal (a patient who refuses research refuses having models trained on their images).
 */
export function denyCovers(refused: string, purpose: string): boolean {
  if (permitCovers(refused, purpose)) return true;
  return purpose === 'MLTRAINING' && refused === 'HRESCH';
}
