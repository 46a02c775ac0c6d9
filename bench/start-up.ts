/**
 * How fast the `custos` command starts however it is installed (issue 29): `custos --version` by the
 * README's launcher (./custos), the package's Node on bin/custos.js and npx in the project; the packed
 * package (`npm pack`) installed globally into a temporary prefix and as another project's dependency
 * (node_modules/.bin/custos, npm exec), started by the machine's own, older Node, which runs itself
 * again on the package's Node 24. Peer in the same run: `gdcmanon --version` (C++, no runtime to
 * start). Writes its section of docs/benchmarks.md.
 * Usage: node bench/start-up.ts [rounds=15]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { machine, writeSection } from './report.ts';
import { measureAll } from './run-tools.ts';

const ROUNDS = Number(process.argv[2] ?? 15);
const work = mkdtempSync(join(tmpdir(), 'custos-startup-'));
const MACHINE_PATH = '/usr/local/bin:/usr/bin:/bin';
const machineNode = execFileSync('node', ['--version'], { encoding: 'utf8', env: { ...process.env, PATH: MACHINE_PATH } }).trim();

const packed = execFileSync('npm', ['pack', '--pack-destination', work, '--silent'], { encoding: 'utf8' }).trim().split('\n').at(-1)!;
const prefix = join(work, 'prefix');
execFileSync('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', join(work, packed)], { stdio: 'ignore' });
const globalCustos = join(prefix, 'bin', 'custos');
// And as another project's dependency: node_modules/.bin/custos and npm exec there.
const app = join(work, 'app');
execFileSync('npm', ['install', '--prefix', app, '--prefer-offline', '--no-audit', '--no-fund', join(work, packed)], { stdio: 'ignore' });
const appCustos = join(app, 'node_modules', '.bin', 'custos');
// `env` puts the machine's Node first on PATH, as a shell would for a global install.
const viaMachine = (argv: string[]): string[] => ['env', `PATH=${join(prefix, 'bin')}:${MACHINE_PATH}`, ...argv];
for (const warm of [['./custos'], ['npx', 'custos'], viaMachine([globalCustos]), viaMachine([appCustos]), ['npm', 'exec', '--prefix', app, '--', 'custos']]) {
  const r = spawnSync(warm[0]!, [...warm.slice(1), '--version'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${warm.join(' ')} --version failed: ${r.stderr}`);
}

const results = measureAll([
  { name: 'README: ./custos --version (the project folder)', cmd: () => ['./custos', '--version'] },
  { name: 'node_modules/.bin/node bin/custos.js --version', cmd: () => ['node_modules/.bin/node', 'bin/custos.js', '--version'] },
  { name: `a dependency: node_modules/.bin/custos --version (machine's Node ${machineNode} first on PATH)`, cmd: () => viaMachine([appCustos, '--version']) },
  { name: 'a dependency: npm exec custos --version', cmd: () => ['npm', 'exec', '--prefix', app, '--', 'custos', '--version'] },
  { name: `global install: custos --version (machine's Node ${machineNode} first on PATH)`, cmd: () => viaMachine([globalCustos, '--version']) },
  { name: 'npx custos --version (the project folder)', cmd: () => ['npx', 'custos', '--version'] },
  { name: 'peer: gdcmanon --version', cmd: () => ['gdcmanon', '--version'] },
], ROUNDS, join(work, 'out'));
rmSync(work, { recursive: true, force: true });

const TARGET = 0.2;
const rows = results.map((r) => `| ${r.name} | ${(r.seconds * 1000).toFixed(0)} ms | ${(r.rssKB / 1024).toFixed(0)} MB | ${r.name.startsWith('peer') ? '' : r.seconds < TARGET ? 'yes' : 'no'} |`);
const md = `## Starting the command

bench/start-up.ts — ${machine()}. \`custos --version\` started each way the command is installed;
median wall time of ${ROUNDS} rounds taken in turns, compile caches warm.

| how it is started | time | peak memory | under ${TARGET} s |
|---|---|---|---|
${rows.join('\n')}

A global install (and npx from a registry) runs the package made by \`npm pack\`: Node strips no types
under node_modules, so the package carries the JavaScript compiled from src/ into lib/ (\`npm run
build:lib\`, run by prepack) and the built console, and bin/custos.js loads lib/ when it lives under
node_modules. Started by an older Node, the entry point runs itself again on the package's Node 24:
that older Node's start (ESM) and the spawn are the difference from the direct call. npx and npm
exec spend the rest of their time in npm itself, above the 0.2 s target whatever custos does: the
reason the README's command is \`./custos\`, and a global install the way for batch work elsewhere.
`;
writeSection('start-up', md);
console.log(md);
