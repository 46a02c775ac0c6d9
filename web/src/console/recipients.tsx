import { useState } from 'preact/hooks';
import type { RecipientSummary } from '../../../src/api/contract.ts';
import { api } from '../api.ts';
import { Loading, Problem, day, useLoad, when } from '../ui.tsx';

interface Vetting { version: number; status: string; filledBy: string; decidedBy?: string | null; changedAt: string }
interface Agreement { id: string; version: number; status: string; purposes: string[]; validFrom: string; validTo: string; retentionDays: number }
interface Policy {
  recipient: { id: string; version: number; purpose: string; organization: string; deid: { profile: string; options: string[]; key: string } };
  vetting: Vetting | null;
  agreements: Agreement[];
}

const PURPOSES = ['TREATDS', 'TREAT', 'MLTRAINING', 'HRESCH', 'CLINTRCH', 'HOPERAT'];

/** Runs a change, then reloads; the change's refusal (code and message) is shown where it was asked for. */
function useChange(reload: () => void): { busy: boolean; error: unknown; run: (f: () => Promise<unknown>) => Promise<void> } {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  return {
    busy, error,
    run: async (f) => {
      setBusy(true); setError(undefined);
      try { await f(); reload(); } catch (e) { setError(e); } finally { setBusy(false); }
    },
  };
}

function VettingForm({ id, done }: { id: string; done: () => void }) {
  const change = useChange(done);
  const [region, setRegion] = useState('');
  const [evidence, setEvidence] = useState('');
  const [retention, setRetention] = useState('');
  const [bau, setBau] = useState(true);
  const [trains, setTrains] = useState(false);
  const submit = (e: Event): void => {
    e.preventDefault();
    void change.run(() => api(`/api/recipients/${id}/vetting`, { method: 'POST', body: {
      storageRegion: region, encryptionAtRest: true, encryptionInTransit: true, subProcessors: [], breachNotificationHours: 72,
      trainsModelsThatLeave: trains, retentionAndDeletion: retention, certifications: [], businessAssociateAgreementSigned: bau, evidence,
    } }));
  };
  return (
    <form class="stack" onSubmit={submit} aria-label={`Vetting of ${id}`}>
      <label>Where the data is stored<input name="storageRegion" required value={region} onInput={(e) => setRegion(e.currentTarget.value)} /></label>
      <label>Retention and deletion<input name="retentionAndDeletion" required value={retention} onInput={(e) => setRetention(e.currentTarget.value)} /></label>
      <label>Evidence (document reference)<input name="evidence" required value={evidence} onInput={(e) => setEvidence(e.currentTarget.value)} /></label>
      <label class="inline"><input type="checkbox" checked={bau} onChange={(e) => setBau(e.currentTarget.checked)} />Business associate agreement signed</label>
      <label class="inline"><input type="checkbox" checked={trains} onChange={(e) => setTrains(e.currentTarget.checked)} />Models trained on the data leave the vendor</label>
      <button type="submit" disabled={change.busy}>Record vetting</button>
      <Problem error={change.error} />
    </form>
  );
}

function AgreementForm({ id, purpose, done }: { id: string; purpose: string; done: () => void }) {
  const change = useChange(done);
  const [until, setUntil] = useState(new Date(Date.now() + 365 * 86_400_000).toISOString().slice(0, 10));
  const [days, setDays] = useState('30');
  const [reference, setReference] = useState('');
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    const digest = Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(reference))), (b) => b.toString(16).padStart(2, '0')).join('');
    await change.run(() => api(`/api/recipients/${id}/agreements`, { method: 'POST', body: {
      purposes: [purpose], minimumDeid: { profile: 'basic', options: [], key: 'recipient' },
      validFrom: new Date().toISOString(), validTo: new Date(`${until}T23:59:59Z`).toISOString(), retentionDays: Number(days),
      document: { reference, sha256: digest },
    } }));
  };
  return (
    <form class="stack" onSubmit={submit} aria-label={`Agreement with ${id}`}>
      <label>Document (the signed agreement's reference)<input name="reference" required value={reference} onInput={(e) => setReference(e.currentTarget.value)} /></label>
      <label>Valid until<input name="validTo" type="date" required value={until} onInput={(e) => setUntil(e.currentTarget.value)} /></label>
      <label>Copies kept at most (days)<input name="retentionDays" type="number" min="0" required value={days} onInput={(e) => setDays(e.currentTarget.value)} /></label>
      <p class="muted">Covers the purpose {purpose}; requires the Basic Profile with pseudonyms keyed for this recipient.</p>
      <button type="submit" disabled={change.busy}>Record agreement</button>
      <Problem error={change.error} />
    </form>
  );
}

