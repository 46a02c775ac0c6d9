/**
 * The `custos` command however it is installed (issue 29): a global install (npm install -g of the
 * package, in a temporary prefix) run with the machine's own Node first on PATH — older than the Node
 * 24 the sources need — re-executes itself on the package's Node 24; so do npx and node_modules/.bin.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO, tempDir } from './helpers.ts';

const MACHINE_PATH = '/usr/local/bin:/usr/bin:/bin';

test('custos installed globally runs on the machine\'s Node: --version and a small deid', { timeout: 300_000 }, () => {
  const work = tempDir('custos-install-');
  const prefix = join(work, 'prefix');
  const npm = spawnSync('npm', ['install', '-g', '--prefix', prefix, '--no-audit', '--no-fund', REPO], { encoding: 'utf8', env: { ...process.env } });
  assert.equal(npm.status, 0, npm.stderr);
  const env = { ...process.env, PATH: `${join(prefix, 'bin')}:${MACHINE_PATH}` };
  const machineNode = spawnSync('node', ['--version'], { encoding: 'utf8', env });
  const v = spawnSync('custos', ['--version'], { encoding: 'utf8', env });
  assert.equal(v.status, 0, `${machineNode.stdout.trim()}: ${v.stderr}`);
  assert.match(v.stdout, /^\d+\.\d+\.\d+\n$/);
  const d = spawnSync('custos', ['deid', join(REPO, 'examples'), '--out', join(work, 'out'), '--data-dir', join(work, 'data'), '-q'], { encoding: 'utf8', env });
  assert.equal(d.status, 0, d.stderr);
  assert.ok(existsSync(join(work, 'out', 'custos-receipt.json')));
  // A usage error keeps its exit status through the re-execution.
  assert.equal(spawnSync('custos', ['deid'], { encoding: 'utf8', env }).status, 2);
});

test('npx custos answers --version in the project, and bin/custos.js under the machine\'s Node', () => {
  const npx = spawnSync('npx', ['custos', '--version'], { encoding: 'utf8', cwd: REPO, env: { ...process.env, PATH: MACHINE_PATH } });
  assert.equal(npx.status, 0, npx.stderr);
  assert.match(npx.stdout, /^\d+\.\d+\.\d+\n$/);
  const direct = spawnSync('node', [join(REPO, 'bin', 'custos.js'), '--version'], { encoding: 'utf8', env: { ...process.env, PATH: MACHINE_PATH } });
  assert.equal(direct.status, 0, direct.stderr);
});

test('./custos, the README\'s command in the project folder, runs on the project\'s Node 24 from any folder, and keeps exit statuses', () => {
  const env = { ...process.env, PATH: MACHINE_PATH };
  const v = spawnSync(join(REPO, 'custos'), ['--version'], { encoding: 'utf8', cwd: '/', env });
  assert.equal(v.status, 0, v.stderr);
  assert.match(v.stdout, /^\d+\.\d+\.\d+\n$/);
  const work = tempDir('custos-launcher-');
  const d = spawnSync(join(REPO, 'custos'), ['deid', join(REPO, 'examples'), '--out', join(work, 'out'), '--data-dir', join(work, 'data'), '-q'], { encoding: 'utf8', env });
  assert.equal(d.status, 0, d.stderr);
  assert.ok(existsSync(join(work, 'out', 'custos-receipt.json')));
  assert.equal(spawnSync(join(REPO, 'custos'), ['deid'], { encoding: 'utf8', env }).status, 2);
});
