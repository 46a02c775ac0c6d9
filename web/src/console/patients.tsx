import { useState } from 'preact/hooks';
import { api } from '../api.ts';
import { Loading, Problem, Section, day, useLoad, when } from '../ui.tsx';

interface ConsentEntry { resource: { id: string; meta?: { versionId?: string; lastUpdated?: string }; status: string; dateTime?: string; patient?: { identifier?: { system?: string } }; provision?: { type?: string; purpose?: Array<{ code?: string }>; provision?: Array<{ type?: string; purpose?: Array<{ code?: string }>; actor?: Array<{ reference?: { reference?: string } }> }> } } }
interface Hold { id: number; patientRef: string | null; studyInstanceUid: string | null; reason: string; createdBy: string; createdAt: string; releasedAt: string | null }

/** A provision in words: "deny MLTRAINING", "permit TREATDS; deny Organization/x". */
function provisionText(p: ConsentEntry['resource']['provision']): string {
  if (!p) return '—';
  const one = (q: { type?: string; purpose?: Array<{ code?: string }>; actor?: Array<{ reference?: { reference?: string } }> }): string =>
    [q.type ?? '', ...(q.purpose ?? []).map((x) => x.code ?? ''), ...(q.actor ?? []).map((a) => a.reference?.reference ?? '')].filter(Boolean).join(' ');
  return [one(p), ...(p.provision ?? []).map(one)].filter(Boolean).join('; ');
}

function Consents() {
  const [patient, setPatient] = useState('');
  const [asked, setAsked] = useState('');
  const found = useLoad(async () => (asked ? api<{ entry?: ConsentEntry[] }>(`/fhir/Consent?patient:identifier=${encodeURIComponent(asked)}`) : undefined), [asked]);
  return (
    <Section title="Consents of a patient">
      <form class="stack" aria-label="Find consents" onSubmit={(e) => { e.preventDefault(); setAsked(patient.trim()); }}>
        <label>Patient (issuer of Patient ID|Patient ID; no issuer: |ID)<input name="patient" required value={patient} onInput={(e) => setPatient(e.currentTarget.value)} /></label>
        <button type="submit">Find</button>
      </form>
      <Problem error={found.error} />
      {asked && !found.value && !found.error && <Loading />}
      {found.value && ((found.value.entry ?? []).length === 0 ? <p>No consent recorded for this patient: the site's defaults apply.</p> : (
        <div class="table-wrap"><table aria-label="Consents">
          <thead><tr><th scope="col">Consent</th><th scope="col">Version</th><th scope="col">Status</th><th scope="col">Provisions</th><th scope="col">Recorded by</th><th scope="col">Updated</th></tr></thead>
          <tbody>{found.value.entry!.map((e) => (
            <tr key={e.resource.id} data-testid="consent-row">
              <td class="code">{e.resource.id}</td><td>{e.resource.meta?.versionId}</td><td>{e.resource.status}</td>
              <td>{provisionText(e.resource.provision)}</td>
              <td>{e.resource.patient?.identifier?.system === 'urn:custos:patient-ref' ? 'the patient (portal)' : 'staff'}</td>
              <td>{when(e.resource.meta?.lastUpdated)}</td>
            </tr>
          ))}</tbody>
        </table></div>
      ))}
    </Section>
  );
}

function LegalHolds() {
  const holds = useLoad(() => api<Hold[]>('/api/legal-holds'));
  const [patient, setPatient] = useState('');
  const [reason, setReason] = useState('');
  const [error, setError] = useState<unknown>(undefined);
  const place = async (e: Event): Promise<void> => {
    e.preventDefault(); setError(undefined);
    try { await api('/api/legal-holds', { method: 'POST', body: { patient, reason } }); setPatient(''); setReason(''); holds.reload(); } catch (err) { setError(err); }
  };
  const release = async (id: number): Promise<void> => {
    setError(undefined);
    try { await api(`/api/legal-holds/${id}/release`, { method: 'POST', body: {} }); holds.reload(); } catch (err) { setError(err); }
  };
  return (
    <Section title="Legal holds">
      <p class="muted">A hold keeps a patient's data past its retention until it is released.</p>
      <Problem error={holds.error ?? error} />
      {!holds.value ? <Loading /> : holds.value.length === 0 ? <p>No hold has been placed.</p> : (
        <ul>{holds.value.map((h) => (
          <li key={h.id} data-testid="hold">
            Hold {h.id} on {h.patientRef ? 'a patient' : `study ${h.studyInstanceUid}`}: {h.reason} — placed by {h.createdBy} {day(h.createdAt)}
            {h.releasedAt ? `, released ${day(h.releasedAt)}` : <> <button type="button" class="secondary" onClick={() => release(h.id)}>Release</button></>}
          </li>
        ))}</ul>
      )}
      <form class="stack" aria-label="Place a legal hold" onSubmit={place}>
        <label>Patient (issuer|Patient ID)<input name="holdPatient" required value={patient} onInput={(e) => setPatient(e.currentTarget.value)} /></label>
        <label>Reason<input name="holdReason" required minLength={3} value={reason} onInput={(e) => setReason(e.currentTarget.value)} /></label>
        <button type="submit">Place hold</button>
      </form>
    </Section>
  );
}

function Erase() {
  const [patient, setPatient] = useState('');
  const [reason, setReason] = useState('');
  const [confirm, setConfirm] = useState('');
  const [result, setResult] = useState<unknown>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault(); setError(undefined); setResult(undefined);
    try { setResult(await api('/api/patients/erase', { method: 'POST', body: { patient, reason } })); } catch (err) { setError(err); }
  };
  return (
    <Section title="Erase a patient's data">
      <p>The patient's key is destroyed: every copy the gateway holds becomes unreadable and is deleted, queued work stops, and recipients holding releases are asked to delete them. The audit trail stays. This cannot be undone.</p>
      <form class="stack" aria-label="Erase" onSubmit={submit}>
        <label>Patient (issuer|Patient ID)<input name="erasePatient" required value={patient} onInput={(e) => setPatient(e.currentTarget.value)} /></label>
        <label>Reason (e.g. the request's reference)<input name="eraseReason" required minLength={3} value={reason} onInput={(e) => setReason(e.currentTarget.value)} /></label>
        <label>Type ERASE to confirm<input name="eraseConfirm" required value={confirm} onInput={(e) => setConfirm(e.currentTarget.value)} /></label>
        <button type="submit" disabled={confirm !== 'ERASE'}>Erase</button>
      </form>
      <Problem error={error} />
      {result !== undefined && <pre class="code" role="status">{JSON.stringify(result, null, 2)}</pre>}
    </Section>
  );
}

export function Patients({ can }: { can: (permission: string) => boolean }) {
  return (
    <>
      <h1>Patients</h1>
      {can('consent:read') && <Consents />}
      {can('retention:admin') && <LegalHolds />}
      {can('patients:erase') && <Erase />}
    </>
  );
}
