#!/usr/bin/env node
// Entry point of the `custos` command. Runs the TypeScript sources directly on Node 24 (type stripping).
// Started on an older Node (a global install runs on the machine's own), it runs itself again on the
// Node 24 the package brings (the `node` dependency), forwarding arguments, signals and exit status.
import module from 'node:module';

const [major] = process.versions.node.split('.').map(Number);
if (major < 24) {
  const { spawn } = await import('node:child_process');
  const { dirname, join } = await import('node:path');
  const { fileURLToPath } = await import('node:url');
  let node;
  try {
    node = join(dirname(module.createRequire(import.meta.url).resolve('node/package.json')), 'bin', 'node');
  } catch {
    process.stderr.write(`custos: needs Node 24 (this is ${process.version}), and the package's own (the "node" dependency) is not installed\n`);
    process.exit(2);
  }
  const child = spawn(node, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
  child.on('error', (e) => { process.stderr.write(`custos: cannot start Node 24 at ${node}: ${e.message}\n`); process.exit(2); });
  const { constants } = await import('node:os');
  child.on('exit', (code, signal) => { process.exitCode = code ?? 128 + (signal ? constants.signals[signal] ?? 1 : 1); });
} else {
  // Node's on-disk compile cache (in the system temp directory): start-up falls from ~0.4 s to ~0.15 s
  // once warm. Worker threads (deid --jobs) read the same cache through the environment variable.
  const cache = module.enableCompileCache?.();
  if (cache?.directory && !process.env.NODE_COMPILE_CACHE) process.env.NODE_COMPILE_CACHE = cache.directory;

  // Node strips types only outside node_modules: an installed package (npm install -g, npx from the
  // registry, a dependency) runs the JavaScript that `npm pack` compiles into lib/; a checkout runs src/.
  const installed = /[\\/]node_modules[\\/]/.test(decodeURIComponent(new URL(import.meta.url).pathname));
  const entry = installed ? '../lib/cli/main.js' : '../src/cli/main.ts';
  if (installed) {
    const { existsSync } = await import('node:fs');
    if (!existsSync(new URL(entry, import.meta.url))) {
      process.stderr.write('custos: this installed copy has no compiled lib/ (install a package made by `npm pack`, which builds it)\n');
      process.exit(2);
    }
  }
  const { main } = await import(entry);
  main(process.argv.slice(2)).then(
    (code) => { process.exitCode = code; },
    (e) => { process.stderr.write(`custos: internal error: ${e?.stack ?? e}\n`); process.exitCode = 70; },
  );
}
