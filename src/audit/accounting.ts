import type { RecipientConfig } from '../config/gateway-config.ts';
import type { Queryable } from '../store/database.ts';

/*
 * The accounting of disclosures of one patient (HIPAA 45 CFR 164.528, docs/accountability.md):
 * every release, grouped per recipient, study, series and outcome — when, to whom, for what purpose,
 * how many instances, the de-identification applied, the consents and agreement that allowed it,
 * and whether the recipient attested deletion — and every release withheld, with why.
 */

export interface AccountingRow {
  recipient: string;
  purpose: string | null;
  studyInstanceUid: string;
  seriesInstanceUid: string;
  outcome: 'released' | 'withheld';
  instances: number;
  firstAt: string;
  lastAt: string;
  /** Released: the de-identification of the recipient's current definition (profile, options, key). */
  deidentification?: { profile: string; options: string[]; key: string } | undefined;
  /** Released: what the releases went out under (distinct bases: consents with versions, agreement). */
  basis?: Array<{ consents: unknown; agreement: unknown; siteMode: unknown }> | undefined;
  /** Released: how many the recipient attested deleting. */
  deletionAttested?: number | undefined;
  /** Withheld: the reason codes. */
  reasons?: string[] | undefined;
}

interface Row { recipient: string; study: string; series: string; state: 'done' | 'withheld'; n: number; first_at: string; last_at: string; bases: unknown; reasons: unknown; attested: number }

const parse = (v: unknown): unknown => (typeof v === 'string' ? JSON.parse(v) : v);

export async function accountingFor(db: Queryable, patientRef: string, recipients: readonly RecipientConfig[]): Promise<AccountingRow[]> {
  const rows = await db.query<Row>(
    `SELECT j.recipient, i.study_instance_uid AS study, i.series_instance_uid AS series, j.state, count(DISTINCT j.id)::int AS n,
            min(coalesce(j.done_at, j.updated_at)) AS first_at, max(coalesce(j.done_at, j.updated_at)) AS last_at,
            coalesce(jsonb_agg(DISTINCT jsonb_build_object('consents', j.release_basis->'consents', 'agreement', j.release_basis->'agreement', 'siteMode', j.release_basis->'siteMode'))
              FILTER (WHERE j.release_basis IS NOT NULL), '[]'::jsonb) AS bases,
            coalesce(jsonb_agg(DISTINCT r.code) FILTER (WHERE r.code IS NOT NULL), '[]'::jsonb) AS reasons,
            count(DISTINCT a.job_id)::int AS attested
       FROM jobs j JOIN instances i ON i.id = j.instance_id
       LEFT JOIN LATERAL (SELECT x->>'code' AS code FROM jsonb_array_elements(coalesce(j.withheld_reasons, '[]'::jsonb)) x) r ON true
       LEFT JOIN deletion_attestations a ON a.job_id = j.id
      WHERE i.patient_ref = $1 AND j.state IN ('done', 'withheld')
      GROUP BY 1, 2, 3, 4 ORDER BY max(coalesce(j.done_at, j.updated_at)) DESC, 1, 2, 3`, [patientRef]);
  return rows.map((r) => {
    const cfg = recipients.find((x) => x.id === r.recipient);
    const base = { recipient: r.recipient, purpose: cfg?.purpose ?? null, studyInstanceUid: r.study, seriesInstanceUid: r.series, instances: Number(r.n), firstAt: new Date(r.first_at).toISOString(), lastAt: new Date(r.last_at).toISOString() };
    if (r.state === 'withheld') return { ...base, outcome: 'withheld' as const, reasons: (parse(r.reasons) as string[]).sort() };
    return {
      ...base, outcome: 'released' as const,
      deidentification: cfg ? { profile: cfg.deid.profile, options: [...cfg.deid.options], key: cfg.deid.key } : undefined,
      basis: parse(r.bases) as AccountingRow['basis'],
      deletionAttested: Number(r.attested),
    };
  });
}

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The accounting as a letter the hospital can send (HTML, printable; no identifiers beyond the patient's own study UIDs). */
export function accountingLetter(rows: readonly AccountingRow[], hospital: string, now = new Date()): string {
  const released = rows.filter((r) => r.outcome === 'released');
  const withheld = rows.filter((r) => r.outcome === 'withheld');
  const tr = (cells: string[]): string => `<tr>${cells.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Accounting of disclosures</title>
<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}table{border-collapse:collapse;width:100%}td,th{border:1px solid #999;padding:.3em;text-align:left;font-size:.9em}</style></head>
<body>
<h1>Where your images went</h1>
<p>${esc(hospital)}, ${esc(now.toISOString().slice(0, 10))}. This is the record of every time copies of your medical images were sent outside the hospital through its imaging gateway, and of every time a transfer was stopped.</p>
<h2>Sent (${released.length})</h2>
${released.length ? `<table><tr><th>When</th><th>To</th><th>Purpose</th><th>Study</th><th>Images</th><th>Names and identifiers removed</th><th>Deleted by the recipient</th></tr>
${released.map((r) => tr([r.lastAt.slice(0, 10), r.recipient, r.purpose ?? '', r.studyInstanceUid, String(r.instances), r.deidentification?.profile === 'basic' ? 'yes' : 'no (sent inside the hospital)', `${r.deletionAttested ?? 0} of ${r.instances}`])).join('\n')}</table>` : '<p>None.</p>'}
<h2>Stopped (${withheld.length})</h2>
${withheld.length ? `<table><tr><th>When</th><th>To</th><th>Purpose</th><th>Study</th><th>Images</th><th>Why</th></tr>
${withheld.map((r) => tr([r.lastAt.slice(0, 10), r.recipient, r.purpose ?? '', r.studyInstanceUid, String(r.instances), (r.reasons ?? []).join(', ')])).join('\n')}</table>` : '<p>None.</p>'}
</body></html>
`;
}
