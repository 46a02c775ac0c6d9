import { z } from 'zod';
import { CustosError } from '../errors.ts';

/**
 * Known burned-in text regions (the approach clinical-trial anonymizers use): rules that match an
 * instance by manufacturer, model, SOP class, modality and image size, and name rectangles
 * (x, y, width, height in pixels) to blank in every frame. Kept in a JSON file admins can edit.
 */
const Rect = z.tuple([z.number().int().nonnegative(), z.number().int().nonnegative(), z.number().int().positive(), z.number().int().positive()]);
const Rule = z.object({
  name: z.string().min(1),
  match: z
    .object({
      manufacturer: z.string().optional(),
      model: z.string().optional(),
      sopClassUID: z.string().optional(),
      modality: z.string().optional(),
      rows: z.number().int().positive().optional(),
      columns: z.number().int().positive().optional(),
    })
    .strict(),
  boxes: z.array(Rect).min(1),
}).strict();
export const PixelRulesFile = z.object({ rules: z.array(Rule) }).strict();
export type PixelRule = z.infer<typeof Rule>;

/** Validate a rules file; every problem is reported with its path. */
export function parsePixelRules(json: unknown, origin: string): PixelRule[] {
  const r = PixelRulesFile.safeParse(json);
  if (!r.success) {
    const issues = r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new CustosError('USAGE', `invalid pixel rules in ${origin}: ${issues}`);
  }
  return r.data.rules;
}

export interface RuleFacts { manufacturer: string; model: string; sopClassUID: string; modality: string; rows: number; columns: number }

const same = (a: string | undefined, b: string): boolean => a === undefined || a.trim().toUpperCase() === b.trim().toUpperCase();

/** Rectangles of every rule that matches (all given criteria must hold), clipped to the image. */
export function ruleBoxes(rules: readonly PixelRule[], f: RuleFacts): Array<{ rule: string; box: [number, number, number, number] }> {
  const out: Array<{ rule: string; box: [number, number, number, number] }> = [];
  for (const r of rules) {
    const m = r.match;
    if (!same(m.manufacturer, f.manufacturer) || !same(m.model, f.model) || !same(m.sopClassUID, f.sopClassUID) || !same(m.modality, f.modality)) continue;
    if ((m.rows !== undefined && m.rows !== f.rows) || (m.columns !== undefined && m.columns !== f.columns)) continue;
    for (const [x, y, w, h] of r.boxes) {
      if (x >= f.columns || y >= f.rows) continue;
      out.push({ rule: r.name, box: [x, y, Math.min(w, f.columns - x), Math.min(h, f.rows - y)] });
    }
  }
  return out;
}
