/**
 * Real network peers for the gateway tests, all on 127.0.0.1: dcmtk storescp/storescu, Orthanc
 * (with its DICOMweb plugin) and the gateway itself as a `custos serve` child process.
 * storescp and Orthanc listen on every interface, so the tests that use them run inside a private
 * network namespace (see inPrivateNetwork) where the only interface is loopback.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { REPO } from './helpers.ts';

/** True inside the namespace made by inPrivateNetwork. */
export const IN_NETNS = process.env.CUSTOS_TEST_NETNS === '1';

/**
 * How to make a private network namespace here: `unshare -n` as root, else `-rn` (a user namespace
 * maps us to root inside it). Undefined when neither works (a container without the privilege).
 */
export const NETNS_FLAG: string | undefined = ['-n', '-rn'].find((flag) => spawnSync('unshare', [flag, 'sh', '-c', 'ip link set lo up'], { stdio: 'ignore' }).status === 0);

/**
 * Run this test file again inside `unshare -n` (a network namespace with only loopback).
 * Returns the child's exit status and output.
 */
export function rerunInPrivateNetwork(file: string): { status: number; output: string } {
  if (!NETNS_FLAG) throw new Error('no private network namespace can be made here (unshare -n and -rn both failed)');
  const r = spawnSync('unshare', [NETNS_FLAG, 'sh', '-c', 'ip link set lo up && exec "$0" --test --test-reporter=spec "$1"', process.execPath, file], {
    // Without NODE_TEST_CONTEXT the inner `node --test` runs as a test runner of its own.
    env: { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_TEST_CONTEXT')), CUSTOS_TEST_NETNS: '1', TCP_NODELAY: '1' },
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  return { status: r.status ?? -1, output: `${r.stdout}\n${r.stderr}` };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => resolve(p)); });
  });
}

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 30_000, everyMs = 100): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) { last = e; }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export interface Peer { port: number; proc: ChildProcess; stop(): Promise<void> }

const stopper = (proc: ChildProcess) => (): Promise<void> => new Promise((resolve) => {
  if (proc.exitCode !== null || proc.signalCode !== null) { resolve(); return; }
  proc.once('exit', () => resolve());
  proc.kill('SIGTERM');
});

/** dcmtk storescp writing every instance it receives under `dir` (accepts compressed syntaxes). */
export async function startStorescp(dir: string, aeTitle = 'STORESCP', syntaxes = '+xa', verbose = true): Promise<Peer & { log: () => string }> {
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  // Verbose, storescp also prints a progress dot per PDU received (33 writes per CT slice from a sender
  // using 16 KiB PDUs, each read by this process): benchmarks, which do not read its log, run it quiet.
  const proc = spawn('storescp', [...(verbose ? ['-v'] : []), '--aetitle', aeTitle, syntaxes, '--output-directory', dir, String(port)], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TCP_NODELAY: '1' } });
  let log = '';
  proc.stdout!.on('data', (d: Buffer) => { log += d.toString(); });
  proc.stderr!.on('data', (d: Buffer) => { log += d.toString(); });
  await waitFor('storescp', () => new Promise<true | undefined>((resolve) => {
    const r = spawnSync('echoscu', ['-aec', aeTitle, '127.0.0.1', String(port)], { env: { ...process.env, TCP_NODELAY: '1' } });
    resolve(r.status === 0 ? true : undefined);
  }));
  return { port, proc, stop: stopper(proc), log: () => log };
}

export interface OrthancPeer extends Peer { http: string; dicomPort: number; aeTitle: string }

/** Orthanc with the DICOMweb plugin: DICOM and HTTP on free ports, no authentication. */
export async function startOrthanc(work: string, aeTitle = 'ORTHANC', extra: Record<string, unknown> = {}): Promise<OrthancPeer> {
  mkdirSync(join(work, 'db'), { recursive: true });
  const [httpPort, dicomPort] = [await freePort(), await freePort()];
  writeFileSync(join(work, 'orthanc.json'), JSON.stringify({
    Name: 'custos-test', StorageDirectory: join(work, 'db'), IndexDirectory: join(work, 'db'), HttpPort: httpPort,
    DicomServerEnabled: true, DicomPort: dicomPort, DicomAet: aeTitle, DicomCheckCalledAet: false, DicomAlwaysAllowStore: true,
    RemoteAccessAllowed: false, AuthenticationEnabled: false, StorageCompression: false,
    Plugins: ['/usr/share/orthanc/plugins/libOrthancDicomWeb.so'], DicomWeb: { Enable: true, Root: '/dicom-web/' }, ...extra,
  }));
  const proc = spawn('Orthanc', [join(work, 'orthanc.json')], { stdio: 'ignore', env: { ...process.env, TCP_NODELAY: '1' } });
  const http = `http://127.0.0.1:${httpPort}`;
  await waitFor('Orthanc', async () => ((await fetch(`${http}/system`)).ok ? true : undefined));
  return { port: httpPort, dicomPort, aeTitle, http, proc, stop: stopper(proc) };
}

