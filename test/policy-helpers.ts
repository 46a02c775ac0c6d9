/**
 * Making recipients releasable in tests, the way a hospital does it: a vetting record filled in with
 * the admin token, approved by a privacy officer (another principal, signed in with a session), and
 * a data-use agreement valid now. Synthetic values only.
 */
import { randomBytes } from 'node:crypto';

export const VETTING_RECORD = {
  storageRegion: 'eu-central (synthetic)', encryptionAtRest: true, encryptionInTransit: true, subProcessors: [], breachNotificationHours: 72,
  trainsModelsThatLeave: false, retentionAndDeletion: 'deleted 30 days after use', certifications: ['ISO 27001'], businessAssociateAgreementSigned: true, evidence: 'test fixture',
};

export function agreementTerms(purposes: string[], over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    purposes, minimumDeid: { profile: 'none', options: [], key: 'deployment' },
    validFrom: new Date(Date.now() - 86_400_000).toISOString(), validTo: new Date(Date.now() + 365 * 86_400_000).toISOString(),
    retentionDays: 30, document: { reference: 'DUA test fixture', sha256: '0'.repeat(64) }, ...over,
  };
}

async function call(base: string, method: string, path: string, headers: Record<string, string>, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${base}${path}`, { method, headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) as Record<string, unknown> : {} };
}

/** A privacy officer's session (a new account): headers for changes made with it. */
export async function privacyOfficer(base: string, adminToken: string): Promise<Record<string, string>> {
  const auth = { authorization: `Bearer ${adminToken}` };
  const user = await call(base, 'POST', '/api/users', auth, { username: `po-${randomBytes(4).toString('hex')}`, role: 'privacy-officer' });
  if (user.status !== 201) throw new Error(`creating a privacy officer: ${user.status} ${JSON.stringify(user.body)}`);
  const res = await fetch(`${base}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: user.body.username, password: user.body.password }) });
  if (res.status !== 200) throw new Error(`signing in the privacy officer: ${res.status}`);
  const csrf = ((await res.json()) as { csrfToken: string }).csrfToken;
  return { cookie: String(res.headers.get('set-cookie')).split(';')[0]!, 'x-csrf-token': csrf };
}

/** Vet, approve and sign an agreement for each recipient, covering `purposes`. */
export async function allowReleases(base: string, adminToken: string, recipients: string[], purposes: string[], agreement: Record<string, unknown> = {}): Promise<void> {
  const auth = { authorization: `Bearer ${adminToken}` };
  const officer = await privacyOfficer(base, adminToken);
  for (const id of recipients) {
    const filled = await call(base, 'POST', `/api/recipients/${id}/vetting`, auth, VETTING_RECORD);
    if (filled.status !== 201) throw new Error(`vetting ${id}: ${filled.status} ${JSON.stringify(filled.body)}`);
    const approved = await call(base, 'POST', `/api/recipients/${id}/vetting/decision`, officer, { status: 'approved' });
    if (approved.status !== 200) throw new Error(`approving ${id}: ${approved.status} ${JSON.stringify(approved.body)}`);
    const signed = await call(base, 'POST', `/api/recipients/${id}/agreements`, auth, agreementTerms(purposes, agreement));
    if (signed.status !== 201) throw new Error(`agreement for ${id}: ${signed.status} ${JSON.stringify(signed.body)}`);
  }
}
