import { readdirSync, statSync, realpathSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { CustosError } from '../errors.ts';

/**
 * Expand inputs (files and folders, recursively) into a sorted, de-duplicated list of files.
 * Hidden files and anything under `exclude` (the output folder) are left out.
 */
export function collectInputs(inputs: readonly string[], exclude?: string): string[] {
  const out = new Set<string>();
  const excluded = exclude ? resolve(exclude) + sep : undefined;
  const visit = (p: string): void => {
    const abs = resolve(p);
    if (excluded && (abs + sep).startsWith(excluded)) return;
    let st;
    try {
      st = statSync(abs);
    } catch {
      throw new CustosError('USAGE', `input not found: ${p}`);
    }
    if (st.isDirectory()) {
      for (const name of readdirSync(abs).sort()) {
        if (name.startsWith('.')) continue;
        visit(join(abs, name));
      }
    } else if (st.isFile()) {
      out.add(realpathSync(abs));
    }
  };
  for (const i of inputs) visit(i);
  return [...out].sort();
}