export interface GatewayProc { proc: ChildProcess; dimsePort: number; http: string; /** fetch with the data directory's initial admin token */ api: typeof fetch; output: () => string; stop(signal?: NodeJS.Signals): Promise<void> }

/** The admin API token a new data directory was given on first start (initial-admin.json). */
export function tokenOf(dataDir: string): string {
  return (JSON.parse(readFileSync(join(dataDir, 'initial-admin.json'), 'utf8')) as { token: string }).token;
}

/** fetch() with a bearer token. */
export function authed(token: string): typeof fetch {
  return (input, init = {}) => fetch(input, { ...init, headers: { ...(init.headers as Record<string, string> | undefined), authorization: `Bearer ${token}` } });
}

/**
 * `custos serve` as a child process, with a config file; resolves once it printed its addresses.
 * `command` starts custos: by default this checkout's bin on the test's Node, or an installed one.
 */
export async function startGatewayProcess(dataDir: string, config: unknown, extraEnv: Record<string, string> = {}, command: string[] = [process.execPath, join(REPO, 'bin', 'custos.js')]): Promise<GatewayProc> {
  mkdirSync(dataDir, { recursive: true });
  const cfgPath = join(dataDir, '..', `${dataDir.split('/').pop()}-config.json`);
  writeFileSync(cfgPath, JSON.stringify(config, null, 2));
  const proc = spawn(command[0]!, [...command.slice(1), 'serve', '--config', cfgPath, '--data-dir', dataDir, '--dimse-port', '0', '--http-port', '0'], {
    env: { ...process.env, TCP_NODELAY: '1', ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  proc.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
  const ready = await waitFor('the gateway to start', () => {
    if (proc.exitCode !== null) throw new Error(`custos serve exited with ${proc.exitCode}:\n${out}`);
    const dimse = /DIMSE\s+\S+@[\d.]+:(\d+)/.exec(out);
    const http = /HTTP\s+(http:\/\/\S+)/.exec(out);
    return dimse && http ? { dimsePort: Number(dimse[1]), http: http[1]! } : undefined;
  }, 60_000).catch((e: unknown) => {
    // One that never finished starting must not outlive the test or bench (found running on, busy,
    // after a bench gave up on it, and slowing every later measurement).
    proc.kill('SIGKILL');
    throw e;
  });
  return {
    proc, ...ready, api: authed(tokenOf(dataDir)), output: () => out,
    stop: (signal: NodeJS.Signals = 'SIGTERM') => new Promise((resolve) => {
      if (proc.exitCode !== null || proc.signalCode !== null) { resolve(); return; }
      proc.once('exit', () => resolve());
      proc.kill(signal);
    }),
  };
}

/** storescu the files to a DIMSE peer; returns its exit status and output. dcmsend keeps compressed syntaxes. */
export function storescu(port: number, aeTitle: string, files: string[], callingAe = 'MODALITY', tool: 'storescu' | 'dcmsend' = 'storescu'): Promise<{ status: number; output: string }> {
  return new Promise((resolve) => {
    const p = spawn(tool, ['-aet', callingAe, '-aec', aeTitle, '127.0.0.1', String(port), ...files], { env: { ...process.env, TCP_NODELAY: '1' } });
    let output = '';
    p.stdout.on('data', (d: Buffer) => { output += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { output += d.toString(); });
    p.on('exit', (code) => resolve({ status: code ?? -1, output }));
  });
}

/** fetch() as the admin of an in-process gateway (its data directory's initial token). */
export const api = (gw: { dataDir: string }): typeof fetch => authed(tokenOf(gw.dataDir));
