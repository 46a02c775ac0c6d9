#!/usr/bin/env node
// Entry point of the `custos` command. Runs the TypeScript sources directly on Node 24 (type stripping).
import { main } from '../src/cli/main.ts';

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (e) => { process.stderr.write(`custos: internal error: ${e?.stack ?? e}\n`); process.exitCode = 70; },
);
