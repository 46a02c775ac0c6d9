import { patientRef } from '../store/data-keys.ts';

/* FHIR search parameter values (http://hl7.org/fhir/R4/search.html), shared by the /fhir routes and the accounting. */

/** Every value of a parameter, repeated or comma-separated. */
export const list = (v: string | string[] | undefined): string[] => (Array.isArray(v) ? v : v === undefined ? [] : [v]).flatMap((x) => x.split(',')).filter(Boolean);

/** A token: `system|value`, `|value` or `value`. */
export function token(v: string): { system: string | undefined; value: string } {
  const bar = v.indexOf('|');
  return bar < 0 ? { system: undefined, value: v } : { system: v.slice(0, bar), value: v.slice(bar + 1) };
}

/** A patient named as `<issuer of Patient ID>|<Patient ID>` (or the Patient ID alone), as the gateway's keyed reference. */
export function patientRefOf(deploymentKey: Buffer, patient: string): string {
  const t = token(patient);
  return patientRef(deploymentKey, t.value, t.system ?? '');
}
