/**
 * The embedded database's commits reach the disk: PGlite runs PostgreSQL with fsync off and its
 * Emscripten file system has no fsync, so src/store/pglite-worker.ts turns both on. Checked at the
 * system-call level with strace (a real tracer, not a counter inside the code under test).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO, tempDir } from './helpers.ts';

test('a commit in the embedded database returns only after an fsync of its write-ahead log', () => {
  const work = tempDir('custos-durable-');
  const trace = join(work, 'strace.txt');
  // Markers in the trace: a directory made just before the commit and one just after it returns.
  const script = `
    import { mkdirSync } from 'node:fs';
    import { openDatabase } from ${JSON.stringify(join(REPO, 'src', 'store', 'database.ts'))};
    const db = await openDatabase({ dir: ${JSON.stringify(join(work, 'db'))} });
    mkdirSync(${JSON.stringify(join(work, 'before-commit'))});
    await db.query("INSERT INTO events (kind) VALUES ('job.requeued')");
    mkdirSync(${JSON.stringify(join(work, 'after-commit'))});
    await db.close();`;
  writeFileSync(join(work, 'commit.mjs'), script);
  const r = spawnSync('strace', ['-f', '-qq', '-y', '-e', 'trace=fsync,fdatasync,mkdir,mkdirat', '-o', trace, process.execPath, join(work, 'commit.mjs')], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, `${r.stderr}`.slice(-2000));
  const lines = readFileSync(trace, 'utf8').split('\n');
  const at = (name: string): number => lines.findIndex((l) => l.includes(`${name}"`) && /mkdir/.test(l));
  const [from, to] = [at('before-commit'), at('after-commit')];
  assert.ok(from >= 0 && to > from, 'both markers are in the trace');
  const synced = lines.slice(from, to).filter((l) => /^\d+\s+f(data)?sync\(\d+<[^>]*\/db\/pg_wal\/[0-9A-F]{24}>\) = 0/.test(l));
  assert.ok(synced.length >= 1, `no fsync of the WAL between the commit's start and its return:\n${lines.slice(from, to + 1).join('\n').slice(0, 2000)}`);
});
