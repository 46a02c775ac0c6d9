import { readdirSync, statSync, realpathSync, type Dirent } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { CustosError } from '../errors.ts';

/**
 * Expand inputs (files and folders, recursively) into a sorted, de-duplicated list of files, by their
 * real paths. Hidden files and anything under `exclude` (the output folder) are left out.
 * A folder is resolved once and its entries typed by readdir: a regular file costs no system call of
 * its own (measured: stat and a component-by-component realpath per file were 16,000 syscalls for
 * 2,000 files). Only symbolic links are stat'ed and resolved one by one.
 */
export function collectInputs(inputs: readonly string[], exclude?: string): string[] {
  const out = new Set<string>();
  const excluded = exclude ? [resolve(exclude) + sep, realOrSelf(resolve(exclude)) + sep] : [];
  const isExcluded = (p: string): boolean => excluded.some((x) => (p + sep).startsWith(x));
  const seenDirs = new Set<string>(); // a link back to an ancestor must not loop
  const visitDir = (real: string): void => {
    if (isExcluded(real) || seenDirs.has(real)) return;
    seenDirs.add(real);
    const entries: Dirent[] = readdirSync(real, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const p = join(real, e.name);
      if (e.isDirectory()) visitDir(p);
      else if (e.isFile()) { if (!isExcluded(p)) out.add(p); }
      else if (e.isSymbolicLink() || !(e.isFIFO() || e.isSocket() || e.isCharacterDevice() || e.isBlockDevice())) visitPath(p, p); // links, and entries of unknown type
    }
  };
  const visitPath = (p: string, shown: string): void => {
    const abs = resolve(p);
    if (isExcluded(abs)) return;
    let st;
    try {
      st = statSync(abs);
    } catch {
      throw new CustosError('USAGE', `input not found: ${shown}`);
    }
    if (st.isDirectory()) visitDir(realpathSync.native(abs));
    else if (st.isFile()) { const real = realpathSync.native(abs); if (!isExcluded(real)) out.add(real); }
  };
  for (const i of inputs) visitPath(i, i);
  return [...out].sort();
}

function realOrSelf(p: string): string {
  try { return realpathSync.native(p); } catch { return p; }
}
