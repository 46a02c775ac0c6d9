import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';

const PATH = 'docs/benchmarks.md';

/** Replace (or add) one benchmark's section of docs/benchmarks.md, between its markers. */
export function writeSection(name: string, markdown: string): void {
  const head = `# Benchmarks\n\nEach section is written by its script under bench/ (\`npm run bench\` runs them all).\n`;
  let doc = existsSync(PATH) ? readFileSync(PATH, 'utf8') : head;
  if (!doc.includes('<!-- bench:')) doc = head;
  const begin = `<!-- bench:${name} -->`;
  const end = `<!-- /bench:${name} -->`;
  const block = `${begin}\n${markdown.trim()}\n${end}`;
  const i = doc.indexOf(begin);
  const j = doc.indexOf(end);
  doc = i >= 0 && j > i ? doc.slice(0, i) + block + doc.slice(j + end.length) : `${doc.trimEnd()}\n\n${block}\n`;
  writeFileSync(PATH, doc.endsWith('\n') ? doc : doc + '\n');
}

export function machine(): string {
  return `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}`;
}
