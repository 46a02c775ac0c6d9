/*
 * Routine maintenance of the embedded database, decided as PostgreSQL's autovacuum decides it.
 *
 * PGlite runs PostgreSQL in single-user mode: there is no autovacuum launcher, so nothing ever
 * vacuums or analyzes its tables. Measured on the gateway's own tables (50,000 instances ingested,
 * logged, claimed and settled in batches of 4, CPU per call): the work loop's claim went from 2.7 ms
 * per batch at 5,000 instances to 8.1 ms at 50,000 and its settlement from 2.0 to 6.5 ms, every update
 * left a dead row behind for good (jobs: two per job), and the transaction ID age only grew. The plans
 * a PL/pgSQL function caches are made when its tables are nearly empty and are only replaced when
 * the tables are analyzed. With the same work and an ANALYZE now and then, claim and settlement stayed
 * at 1.2-1.3 and 0.9-1.0 ms. This module is the pure part: which tables are due, by the thresholds
 * PostgreSQL documents for autovacuum (PostgreSQL 18, 24.1.6 "The Autovacuum Daemon") and reads from
 * the database's own settings; pglite-worker.ts runs the check and the commands.
 */

/** What the statistics views say of one table (pg_stat_user_tables joined with pg_class). */
export interface TableActivity {
  schema: string;
  table: string;
  /** pg_class.reltuples: -1 until the table is first vacuumed or analyzed (taken as 0). */
  tuples: number;
  /** pg_class.relpages and relallfrozen (PostgreSQL 18): the fraction of the table not yet frozen. */
  pages: number;
  allFrozenPages: number;
  deadTuples: number;
  modifiedSinceAnalyze: number;
  insertedSinceVacuum: number;
  /** age(relfrozenxid) and mxid_age(relminmxid). */
  xidAge: number;
  multixactAge: number;
  /** pg_class.reloptions: a table's own storage parameters (`name=value`), which override the settings. */
  options?: readonly string[] | null;
}

/** The autovacuum_* settings the thresholds are made of (names as in pg_settings). */
export interface AutovacuumSettings {
  autovacuum_vacuum_threshold: number;
  autovacuum_vacuum_scale_factor: number;
  autovacuum_vacuum_max_threshold: number;
  autovacuum_vacuum_insert_threshold: number;
  autovacuum_vacuum_insert_scale_factor: number;
  autovacuum_analyze_threshold: number;
  autovacuum_analyze_scale_factor: number;
  autovacuum_freeze_max_age: number;
  autovacuum_multixact_freeze_max_age: number;
}

/** PostgreSQL 18's defaults (19.10.1), for any setting the database does not report. */
export const AUTOVACUUM_DEFAULTS: Readonly<AutovacuumSettings> = {
  autovacuum_vacuum_threshold: 50, autovacuum_vacuum_scale_factor: 0.2, autovacuum_vacuum_max_threshold: 100_000_000,
  autovacuum_vacuum_insert_threshold: 1000, autovacuum_vacuum_insert_scale_factor: 0.2,
  autovacuum_analyze_threshold: 50, autovacuum_analyze_scale_factor: 0.1,
  autovacuum_freeze_max_age: 200_000_000, autovacuum_multixact_freeze_max_age: 400_000_000,
};

/** `base` with the numeric values of the named settings among `entries` (others ignored). */
function overlay(base: Readonly<AutovacuumSettings>, entries: ReadonlyArray<readonly [string, string]>): AutovacuumSettings {
  const s = { ...base };
  for (const [name, value] of entries) {
    const v = Number(value);
    if (name in s && value !== '' && Number.isFinite(v)) s[name as keyof AutovacuumSettings] = v;
  }
  return s;
}

/** The database's settings (pg_settings rows) over the defaults. */
export function autovacuumSettings(rows: ReadonlyArray<{ name: string; setting: string }>): AutovacuumSettings {
  return overlay(AUTOVACUUM_DEFAULTS, rows.map((r) => [r.name, r.setting] as const));
}

export interface MaintenanceDue { schema: string; table: string; vacuum: boolean; analyze: boolean; reasons: string[] }

/**
 * The settings for one table: its own storage parameters over the database's (PostgreSQL 18, CREATE
 * TABLE, "Storage Parameters": autovacuum_* per table; autovacuum_enabled=false leaves only the
 * wraparound vacuum).
 */
export function tableSettings(t: TableActivity, s: AutovacuumSettings): { settings: AutovacuumSettings; enabled: boolean } {
  const options = (t.options ?? []).map((o) => { const at = o.indexOf('='); return at < 0 ? [o, ''] as const : [o.slice(0, at), o.slice(at + 1)] as const; });
  const enabled = options.find(([name]) => name === 'autovacuum_enabled');
  return { settings: overlay(s, options), enabled: !enabled || !/^(false|off|no|0)$/i.test(enabled[1]) };
}

/** Whether a table is due for VACUUM and for ANALYZE, and why (PostgreSQL 18, 24.1.6). */
export function maintenanceDue(t: TableActivity, databaseSettings: AutovacuumSettings): MaintenanceDue {
  const { settings: s, enabled } = tableSettings(t, databaseSettings);
  const tuples = Math.max(t.tuples, 0);
  const reasons: string[] = [];
  // vacuum threshold = Minimum(max threshold, base threshold + scale factor * number of tuples); a max of -1: no cap
  const scaled = s.autovacuum_vacuum_threshold + s.autovacuum_vacuum_scale_factor * tuples;
  const deadLimit = s.autovacuum_vacuum_max_threshold < 0 ? scaled : Math.min(s.autovacuum_vacuum_max_threshold, scaled);
  if (enabled && t.deadTuples > deadLimit) reasons.push('dead rows');
  // vacuum insert threshold = base + scale factor * number of tuples * fraction of the table not frozen
  // (a base of -1: inserts never trigger a vacuum)
  const unfrozen = t.pages > 0 ? Math.max(0, 1 - t.allFrozenPages / t.pages) : 1;
  if (enabled && s.autovacuum_vacuum_insert_threshold >= 0 && t.insertedSinceVacuum > s.autovacuum_vacuum_insert_threshold + s.autovacuum_vacuum_insert_scale_factor * tuples * unfrozen) reasons.push('rows inserted');
  // Transaction ID wraparound (24.1.5): vacuumed however little changed.
  if (t.xidAge > s.autovacuum_freeze_max_age) reasons.push('transaction ID age');
  if (t.multixactAge > s.autovacuum_multixact_freeze_max_age) reasons.push('multixact ID age');
  const vacuum = reasons.length > 0;
  // analyze threshold = base threshold + scale factor * number of tuples
  const analyze = enabled && t.modifiedSinceAnalyze > s.autovacuum_analyze_threshold + s.autovacuum_analyze_scale_factor * tuples;
  if (analyze) reasons.push('rows changed since analyzed');
  return { schema: t.schema, table: t.table, vacuum, analyze, reasons };
}

/** The command for a table that is due: VACUUM (ANALYZE), VACUUM or ANALYZE; undefined when none is. */
export function maintenanceCommand(d: MaintenanceDue): string | undefined {
  const name = `${quoteIdent(d.schema)}.${quoteIdent(d.table)}`;
  if (d.vacuum) return d.analyze ? `VACUUM (ANALYZE) ${name}` : `VACUUM ${name}`;
  return d.analyze ? `ANALYZE ${name}` : undefined;
}

/** An SQL identifier, quoted (PostgreSQL 18, 4.1.1: embedded double quotes are doubled). */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
