import type { SessionInfo } from '../../src/api/contract.ts';

/** An API refusal with its stable code (docs/errors.md) and message. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

let csrf: string | undefined;

/** The CSRF token of the cookie session: every change made with the session carries it. */
export function useSession(s: SessionInfo | undefined): void {
  csrf = s?.csrfToken;
}

/** Call the gateway's API with the session cookie; JSON in and out; a refusal throws ApiError. */
export async function api<T>(path: string, init: { method?: string; body?: unknown } = {}): Promise<T> {
  const method = init.method ?? 'GET';
  const headers: Record<string, string> = { accept: 'application/json' };
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrf) headers['x-csrf-token'] = csrf;
  const res = await fetch(path, { method, headers, credentials: 'same-origin', ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}) });
  const text = await res.text();
  const body: unknown = text ? (() => { try { return JSON.parse(text); } catch { return text; } })() : undefined;
  if (!res.ok) {
    const e = body as { error?: string; message?: string } | undefined;
    throw new ApiError(res.status, e?.error ?? `HTTP_${res.status}`, e?.message ?? res.statusText);
  }
  return body as T;
}

/** The signed-in principal, or undefined when there is no session. */
export async function currentSession(): Promise<SessionInfo | undefined> {
  try {
    const s = await api<SessionInfo>('/auth/session');
    useSession(s);
    return s;
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return undefined;
    throw e;
  }
}
