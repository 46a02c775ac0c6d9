/** Timing command-line tools against each other in one run: rounds, medians, peak RSS, CPU (shared by the batch benches). */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, truncateSync } from 'node:fs';
import { join } from 'node:path';

export interface Tool { name: string; cmd: (out: string) => string[] }
export interface Result { name: string; seconds: number; rssKB: number; cpuSeconds?: number }

/** A self-signed certificate for gdcmanon -e (it encrypts the original attributes to it); returns its path. */
export function gdcmanonCertificate(work: string): string {
  const cert = join(work, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-keyout', join(work, 'key.pem'), '-out', cert, '-days', '1', '-nodes', '-subj', '/CN=bench'], { stdio: 'ignore' });
  return cert;
}

/**
 * Free a run's output without deleting files: every file is truncated to nothing and the folders are
 * removed when the bench ends. This machine's root file system is ext4 without a journal, where every
 * file creation scans past the inodes deleted in the last minute (the kernel's recently_deleted check;
 * perf showed 15 % of a run's CPU there when it followed the deletion of 2,000 files). Deleting one
 * tool's output before the next tool's run would slow whichever tool came next.
 */
export function release(dir: string): void {
  let entries;
  try { entries = readdirSync(dir, { withFileTypes: true }); } catch { return; }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) release(p);
    else if (e.isFile()) truncateSync(p, 0);
  }
}

/**
 * Median wall time and peak RSS of each command, via GNU time, in rounds (every tool once per
 * round, so that a slow spell of this shared machine hits all of them), each run on a fresh
 * output folder under `work` after `sync`: the previous run's writes are on disk before the clock starts.
 */
export function measureAll(tools: Tool[], runs: number, work: string): Result[] {
  const samples = tools.map(() => [] as Array<{ s: number; rss: number; cpu: number }>);
  mkdirSync(work, { recursive: true });
  for (let i = 0; i < runs; i++) {
    tools.forEach((tool, k) => {
      const out = join(work, `${tool.name.replace(/[^a-z0-9]+/gi, '-')}-${i}`);
      const argv = tool.cmd(out);
      execFileSync('sync');
      const t = performance.now();
      const r = spawnSync('/usr/bin/time', ['-f', '%M %U %S', ...argv], { encoding: 'utf8' });
      const s = (performance.now() - t) / 1000;
      if (r.status !== 0) throw new Error(`${tool.name} failed: ${r.stderr}`);
      const [rss, user, sys] = r.stderr.trim().split('\n').pop()!.split(' ').map(Number) as [number, number, number];
      samples[k]!.push({ s, rss, cpu: user + sys });
      release(out);
    });
  }
  return tools.map((tool, k) => {
    const list = samples[k]!.sort((a, b) => a.s - b.s);
    const median = list[Math.floor(runs / 2)]!;
    return { name: tool.name, seconds: median.s, rssKB: Math.max(...list.map((x) => x.rss)), cpuSeconds: median.cpu };
  });
}
