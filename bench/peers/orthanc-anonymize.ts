/**
 * Peer harness: Orthanc (Debian package) anonymizing instances it stores, through its REST API
 * (POST /instances/{id}/anonymize, which returns the anonymized file). Run inside a private network
 * namespace (Orthanc listens on every interface): bench/deid-throughput.ts starts it with
 * `unshare -n`. Uploading is not timed; anonymizing every instance (2 requests at a time) is.
 * Prints {"seconds": s, "instances": n, "rssKB": peak RSS of Orthanc}.
 * Usage: node bench/peers/orthanc-anonymize.ts <in> <out> <work dir>
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [input, output, work] = process.argv.slice(2) as [string, string, string];
const port = 18042;
mkdirSync(join(work, 'db'), { recursive: true });
mkdirSync(output, { recursive: true });
writeFileSync(join(work, 'orthanc.json'), JSON.stringify({
  Name: 'custos-bench', StorageDirectory: join(work, 'db'), IndexDirectory: join(work, 'db'), HttpPort: port,
  DicomServerEnabled: false, RemoteAccessAllowed: false, AuthenticationEnabled: false, StorageCompression: false, Plugins: [],
}));
const orthanc = spawn('Orthanc', [join(work, 'orthanc.json')], { stdio: 'ignore' });
const base = `http://127.0.0.1:${port}`;
for (let i = 0; ; i++) {
  try { await fetch(`${base}/system`); break; } catch { if (i > 100) throw new Error('Orthanc did not start'); await new Promise((r) => setTimeout(r, 100)); }
}
const ids: string[] = [];
for (const name of readdirSync(input).sort()) {
  const r = await fetch(`${base}/instances`, { method: 'POST', body: readFileSync(join(input, name)) });
  ids.push(((await r.json()) as { ID: string }).ID);
}
const t0 = performance.now();
let next = 0;
await Promise.all([0, 1].map(async () => {
  while (next < ids.length) {
    const i = next++;
    const r = await fetch(`${base}/instances/${ids[i]}/anonymize`, { method: 'POST', body: '{}' });
    writeFileSync(join(output, `${i}.dcm`), Buffer.from(await r.arrayBuffer()));
  }
}));
const seconds = (performance.now() - t0) / 1000;
const status = readFileSync(`/proc/${orthanc.pid}/status`, 'utf8');
const rssKB = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
orthanc.kill();
console.log(JSON.stringify({ seconds, instances: ids.length, rssKB }));
