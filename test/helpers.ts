import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BufferSource } from '../src/dicom/byte-source.ts';
import type { DicomFile } from '../src/dicom/dataset.ts';
import { readDicom } from '../src/dicom/read.ts';

export const PYDICOM = '/usr/lib/python3/dist-packages/pydicom/data/test_files';
export const CHARSETS = '/usr/lib/python3/dist-packages/pydicom/data/charset_files';
export const REPO = new URL('..', import.meta.url).pathname;
export const SHARED = join(REPO, '..', 'shared', 'reference');

/**
 * A fresh directory under the system temp dir, removed when the test process exits (gateway tests
 * write a gigabyte each). CUSTOS_KEEP_TEST_DIRS=1 keeps them for a look after a failure.
 */
export function tempDir(prefix = 'custos-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  if (!process.env.CUSTOS_KEEP_TEST_DIRS) {
    if (!made.length) process.on('exit', () => { for (const d of made) rmSync(d, { recursive: true, force: true }); });
    made.push(dir);
  }
  return dir;
}
const made: string[] = [];

/** Copy a Debian sample file into `dir` and plant synthetic values with dcmtk's dcmodify (a real peer). */
export function plant(sample: string, dir: string, name: string, assignments: Record<string, string>): string {
  const dest = join(dir, name);
  copyFileSync(sample, dest);
  const args = ['-nb', '-q'];
  for (const [path, value] of Object.entries(assignments)) args.push('-i', `${path}=${value}`);
  execFileSync('dcmodify', [...args, dest], { stdio: 'pipe' });
  return dest;
}

/** dcmdump's reading of a file, converted to UTF-8 where dcmtk can (it cannot for some ISO 2022 sets). */
export function dcmdump(path: string): string {
  const r = spawnSync('dcmdump', ['+U8', '-q', path], { encoding: 'utf8' });
  if (r.status === 0 && !/^F: /m.test(r.stderr)) return r.stdout;
  return execFileSync('dcmdump', ['-q', path], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Error lines of dicom3tools' dciodvfy, normalised so input and output can be compared. */
export function dciodvfyErrors(path: string): string[] {
  const r = spawnSync('dciodvfy', [path], { encoding: 'utf8' });
  return (r.stderr + r.stdout)
    .split('\n')
    .filter((l) => /^Error/.test(l))
    .map((l) => l.replace(/\d+(\.\d+){2,}/g, '<uid>').trim())
    .sort();
}

export function parse(path: string): DicomFile {
  return readDicom(new BufferSource(readFileSync(path)));
}

/** Every regular file under a folder, recursively. */
export function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...filesUnder(p));
    else out.push(p);
  }
  return out.sort();
}

export function runCli(args: string[], opts: { cwd?: string; env?: Record<string, string>; input?: string } = {}): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(REPO, 'bin', 'custos.js'), ...args], {
    encoding: 'utf8',
    ...(opts.input !== undefined ? { input: opts.input } : {}),
    cwd: opts.cwd ?? REPO,
    env: { ...process.env, ...opts.env },
  });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
