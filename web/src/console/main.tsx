import { render } from 'preact';
import { Loading, Problem, useShell } from '../ui.tsx';
import { Audit } from './audit.tsx';
import { Dashboard } from './dashboard.tsx';
import { Patients } from './patients.tsx';
import { Quarantine } from './quarantine.tsx';
import { Recipients } from './recipients.tsx';
import { SignIn } from './sign-in.tsx';
import { Studies, StudyPage } from './studies.tsx';
import '../styles.css';

/** Pages of the console: shown only to a role whose permissions they need (the API refuses anyway). */
const PAGES = [
  { path: '', title: 'Dashboard', permission: 'status:read' },
  { path: 'studies', title: 'Studies', permission: 'studies:read' },
  { path: 'recipients', title: 'Recipients', permission: 'recipients:read' },
  { path: 'quarantine', title: 'Quarantine', permission: 'quarantine:read' },
  { path: 'patients', title: 'Patients', permission: 'consent:read' },
  { path: 'audit', title: 'Audit', permission: 'audit:read' },
] as const;

function App() {
  const { session, error, path, refresh, signOut } = useShell();
  if (error) return <main><Problem error={error} /></main>;
  if (session === undefined) return <main><Loading /></main>;
  if (session === null || session.kind !== 'user') return <SignIn onSignedIn={refresh} />;
  const can = (p: string): boolean => (session.permissions ?? []).includes(p);
  const pages = PAGES.filter((p) => can(p.permission));
  const [first, ...rest] = path;
  let body;
  if (!pages.some((p) => p.path === (first ?? ''))) body = <p role="alert">This page is not available to your role ({session.role}).</p>;
  else if (first === undefined) body = <Dashboard />;
  else if (first === 'studies') body = rest[0] ? <StudyPage study={rest[0]} /> : <Studies />;
  else if (first === 'recipients') body = <Recipients canAdmin={can('recipients:admin')} principal={session.principal} />;
  else if (first === 'patients') body = <Patients can={can} />;
  else if (first === 'quarantine') body = <Quarantine can={can} />;
  else body = <Audit />;
  return (
    <>
      <header class="top">
        <span class="brand">Custos console</span>
        <nav aria-label="Main">
          <ul>{pages.map((p) => <li key={p.path}><a href={`#/${p.path}`} aria-current={(first ?? '') === p.path ? 'page' : undefined}>{p.title}</a></li>)}</ul>
        </nav>
        <span>{session.principal} ({session.role})</span>
        <button class="link" type="button" onClick={signOut}>Sign out</button>
      </header>
      <main id="main">{body}</main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
