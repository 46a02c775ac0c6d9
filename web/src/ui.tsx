import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { SessionInfo } from '../../src/api/contract.ts';
import { ApiError, api, currentSession, useSession } from './api.ts';

/** Loads once (again when `deps` change): the value, the error, and a way to load again. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[] = []): { value: T | undefined; error: unknown; reload: () => void } {
  const [value, setValue] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setError(undefined);
    load().then((v) => { if (live) setValue(v); }, (e: unknown) => { if (live) setError(e); });
    return () => { live = false; };
  }, [...deps, tick]);
  return { value, error, reload: () => setTick((t) => t + 1) };
}

/** An error as a person can act on it: the message, and the code to quote when asking for help. */
export function Problem({ error }: { error: unknown }) {
  if (!error) return null;
  const code = error instanceof ApiError ? error.code : 'ERROR';
  const message = error instanceof Error ? error.message : String(error);
  return <p class="problem" role="alert"><strong>{message}</strong> <span class="code">({code})</span></p>;
}

export function Loading() {
  return <p class="muted" aria-live="polite">Loading…</p>;
}

export function Section({ title, children }: { title: string; children: ComponentChildren }) {
  return <section aria-label={title}><h2>{title}</h2>{children}</section>;
}

export const when = (iso: string | undefined | null): string => (iso ? new Date(iso).toLocaleString() : '—');
export const day = (iso: string | undefined | null): string => (iso ? new Date(iso).toLocaleDateString() : '—');

/** The hash route as path segments (#/studies/1.2.3 → ['studies', '1.2.3']). */
const hashRoute = (): string[] => location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);

/**
 * The app shell's state, shared by the console and the portal: the session (undefined while it is
 * asked for, null when signed out), the route, and signing in again and out.
 */
export function useShell(): {
  session: SessionInfo | null | undefined; error: unknown; path: string[];
  refresh: () => Promise<void>; signOut: () => Promise<void>;
} {
  const [session, setSession] = useState<SessionInfo | null | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [path, setPath] = useState(hashRoute());
  useEffect(() => {
    currentSession().then((s) => setSession(s ?? null), setError);
    const onHash = (): void => setPath(hashRoute());
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);
  return {
    session, error, path,
    refresh: async () => { setSession((await currentSession()) ?? null); },
    signOut: async () => { await api('/auth/logout', { method: 'POST' }); useSession(undefined); setSession(null); },
  };
}
