import { type Delivery, type Forwarder, type Outgoing, failAll } from '../pipeline/forwarder.ts';
import { encodeMultipart } from './multipart.ts';

export interface StowDestination { url: string; headers?: Record<string, string> | undefined; timeoutMs: number }

type DicomJson = Record<string, { vr: string; Value?: unknown[] }>;

const uidsIn = (json: DicomJson | undefined, seq: string): Map<string, number | undefined> => {
  const out = new Map<string, number | undefined>();
  for (const item of (json?.[seq]?.Value ?? []) as DicomJson[]) {
    const uid = item['00081155']?.Value?.[0];
    if (typeof uid === 'string') out.set(uid, item['00081197']?.Value?.[0] as number | undefined);
  }
  return out;
};

/** STOW-RS client (PS3.18 10.5): one request per batch, per-instance outcome from the response. */
export class StowForwarder implements Forwarder {
  private readonly dest: StowDestination;

  constructor(dest: StowDestination) {
    this.dest = dest;
  }

  async deliver(items: readonly Outgoing[]): Promise<Delivery[]> {
    if (!items.length) return [];
    const { parts, contentType } = encodeMultipart(items.map((i) => i.part10), 'application/dicom');
    let res: Response;
    try {
      res = await fetch(`${this.dest.url.replace(/\/+$/, '')}/studies`, {
        method: 'POST',
        headers: { ...this.dest.headers, 'content-type': contentType, accept: 'application/dicom+json' },
        body: Buffer.concat(parts),
        signal: AbortSignal.timeout(this.dest.timeoutMs),
      });
    } catch (e) {
      const cause = (e as { cause?: NodeJS.ErrnoException }).cause;
      return failAll(items.length, 'STOW_FAILED', `cannot reach the recipient: ${cause?.code ?? (e as Error).name}`);
    }
    const text = await res.text().catch(() => '');
    let json: DicomJson | undefined;
    try { json = text ? JSON.parse(text) as DicomJson : undefined; } catch { json = undefined; }
    if (res.status !== 200 && res.status !== 202 && res.status !== 409) {
      // 4xx other than timeouts and throttling will fail again the same way.
      const permanent = res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429;
      return failAll(items.length, 'STOW_FAILED', `the recipient answered HTTP ${res.status}`, permanent);
    }
    const failed = uidsIn(json, '00081198');
    const stored = uidsIn(json, '00081199');
    return items.map((it) => {
      if (failed.has(it.sopInstanceUID)) {
        const reason = failed.get(it.sopInstanceUID);
        return { ok: false, code: 'STOW_FAILED', message: `the recipient refused the instance (HTTP ${res.status}, failure reason ${reason ?? 'not given'})`, permanent: reason !== undefined && (reason & 0xf000) === 0xc000 };
      }
      if (res.status === 200 || stored.has(it.sopInstanceUID)) return { ok: true, status: res.status };
      return { ok: false, code: 'STOW_FAILED', message: `the recipient's response (HTTP ${res.status}) does not list the instance as stored`, permanent: false };
    });
  }
}
