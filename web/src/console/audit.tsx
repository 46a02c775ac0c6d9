import { useState } from 'preact/hooks';
import { api } from '../api.ts';
import { Loading, Problem, useLoad, when } from '../ui.tsx';

interface AuditRow { id: number; at: string; kind: string; instanceId: number | null; jobId: number | null; recipient: string | null; detail: Record<string, unknown> | null }

export function Audit() {
  const [kind, setKind] = useState('');
  const [filter, setFilter] = useState('');
  const rows = useLoad(() => api<AuditRow[]>(`/api/audit?limit=200${filter ? `&kind=${encodeURIComponent(filter)}` : ''}`), [filter]);
  const csv = (): string => ['id,at,kind,instance,job,recipient,detail', ...(rows.value ?? []).map((r) => [r.id, r.at, r.kind, r.instanceId ?? '', r.jobId ?? '', r.recipient ?? '', JSON.stringify(r.detail ?? {})].map((v) => `"${String(v).replace(/"/g, '""')}"`).join(','))].join('\n');
  return (
    <>
      <h1>Audit trail</h1>
      <form class="stack" onSubmit={(e) => { e.preventDefault(); setFilter(kind); }} aria-label="Filter">
        <label>Kind of event (e.g. <span class="code">job</span>, <span class="code">auth.login</span>)<input name="kind" value={kind} onInput={(e) => setKind(e.currentTarget.value)} /></label>
        <button type="submit">Filter</button>
      </form>
      {rows.value && <p><a download="custos-audit.csv" href={`data:text/csv;charset=utf-8,${encodeURIComponent(csv())}`}>Export these {rows.value.length} events (CSV)</a></p>}
      <Problem error={rows.error} />
      {!rows.value ? <Loading /> : (
        <div class="table-wrap"><table>
          <thead><tr><th scope="col">When</th><th scope="col">Event</th><th scope="col">Recipient</th><th scope="col">Detail</th></tr></thead>
          <tbody>{rows.value.map((r) => <tr key={r.id}><td>{when(r.at)}</td><td class="code">{r.kind}</td><td>{r.recipient ?? ''}</td><td class="code">{JSON.stringify(r.detail ?? {})}</td></tr>)}</tbody>
        </table></div>
      )}
    </>
  );
}
