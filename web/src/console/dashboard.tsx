import type { ServiceStatus } from '../../../src/api/contract.ts';
import type { ActivityHour } from '../../../src/store/instance-queries.ts';
import { api } from '../api.ts';
import { useState } from 'preact/hooks';
import { Loading, Problem, Section, useLoad, when } from '../ui.tsx';

interface Metrics { forwarded: number; latencyMs: { p50: number | null; p95: number | null; p99: number | null; max: number | null }; overdueDeletionAttestations: number; openIntegrityAlerts: number }
interface Alert { id: number; sweep: number; status: 'tampered' | 'inserted' | 'missing'; studyInstanceUid: string; sopInstanceUid: string; logIndex: number | null; reason: string }
interface WitnessStatus { witness: string; cosignedSize: number | null; lastAttemptAt: string | null; lastError: { code: string; message: string } | null }

/** Integrity alerts from PACS sweeps (docs/integrity.md): each one needs someone to look, then acknowledge it. */
function IntegrityAlerts() {
  const alerts = useLoad(() => api<Alert[]>('/api/alerts'));
  const witnesses = useLoad(() => api<WitnessStatus[]>('/api/witnesses'));
  const [failed, setFailed] = useState<unknown>(undefined);
  const acknowledge = async (id: number): Promise<void> => {
    try { await api(`/api/alerts/${id}/acknowledge`, { method: 'POST' }); setFailed(undefined); alerts.reload(); } catch (e) { setFailed(e); }
  };
  const refused = (witnesses.value ?? []).filter((w) => w.lastError);
  return (
    <Section title="Integrity alerts">
      <Problem error={alerts.error ?? failed} />
      {refused.map((w) => <p key={w.witness} class="problem" role="alert">Witness <strong>{w.witness}</strong> did not cosign the log: <span class="code">{w.lastError!.code}</span> — {w.lastError!.message}</p>)}
      {alerts.value && (alerts.value.length === 0 ? <p class="muted">No open alert: the last sweeps found nothing tampered, inserted or missing.</p> : (
        <div class="table-wrap"><table>
          <thead><tr><th scope="col">Finding</th><th scope="col">Instance</th><th scope="col">What</th><th scope="col">Action</th></tr></thead>
          <tbody>{alerts.value.map((a) => <tr key={a.id}>
            <td><strong>{a.status}</strong></td>
            <td><span class="code">{a.sopInstanceUid}</span><div class="muted">study <span class="code">{a.studyInstanceUid}</span>{a.logIndex !== null ? `, log #${a.logIndex}` : ''}</div></td>
            <td>{a.reason}</td>
            <td><button type="button" onClick={() => void acknowledge(a.id)}>Acknowledge</button></td>
          </tr>)}</tbody>
        </table></div>
      ))}
    </Section>
  );
}
interface Defacing { id: number; outcome: string; ears: boolean; createdAt: string; report: { modality?: string; acquisition?: string; slices?: number; instances?: number; brainMl?: number; removedMl?: number; code?: string; message?: string; why?: string }; renders?: { before: string; after: string } }

/** Defacing reviews (docs/deid.md): what each head series looked like after; the original only on request (it shows the face). */
function DefacingReviews() {
  const list = useLoad(() => api<Defacing[]>('/api/defacing?limit=20'));
  const [shown, setShown] = useState<Record<number, boolean>>({});
  return (
    <Section title="Defacing">
      <Problem error={list.error} />
      {list.value && (list.value.length === 0 ? <p class="muted">No CT or MR series has been defaced yet.</p> : (
        <div class="table-wrap"><table>
          <thead><tr><th scope="col">When</th><th scope="col">Series</th><th scope="col">Outcome</th><th scope="col">After</th><th scope="col">Before</th></tr></thead>
          <tbody>{list.value.map((d) => <tr key={d.id}>
            <td>{when(d.createdAt)}</td>
            <td>{d.report.modality ?? ''} {d.report.acquisition ?? ''}, {d.report.slices ?? d.report.instances ?? '?'} slices{d.ears ? ', ears' : ''}</td>
            <td><strong>{d.outcome}</strong>{d.report.brainMl ? <div class="muted">brain {d.report.brainMl} mL, removed {d.report.removedMl} mL</div> : null}
              {d.report.code ? <div><span class="code">{d.report.code}</span> — {d.report.message}</div> : null}{d.report.why ? <div class="muted">{d.report.why}</div> : null}</td>
            <td>{d.renders ? <img src={d.renders.after} alt={`Surface rendering after defacing, series ${d.id}`} width={160} /> : '—'}</td>
            <td>{d.renders ? (shown[d.id]
              ? <img src={d.renders.before} alt={`Surface rendering of the original, series ${d.id}`} width={160} />
              : <button type="button" onClick={() => setShown({ ...shown, [d.id]: true })}>Show the original (face)</button>) : '—'}</td>
          </tr>)}</tbody>
        </table></div>
      ))}
    </Section>
  );
}

interface Job { id: number; recipient: string; updatedAt: string; withheldReasons: Array<{ code: string; detail?: string }> | null }

