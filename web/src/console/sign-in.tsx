import { useState } from 'preact/hooks';
import type { SessionInfo } from '../../../src/api/contract.ts';
import { api, useSession } from '../api.ts';
import { Problem } from '../ui.tsx';

export function SignIn({ onSignedIn }: { onSignedIn: () => Promise<void> }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      useSession(await api<SessionInfo>('/auth/login', { method: 'POST', body: { username, password } }));
      await onSignedIn();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main id="main">
      <h1>Sign in to the Custos console</h1>
      <form class="stack" onSubmit={submit}>
        <label>User name<input name="username" autocomplete="username" required value={username} onInput={(e) => setUsername(e.currentTarget.value)} /></label>
        <label>Password<input name="password" type="password" autocomplete="current-password" required value={password} onInput={(e) => setPassword(e.currentTarget.value)} /></label>
        <button type="submit" disabled={busy}>Sign in</button>
        <Problem error={error} />
      </form>
      <p class="muted">With single sign-on configured: <a href="/auth/oidc/login">sign in with your organisation's account</a>. Patients: <a href="/portal/">the patient portal</a>.</p>
    </main>
  );
}
