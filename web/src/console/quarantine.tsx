import { useState } from 'preact/hooks';
import { api } from '../api.ts';
import { Loading, Problem, Section, useLoad, when } from '../ui.tsx';

interface Quarantined { id: number; receivedAt: string; source: string; callingAeTitle: string | null; code: string; reason: string; bytes: number; sha256: string; kept: boolean }
interface Job { id: number; instanceId: number; recipient: string; state: string; attempts: number; lastErrorCode: string | null; lastError: string | null; updatedAt: string }

/** Jobs held back (burned-in text, kinds of objects) or failed: the reason, and a retry for those allowed to. */
function Jobs({ state, title, canRetry }: { state: 'held' | 'dead'; title: string; canRetry: boolean }) {
  const jobs = useLoad(() => api<Job[]>(`/api/jobs?state=${state}&limit=200`));
  const [error, setError] = useState<unknown>(undefined);
  const retry = async (id: number): Promise<void> => {
    setError(undefined);
    try { await api(`/api/jobs/${id}/retry`, { method: 'POST' }); jobs.reload(); } catch (e) { setError(e); }
  };
  return (
    <Section title={title}>
      <Problem error={jobs.error ?? error} />
      {!jobs.value ? <Loading /> : jobs.value.length === 0 ? <p>None.</p> : (
        <div class="table-wrap"><table aria-label={title}>
          <thead><tr><th scope="col">Job</th><th scope="col">Recipient</th><th scope="col">Why</th><th scope="col">Since</th>{canRetry && <th scope="col"><span class="muted">Action</span></th>}</tr></thead>
          <tbody>{jobs.value.map((j) => (
            <tr key={j.id}>
              <td>{j.id} (instance {j.instanceId})</td><td>{j.recipient}</td>
              <td><span class="code">{j.lastErrorCode}</span>{j.lastError ? ` — ${j.lastError}` : ''}</td><td>{when(j.updatedAt)}</td>
              {canRetry && <td><button type="button" class="secondary" onClick={() => retry(j.id)}>Retry</button></td>}
            </tr>
          ))}</tbody>
        </table></div>
      )}
    </Section>
  );
}

export function Quarantine({ can }: { can: (permission: string) => boolean }) {
  const rows = useLoad(() => api<Quarantined[]>('/api/quarantine'));
  return (
    <>
      <h1>Quarantine and held back</h1>
      <p class="muted">Retrying a held-back job sends it through the same checks again: what was held for burned-in text is held again unless the recipient's profile cleans pixel data.</p>
      <Section title="Refused on arrival (quarantine)">
        <Problem error={rows.error} />
        {!rows.value ? <Loading /> : rows.value.length === 0 ? <p>Nothing was refused.</p> : (
          <div class="table-wrap"><table aria-label="Quarantine">
            <thead><tr><th scope="col">When</th><th scope="col">From</th><th scope="col">Why</th><th scope="col">Size</th><th scope="col">Kept</th></tr></thead>
            <tbody>{rows.value.map((q) => (
              <tr key={q.id}><td>{when(q.receivedAt)}</td><td>{q.source}{q.callingAeTitle ? ` (${q.callingAeTitle})` : ''}</td><td><span class="code">{q.code}</span> — {q.reason}</td><td>{q.bytes} bytes</td><td>{q.kept ? 'encrypted' : 'record only'}</td></tr>
            ))}</tbody>
          </table></div>
        )}
      </Section>
      {can('jobs:read') && <Jobs state="held" title="Held back" canRetry={can('jobs:write')} />}
      {can('jobs:read') && <Jobs state="dead" title="Failed" canRetry={can('jobs:write')} />}
    </>
  );
}
