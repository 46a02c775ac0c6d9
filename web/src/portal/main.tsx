import { render } from 'preact';
import { useState } from 'preact/hooks';
import type { SessionInfo } from '../../../src/api/contract.ts';
import { api, useSession } from '../api.ts';
import { Loading, Problem, useShell } from '../ui.tsx';
import { About, CheckCopy, Choices, MyCopy, WhereWent } from './pages.tsx';
import '../styles.css';

const PAGES = [
  { path: '', title: 'How your images are used' },
  { path: 'where', title: 'Where my images went' },
  { path: 'choices', title: 'My choices' },
  { path: 'copy', title: 'My copy' },
  { path: 'check', title: 'Check a copy' },
] as const;

function CodeSignIn({ onSignedIn }: { onSignedIn: () => Promise<void> }) {
  const [code, setCode] = useState('');
  const [error, setError] = useState<unknown>(undefined);
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    setError(undefined);
    try {
      useSession(await api<SessionInfo>('/portal/session', { method: 'POST', body: { code: code.trim() } }));
      await onSignedIn();
    } catch (err) { setError(err); }
  };
  return (
    <main id="main">
      <h1>See what happens to your medical images</h1>
      <p>Enter the access code the hospital gave you. It works once, for you only.</p>
      <form class="stack" onSubmit={submit}>
        <label>Access code<input name="code" autocomplete="one-time-code" required value={code} onInput={(e) => setCode(e.currentTarget.value)} /></label>
        <button type="submit">Continue</button>
        <Problem error={error} />
      </form>
    </main>
  );
}

function Portal() {
  const { session, error, path: segments, refresh, signOut } = useShell();
  const path = segments[0] ?? '';
  if (error) return <main><Problem error={error} /></main>;
  if (session === undefined) return <main><Loading /></main>;
  if (session === null || session.kind !== 'patient') return <CodeSignIn onSignedIn={refresh} />;
  return (
    <>
      <header class="top">
        <span class="brand">Your images</span>
        <nav aria-label="Main"><ul>{PAGES.map((p) => <li key={p.path}><a href={`#/${p.path}`} aria-current={path === p.path ? 'page' : undefined}>{p.title}</a></li>)}</ul></nav>
        <button class="link" type="button" onClick={signOut}>Sign out</button>
      </header>
      <main id="main">{path === 'where' ? <WhereWent /> : path === 'choices' ? <Choices /> : path === 'copy' ? <MyCopy /> : path === 'check' ? <CheckCopy /> : <About />}</main>
    </>
  );
}

render(<Portal />, document.getElementById('app')!);
