import { createHmac } from 'node:crypto';
import { HIERARCHIES, type Levels, type QuasiValues } from '../deid/risk.ts';
import type { Queryable } from '../store/database.ts';

/*
 * The hospital's own population, as the gateway has seen it, kept as keyed counts (docs/risk.md):
 * per series, each quasi-identifier at each level of its hierarchy as an HMAC under the deployment
 * key — never a value, never an identity. Counting the patients whose series match a release's
 * values (jsonb containment) gives the journalist risk's F, at any generalization.
 */

const levelsOf = (q: string): number => HIERARCHIES[q]?.levels ?? 1;

function keyed(key: Buffer, q: string, level: number, v: string): string {
  return createHmac('sha256', key).update(`custos/risk-population/v1\0${q}\0${level}\0${v}`).digest('hex').slice(0, 24);
}

/** Every attribute of a series at every level short of suppression (what `count` queries against). */
export function populationAttrs(values: QuasiValues, key: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [q, v] of Object.entries(values)) {
    if (v === null || v === '') continue;
    const h = HIERARCHIES[q];
    for (let l = 0; l < levelsOf(q); l++) out[`${q}:${l}`] = keyed(key, q, l, h ? h.generalize(v, l) : v);
  }
  return out;
}

/** The query for values at levels: the attributes given (suppressed ones left out). */
export function populationQuery(values: QuasiValues, levels: Levels, key: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [q, v] of Object.entries(values)) {
    const l = levels[q] ?? 0;
    if (v === null || v === '' || l >= levelsOf(q)) continue;
    const h = HIERARCHIES[q];
    out[`${q}:${l}`] = keyed(key, q, l, h ? h.generalize(v, l) : v);
  }
  return out;
}

export async function recordPopulation(db: Queryable, key: Buffer, patientRef: string, seriesInstanceUID: string, values: QuasiValues): Promise<void> {
  const series = createHmac('sha256', key).update(`custos/risk-series/v1\0${seriesInstanceUID}`).digest('hex').slice(0, 32);
  await db.query('INSERT INTO risk_population (patient_ref, series_key, attrs) VALUES ($1, $2, $3::jsonb) ON CONFLICT DO NOTHING', [patientRef, series, JSON.stringify(populationAttrs(values, key))]);
}

/** F: how many of the hospital's patients have a series matching the query. */
export async function populationCount(db: Queryable, query: Record<string, string>): Promise<number> {
  const [row] = await db.query<{ n: number }>('SELECT count(DISTINCT patient_ref)::int AS n FROM risk_population WHERE attrs @> $1::jsonb', [JSON.stringify(query)]);
  return row?.n ?? 0;
}
