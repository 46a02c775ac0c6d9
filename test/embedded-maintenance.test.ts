/**
 * Maintenance of the embedded database (PGlite has no autovacuum): which tables are due, by the
 * thresholds PostgreSQL documents for its autovacuum (PostgreSQL 18, 24.1.6), and the command run.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AUTOVACUUM_DEFAULTS, type TableActivity, autovacuumSettings, maintenanceCommand, maintenanceDue, quoteIdent } from '../src/store/embedded-maintenance.ts';

const DEFAULTS = AUTOVACUUM_DEFAULTS;
const quiet: TableActivity = { schema: 'public', table: 'jobs', tuples: 1000, pages: 10, allFrozenPages: 0, deadTuples: 0, modifiedSinceAnalyze: 0, insertedSinceVacuum: 0, xidAge: 1000, multixactAge: 0 };

test('maintenance: nothing is due for a table that has barely changed', () => {
  const due = maintenanceDue(quiet, DEFAULTS);
  assert.deepEqual({ vacuum: due.vacuum, analyze: due.analyze }, { vacuum: false, analyze: false });
  assert.equal(maintenanceCommand(due), undefined);
});

test('maintenance: dead rows past 50 + 20 % of the table call for a vacuum', () => {
  assert.equal(maintenanceDue({ ...quiet, deadTuples: 250 }, DEFAULTS).vacuum, false); // 50 + 0.2 × 1000 = 250: not past it
  const due = maintenanceDue({ ...quiet, deadTuples: 251 }, DEFAULTS);
  assert.equal(due.vacuum, true);
  assert.deepEqual(due.reasons, ['dead rows']);
  // A table never vacuumed nor analyzed has reltuples -1: taken as empty.
  assert.equal(maintenanceDue({ ...quiet, tuples: -1, deadTuples: 51 }, DEFAULTS).vacuum, true);
  // On a very large table the threshold is capped (autovacuum_vacuum_max_threshold), unless that is -1.
  const huge = { ...quiet, tuples: 1e9, deadTuples: 100_000_001 };
  assert.equal(maintenanceDue(huge, DEFAULTS).vacuum, true);
  assert.equal(maintenanceDue(huge, { ...DEFAULTS, autovacuum_vacuum_max_threshold: -1 }).vacuum, false);
});

test('maintenance: inserts count against the part of the table not yet frozen', () => {
  // 1000 + 0.2 × 10,000 tuples × half the pages unfrozen = 2000.
  const half = { ...quiet, tuples: 10_000, pages: 100, allFrozenPages: 50 };
  assert.equal(maintenanceDue({ ...half, insertedSinceVacuum: 2000 }, DEFAULTS).vacuum, false);
  assert.deepEqual(maintenanceDue({ ...half, insertedSinceVacuum: 2001 }, DEFAULTS).reasons, ['rows inserted']);
  assert.equal(maintenanceDue({ ...half, insertedSinceVacuum: 1e9 }, { ...DEFAULTS, autovacuum_vacuum_insert_threshold: -1 }).vacuum, false);
});

test('maintenance: an old transaction ID age calls for a vacuum however little changed (wraparound)', () => {
  assert.deepEqual(maintenanceDue({ ...quiet, xidAge: 200_000_001 }, DEFAULTS).reasons, ['transaction ID age']);
  assert.deepEqual(maintenanceDue({ ...quiet, multixactAge: 400_000_001 }, DEFAULTS).reasons, ['multixact ID age']);
});

test('maintenance: rows changed past 50 + 10 % of the table call for an analyze', () => {
  assert.equal(maintenanceDue({ ...quiet, modifiedSinceAnalyze: 150 }, DEFAULTS).analyze, false);
  const due = maintenanceDue({ ...quiet, modifiedSinceAnalyze: 151 }, DEFAULTS);
  assert.deepEqual({ vacuum: due.vacuum, analyze: due.analyze }, { vacuum: false, analyze: true });
  assert.equal(maintenanceCommand(due), 'ANALYZE "public"."jobs"');
  assert.equal(maintenanceCommand(maintenanceDue({ ...quiet, deadTuples: 1000, modifiedSinceAnalyze: 1000 }, DEFAULTS)), 'VACUUM (ANALYZE) "public"."jobs"');
  assert.equal(maintenanceCommand(maintenanceDue({ ...quiet, deadTuples: 1000 }, DEFAULTS)), 'VACUUM "public"."jobs"');
});

test('maintenance: table names are quoted as SQL identifiers', () => {
  assert.equal(quoteIdent('we"ird'), '"we""ird"');
  assert.equal(maintenanceCommand(maintenanceDue({ ...quiet, schema: 'a b', table: 'x"; DROP TABLE jobs; --', deadTuples: 1000 }, DEFAULTS)), 'VACUUM "a b"."x""; DROP TABLE jobs; --"');
});

test('maintenance: the database\'s own settings override the defaults; others are ignored', () => {
  const s = autovacuumSettings([{ name: 'autovacuum_vacuum_scale_factor', setting: '0.05' }, { name: 'autovacuum', setting: 'on' }, { name: 'autovacuum_naptime', setting: '60' }, { name: 'autovacuum_analyze_threshold', setting: 'x' }]);
  assert.equal(s.autovacuum_vacuum_scale_factor, 0.05);
  assert.equal(s.autovacuum_analyze_threshold, 50);
  assert.equal((s as unknown as Record<string, unknown>).autovacuum, undefined);
  assert.equal(maintenanceDue({ ...quiet, deadTuples: 101 }, s).vacuum, true); // 50 + 0.05 × 1000 = 100
});

test('maintenance: a table\'s own storage parameters override the settings, as for autovacuum', () => {
  const queue = { ...quiet, options: ['autovacuum_vacuum_scale_factor=0.01', 'autovacuum_vacuum_threshold=10', 'fillfactor=90'] };
  assert.equal(maintenanceDue({ ...queue, deadTuples: 20 }, DEFAULTS).vacuum, false); // 10 + 0.01 × 1000 = 20
  assert.equal(maintenanceDue({ ...queue, deadTuples: 21 }, DEFAULTS).vacuum, true);
  // autovacuum_enabled=false: nothing but the wraparound vacuum.
  const off = { ...quiet, options: ['autovacuum_enabled=false'], deadTuples: 1e6, modifiedSinceAnalyze: 1e6, insertedSinceVacuum: 1e6 };
  assert.deepEqual(maintenanceDue(off, DEFAULTS).reasons, []);
  assert.deepEqual(maintenanceDue({ ...off, xidAge: 200_000_001 }, DEFAULTS).reasons, ['transaction ID age']);
  assert.equal(maintenanceDue({ ...quiet, options: ['autovacuum_enabled=true'], deadTuples: 251 }, DEFAULTS).vacuum, true);
});
