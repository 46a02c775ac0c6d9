import type { StudySummary } from '../../../src/api/contract.ts';
import type { StudyTimeline } from '../../../src/store/instance-queries.ts';
import { api } from '../api.ts';
import { Loading, Problem, useLoad, when } from '../ui.tsx';

const STATE: Record<string, { label: string; tone: string }> = {
  done: { label: 'released', tone: 'ok' }, withheld: { label: 'withheld', tone: 'warn' }, held: { label: 'held back', tone: 'warn' },
  dead: { label: 'failed', tone: 'bad' }, pending: { label: 'waiting', tone: '' }, running: { label: 'on its way', tone: '' },
};

export function Studies() {
  const studies = useLoad(() => api<StudySummary[]>('/api/studies?limit=200'));
  return (
    <>
      <h1>Studies</h1>
      <p class="muted">Studies are listed by their Study Instance UID: identifiers of patients are not shown here.</p>
      <Problem error={studies.error} />
      {!studies.value ? <Loading /> : studies.value.length === 0 ? <p>No study has been received yet.</p> : (
        <div class="table-wrap"><table>
          <thead><tr><th scope="col">Study</th><th scope="col">Modalities</th><th scope="col">Instances</th><th scope="col">Last received</th><th scope="col">Released</th><th scope="col">Withheld</th></tr></thead>
          <tbody>{studies.value.map((s) => (
            <tr key={s.studyInstanceUid}>
              <td><a class="uid" href={`#/studies/${encodeURIComponent(s.studyInstanceUid)}`}>{s.studyInstanceUid}</a></td>
              <td>{s.modalities.join(', ')}</td><td>{s.instances}</td><td>{when(s.lastReceivedAt)}</td>
              <td>{s.jobs.done ?? 0}</td><td>{s.jobs.withheld ?? 0}</td>
            </tr>
          ))}</tbody>
        </table></div>
      )}
    </>
  );
}

/** One study: each instance received → logged → and, per recipient, released, withheld (why), held or failed. */
export function StudyPage({ study }: { study: string }) {
  const t = useLoad(() => api<StudyTimeline>(`/api/studies/${encodeURIComponent(study)}`), [study]);
  return (
    <>
      <p><a href="#/studies">← Studies</a></p>
      <h1>Study <span class="uid">{study}</span></h1>
      <Problem error={t.error} />
      {!t.value ? <Loading /> : t.value.instances.map((i) => (
        <article key={i.id} class="card" style={{ marginBottom: '.75rem' }} aria-label={`Instance ${i.sopInstanceUid}`}>
          <p><strong>Instance</strong> <span class="uid">{i.sopInstanceUid}</span> {i.modality ? `(${i.modality})` : ''}</p>
          <ol class="timeline">
            <li>Received {when(i.receivedAt)}</li>
            <li>{i.logIndex !== null ? <>Recorded in the transparency log, entry <span class="code">{i.logIndex}</span></> : 'Not yet recorded in the log'}</li>
            {i.jobs.map((j) => (
              <li key={j.id} data-testid={`job-${j.recipient}`}>
                {j.recipient}: <span class={`badge ${STATE[j.state]?.tone ?? ''}`}>{STATE[j.state]?.label ?? j.state}</span>{' '}
                {j.state === 'done' ? <>de-identified and delivered {when(j.doneAt)} as <span class="uid">{j.outputSopInstanceUid}</span></> : null}
                {j.reasons.length ? <> — {j.reasons.map((r) => <span key={r} class="code">{r} </span>)}</> : null}
                {j.lastErrorCode ? <> — <span class="code">{j.lastErrorCode}</span></> : null}
              </li>
            ))}
          </ol>
        </article>
      ))}
    </>
  );
}