function RecipientPanel({ r, canAdmin, principal }: { r: RecipientSummary; canAdmin: boolean; principal: string }) {
  const policy = useLoad(() => api<Policy>(`/api/recipients/${r.id}/policy`), [r.id]);
  const decide = useChange(policy.reload);
  const p = policy.value;
  const v = p?.vetting;
  return (
    <article class="card" style={{ marginBottom: '1rem' }} aria-label={`Recipient ${r.id}`} data-testid={`recipient-${r.id}`}>
      <h2>{r.id}</h2>
      <p>{r.kind === 'dimse' ? 'DIMSE' : 'STOW-RS'} to <span class="code">{r.target}</span>; {r.profile === 'basic' ? `Basic Profile${r.options.length ? ` + ${r.options.join(', ')}` : ''}, pseudonyms keyed per ${r.key}` : 'originals (no de-identification)'}.
        {' '}Released {r.jobs.done ?? 0}, withheld {r.jobs.withheld ?? 0}.</p>
      <Problem error={policy.error} />
      {!p ? <Loading /> : (
        <>
          <p>Purpose: <strong>{p.recipient.purpose}</strong>. Vetting: {v
            ? <><span class={`badge ${v.status === 'approved' ? 'ok' : 'warn'}`} data-testid="vetting-status">{v.status}</span> (version {v.version}, filled in by {v.filledBy}{v.decidedBy ? `, ${v.status} by ${v.decidedBy}` : ''}, {day(v.changedAt)})</>
            : <span class="badge bad" data-testid="vetting-status">not vetted</span>}</p>
          {canAdmin && v && v.status === 'draft' && (v.filledBy === principal
            ? <p class="muted">Another privacy officer approves what you filled in (two-person rule).</p>
            : <p><button type="button" disabled={decide.busy} onClick={() => decide.run(() => api(`/api/recipients/${r.id}/vetting/decision`, { method: 'POST', body: { status: 'approved' } }))}>Approve vetting</button></p>)}
          {canAdmin && v && v.status === 'approved' && <p><button type="button" class="secondary" disabled={decide.busy} onClick={() => decide.run(() => api(`/api/recipients/${r.id}/vetting/decision`, { method: 'POST', body: { status: 'suspended' } }))}>Suspend</button></p>}
          <Problem error={decide.error} />
          <h3>Agreements</h3>
          {p.agreements.length === 0 ? <p class="muted">None: nothing is released to this recipient.</p> : (
            <ul>{p.agreements.map((a) => <li key={`${a.id}-${a.version}`}><span class="code">{a.id}</span> v{a.version}: {a.status}, {a.purposes.join(', ')}, valid {day(a.validFrom)}–{day(a.validTo)}, copies kept {a.retentionDays} days</li>)}</ul>
          )}
          {canAdmin && (
            <details>
              <summary>Record vetting or an agreement</summary>
              <h3>Vetting</h3><VettingForm id={r.id} done={policy.reload} />
              <h3>Agreement</h3><AgreementForm id={r.id} purpose={p.recipient.purpose} done={policy.reload} />
            </details>
          )}
        </>
      )}
    </article>
  );
}

function AddRecipient({ done }: { done: () => void }) {
  const [open, setOpen] = useState(false);
  const change = useChange(() => { setOpen(false); setId(''); setAeTitle(''); done(); });
  const [id, setId] = useState('');
  const [purpose, setPurpose] = useState('TREATDS');
  const [host, setHost] = useState('127.0.0.1');
  const [port, setPort] = useState('104');
  const [aeTitle, setAeTitle] = useState('');
  const [modalities, setModalities] = useState('');
  const submit = (e: Event): void => {
    e.preventDefault();
    const modality = modalities.split(/[\s,]+/).map((m) => m.trim().toUpperCase()).filter(Boolean);
    void change.run(() => api(`/api/recipients/${encodeURIComponent(id)}`, { method: 'PUT', body: {
      purpose, deliver: { kind: 'dimse', host, port: Number(port), aeTitle }, deid: { profile: 'basic', options: [], key: 'recipient' },
      match: modality.length ? { modality } : {},
    } }));
  };
  return (
    <details open={open} onToggle={(e) => setOpen((e.currentTarget as HTMLDetailsElement).open)}>
      <summary>Add a recipient</summary>
      <form class="stack" onSubmit={submit} aria-label="New recipient">
        <label>Recipient id<input name="id" required pattern="[A-Za-z0-9][A-Za-z0-9_-]{0,62}" value={id} onInput={(e) => setId(e.currentTarget.value)} /></label>
        <label>Purpose<select name="purpose" value={purpose} onChange={(e) => setPurpose(e.currentTarget.value)}>{PURPOSES.map((p) => <option key={p} value={p}>{p}</option>)}</select></label>
        <label>Host<input name="host" required value={host} onInput={(e) => setHost(e.currentTarget.value)} /></label>
        <label>Port<input name="port" type="number" min="1" max="65535" required value={port} onInput={(e) => setPort(e.currentTarget.value)} /></label>
        <label>AE title<input name="aeTitle" required maxLength={16} value={aeTitle} onInput={(e) => setAeTitle(e.currentTarget.value)} /></label>
        <label>Modalities it receives (e.g. CT, MR; empty: all)<input name="modalities" value={modalities} onInput={(e) => setModalities(e.currentTarget.value)} /></label>
        <p class="muted">Copies are de-identified with the Basic Profile and pseudonyms keyed for this recipient.</p>
        <button type="submit" disabled={change.busy}>Add recipient</button>
        <Problem error={change.error} />
      </form>
    </details>
  );
}

export function Recipients({ canAdmin, principal }: { canAdmin: boolean; principal: string }) {
  const list = useLoad(() => api<RecipientSummary[]>('/api/recipients'));
  return (
    <>
      <h1>Recipients</h1>
      <p class="muted">Nothing is released to a recipient until its vetting is approved and an agreement covering the purpose is in force. Updated {when(new Date().toISOString())}.</p>
      {canAdmin && <AddRecipient done={list.reload} />}
      <Problem error={list.error} />
      {!list.value ? <Loading /> : list.value.map((r) => <RecipientPanel key={r.id} r={r} canAdmin={canAdmin} principal={principal} />)}
    </>
  );
}