const SERIES = [
  { key: 'received', label: 'Received', color: '#0b5394' },
  { key: 'released', label: 'Released', color: '#1e6b30' },
  { key: 'withheld', label: 'Withheld', color: '#8a4b00' },
  { key: 'held', label: 'Held back', color: '#6a3d9a' },
  { key: 'failed', label: 'Failed', color: '#a4161a' },
] as const;

/** Grouped bars per hour, drawn as SVG (a chart library would be most of the bundle for this). */
function ActivityChart({ hours }: { hours: ActivityHour[] }) {
  const w = 720, h = 180, pad = 24;
  const max = Math.max(1, ...hours.flatMap((x) => SERIES.map((s) => x[s.key])));
  const slot = (w - pad) / hours.length;
  const bar = Math.max(1, slot / (SERIES.length + 1));
  return (
    <figure>
      <svg class="chart" viewBox={`0 0 ${w} ${h + 20}`} role="img" aria-label="Instances received, released, withheld, held back and failed per hour, last 24 hours">
        {hours.map((x, i) => SERIES.map((s, k) => {
          const v = x[s.key];
          const bh = (v / max) * (h - 10);
          return <rect key={`${i}-${s.key}`} x={pad + i * slot + k * bar} y={h - bh} width={bar} height={bh} fill={s.color}><title>{`${new Date(x.hour).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })} ${s.label}: ${v}`}</title></rect>;
        }))}
        <line x1={pad} y1={h} x2={w} y2={h} stroke="#4a5663" />
        <text x="0" y="12">{max}</text>
        <text x={pad} y={h + 16}>{new Date(hours[0]!.hour).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}</text>
        <text x={w - 40} y={h + 16}>now</text>
      </svg>
      <figcaption>{SERIES.map((s) => <span key={s.key} style={{ marginRight: '1rem' }}><span aria-hidden="true" style={{ color: s.color }}>■</span> {s.label}</span>)}</figcaption>
    </figure>
  );
}

export function Dashboard() {
  const status = useLoad(() => api<ServiceStatus>('/api/status'));
  const metrics = useLoad(() => api<Metrics>('/api/metrics?window=1000'));
  const activity = useLoad(() => api<ActivityHour[]>('/api/activity?hours=24'));
  const denials = useLoad(() => api<Job[]>('/api/jobs?state=withheld&limit=10'));
  const checkpoint = useLoad(async () => (await fetch('/log/checkpoint')).text());
  const s = status.value;
  const j = s?.jobs ?? {};
  return (
    <>
      <h1>Dashboard</h1>
      <Problem error={status.error ?? metrics.error ?? activity.error} />
      {!s ? <Loading /> : (
        <div class="cards" aria-label="Totals">
          <div class="card"><span class="n" data-testid="received">{s.instances}</span>instances received</div>
          <div class="card"><span class="n" data-testid="released">{j.done ?? 0}</span>released</div>
          <div class="card"><span class="n" data-testid="withheld">{j.withheld ?? 0}</span>withheld</div>
          <div class="card"><span class="n">{j.held ?? 0}</span>held back</div>
          <div class="card"><span class="n">{j.dead ?? 0}</span>failed</div>
          <div class="card"><span class="n">{(j.pending ?? 0) + (j.running ?? 0)}</span>in the queue</div>
          <div class="card"><span class="n">{s.quarantined}</span>quarantined</div>
          <div class="card"><span class="n">{s.logSize}</span>log entries</div>
        </div>
      )}
      <IntegrityAlerts />
      <DefacingReviews />
      <Section title="Last 24 hours">{activity.value ? <ActivityChart hours={activity.value} /> : <Loading />}</Section>
      <Section title="Transparency log">
        {checkpoint.value ? <>
          <p>Latest signed checkpoint (anyone can fetch it at <a href="/log/checkpoint">/log/checkpoint</a>): size <strong>{checkpoint.value.split('\n')[1]}</strong>, root <span class="code">{checkpoint.value.split('\n')[2]}</span>.</p>
        </> : <Loading />}
      </Section>
      <Section title="Delivery">
        {metrics.value ? (
          <p>Acknowledged → delivered, last {metrics.value.forwarded} releases: median {metrics.value.latencyMs.p50 ?? '—'} ms, 99th percentile {metrics.value.latencyMs.p99 ?? '—'} ms.
            {' '}Overdue deletion attestations: <strong>{metrics.value.overdueDeletionAttestations}</strong>. Open integrity alerts: <strong>{metrics.value.openIntegrityAlerts}</strong>.</p>
        ) : <Loading />}
      </Section>
      <Section title="Recent denials">
        <Problem error={denials.error} />
        {denials.value && (denials.value.length === 0 ? <p class="muted">No release was withheld.</p> : (
          <div class="table-wrap"><table>
            <thead><tr><th scope="col">When</th><th scope="col">Recipient</th><th scope="col">Why</th></tr></thead>
            <tbody>{denials.value.map((d) => <tr key={d.id}><td>{when(d.updatedAt)}</td><td>{d.recipient}</td><td>{(d.withheldReasons ?? []).map((r) => <div key={r.code}><span class="code">{r.code}</span>{r.detail ? ` — ${r.detail}` : ''}</div>)}</td></tr>)}</tbody>
          </table></div>
        ))}
      </Section>
    </>
  );
}
