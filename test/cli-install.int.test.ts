/**
 * The `custos` command however it is installed (issue 29): a global install (npm install -g of the
 * packed package, in a temporary prefix) run with the machine's own Node first on PATH — older than the Node
 * 24 the sources need — re-executes itself on the package's Node 24; so do npx and node_modules/.bin.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO, tempDir } from './helpers.ts';
import { startGatewayProcess } from './peers.ts';

const MACHINE_PATH = '/usr/local/bin:/usr/bin:/bin';

test('custos installed globally from its package runs on the machine\'s Node: --version, deid with workers, serve with the console', { timeout: 600_000 }, async () => {
  const work = tempDir('custos-install-');
  const prefix = join(work, 'prefix');
  // The package as a registry or a tarball delivers it (npm pack runs prepack: the console and lib/),
  // not a link to this checkout: under node_modules Node strips no types, so src/ alone cannot run.
  const pack = spawnSync('npm', ['pack', '--pack-destination', work, '--silent'], { cwd: REPO, encoding: 'utf8' });
  assert.equal(pack.status, 0, pack.stderr);
  const tarball = join(work, pack.stdout.trim().split('\n').at(-1)!);
  const npm = spawnSync('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', tarball], { encoding: 'utf8' });
  assert.equal(npm.status, 0, npm.stderr);
  const installed = join(prefix, 'lib', 'node_modules', 'custos');
  assert.ok(existsSync(join(installed, 'lib', 'cli', 'main.js')), 'the package carries the compiled lib/');
  assert.ok(!existsSync(join(installed, 'src')), 'and not the TypeScript sources it cannot run');
  const env = { ...process.env, PATH: `${join(prefix, 'bin')}:${MACHINE_PATH}` };
  const machineNode = spawnSync('node', ['--version'], { encoding: 'utf8', env });
  const v = spawnSync('custos', ['--version'], { encoding: 'utf8', env });
  assert.equal(v.status, 0, `${machineNode.stdout.trim()}: ${v.stderr}`);
  assert.match(v.stdout, /^\d+\.\d+\.\d+\n$/);
  // Two threads: the worker is started from lib/ as well.
  const d = spawnSync('custos', ['deid', join(REPO, 'examples'), '--out', join(work, 'out'), '--data-dir', join(work, 'data'), '--jobs', '2', '-q'], { encoding: 'utf8', env });
  assert.equal(d.status, 0, d.stderr);
  const receipt = JSON.parse(readFileSync(join(work, 'out', 'custos-receipt.json'), 'utf8')) as { instances: unknown[] };
  assert.equal(receipt.instances.length, 3);
  // A usage error keeps its exit status through the re-execution.
  assert.equal(spawnSync('custos', ['deid'], { encoding: 'utf8', env }).status, 2);

  // The gateway: its database worker, blob writers and the console all come from the package.
  const gw = await startGatewayProcess(join(work, 'gw'), {}, { PATH: env.PATH }, ['custos']);
  try {
    assert.equal((await fetch(`${gw.http}/healthz`)).status, 200);
    const page = await fetch(`${gw.http}/`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<title>Custos — console<\/title>/);
  } finally {
    await gw.stop();
  }
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
