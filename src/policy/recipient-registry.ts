import { z } from 'zod';
import { MatchSchema, ORIGINALS_ONLY_FOR_TREATMENT, type RecipientConfig, RecipientSchema, type RouteConfig, originalsAllowed } from '../config/gateway-config.ts';
import { CustosError } from '../errors.ts';
import type { Database } from '../store/database.ts';

/*
 * Recipients in the database (docs/policy.md): every version of each definition (purpose,
 * organization, AI models, endpoint, de-identification, and optionally the instances it receives),
 * with who made it. The configuration file seeds a recipient the database does not hold yet; from
 * then on the database is what counts, changed through the API.
 *
 * The gateway's parts read recipients and routes as arrays they were given at start. The registry
 * owns those arrays and updates them in place when a recipient changes, so every reader sees the
 * change at its next look (a job in flight finishes under the version it started with).
 */

/** A recipient as the API takes it: the configuration's fields, and the instances it receives (a route of its own). */
export const RecipientDefinitionSchema = RecipientSchema.extend({ match: MatchSchema.optional() })
  .refine(originalsAllowed, { message: ORIGINALS_ONLY_FOR_TREATMENT, path: ['deid', 'profile'] });
export type RecipientDefinition = z.infer<typeof RecipientDefinitionSchema>;

export interface RecipientVersion { id: string; version: number; removed: boolean; definition: RecipientDefinition; changedBy: string; changedAt: string }

interface Row { id: string; version: number; removed: boolean; definition: RecipientDefinition | string; changed_by: string; changed_at: string | Date }

const toVersion = (r: Row): RecipientVersion => ({
  id: r.id, version: Number(r.version), removed: Boolean(r.removed),
  definition: typeof r.definition === 'string' ? JSON.parse(r.definition) as RecipientDefinition : r.definition,
  changedBy: r.changed_by, changedAt: new Date(r.changed_at).toISOString(),
});

export class RecipientRegistry {
  /** The current recipients: the array every part of the gateway was given. */
  readonly recipients: RecipientConfig[] = [];
  /** The configured routes and each recipient's own: likewise shared. */
  readonly routes: RouteConfig[] = [];
  private readonly db: Database;
  private readonly configuredRoutes: readonly RouteConfig[];
  private readonly listeners: Array<(id: string) => void> = [];
  private readonly versions = new Map<string, number>();

  constructor(db: Database, configuredRoutes: readonly RouteConfig[]) {
    this.db = db;
    this.configuredRoutes = configuredRoutes;
  }

  /**
   * Apply the configuration file: a recipient it names that the database lacks is added, and one
   * whose entry changed since the file last set it gets a new version (`check` may refuse it
   * first). Changes made through the API stand until the file's entry itself changes. Then load
   * the current versions.
   */
  async load(seed: readonly RecipientConfig[], check?: (r: RecipientConfig, index: number) => Promise<void>): Promise<void> {
    const writes: RecipientConfig[] = [];
    for (const [i, r] of seed.entries()) {
      const [fromFile] = await this.db.query<Row>(`SELECT * FROM recipients WHERE id = $1 AND changed_by = 'configuration' ORDER BY version DESC LIMIT 1`, [r.id]);
      if (fromFile && JSON.stringify(toVersion(fromFile).definition) === JSON.stringify(r)) continue;
      await check?.(r, i);
      writes.push(r);
    }
    for (const r of writes) {
      await this.db.query(
        `INSERT INTO recipients (id, version, removed, definition, changed_by) VALUES ($1, (SELECT coalesce(max(version), 0) + 1 FROM recipients WHERE id = $1), false, $2, 'configuration')`,
        [r.id, JSON.stringify(r)]);
    }
    const rows = await this.db.query<Row>('SELECT DISTINCT ON (id) * FROM recipients ORDER BY id, version DESC');
    this.recipients.splice(0, this.recipients.length, ...rows.filter((r) => !r.removed).map((r) => RecipientDefinitionSchema.parse(toVersion(r).definition)));
    for (const r of rows) this.versions.set(r.id, Number(r.version));
    this.rebuildRoutes();
  }

  get(id: string): RecipientConfig | undefined {
    return this.recipients.find((r) => r.id === id);
  }

  version(id: string): number | undefined {
    return this.versions.get(id);
  }

  /** Called with a recipient's id after it changed (the gateway makes its sender anew). */
  onChange(listener: (id: string) => void): void {
    this.listeners.push(listener);
  }

  async history(id: string): Promise<RecipientVersion[]> {
    return (await this.db.query<Row>('SELECT * FROM recipients WHERE id = $1 ORDER BY version DESC', [id])).map(toVersion);
  }

  /** A new version of a recipient (or its first). */
  async put(definition: RecipientDefinition, by: string): Promise<RecipientVersion> {
    const [row] = await this.db.query<Row>(
      `INSERT INTO recipients (id, version, removed, definition, changed_by) VALUES ($1, (SELECT coalesce(max(version), 0) + 1 FROM recipients WHERE id = $1), false, $2, $3) RETURNING *`,
      [definition.id, JSON.stringify(definition), by]);
    const v = toVersion(row!);
    const at = this.recipients.findIndex((r) => r.id === definition.id);
    if (at >= 0) this.recipients[at] = definition; else this.recipients.push(definition);
    this.changed(definition.id, v.version);
    return v;
  }

  /** Receives nothing more: its queued jobs end as dead (RECIPIENT_UNKNOWN) when the work loop reaches them. */
  async remove(id: string, by: string): Promise<RecipientVersion> {
    const current = this.get(id);
    if (!current) throw new CustosError('NOT_FOUND', 'no such recipient');
    const [row] = await this.db.query<Row>(
      `INSERT INTO recipients (id, version, removed, definition, changed_by) VALUES ($1, (SELECT max(version) + 1 FROM recipients WHERE id = $1), true, $2, $3) RETURNING *`,
      [id, JSON.stringify(current), by]);
    this.recipients.splice(this.recipients.indexOf(current), 1);
    const v = toVersion(row!);
    this.changed(id, v.version);
    return v;
  }

  private changed(id: string, version: number): void {
    this.versions.set(id, version);
    this.rebuildRoutes();
    for (const l of this.listeners) l(id);
  }

  private rebuildRoutes(): void {
    const own = this.recipients.flatMap((r) => ((r as RecipientDefinition).match ? [{ recipient: r.id, match: (r as RecipientDefinition).match! }] : []));
    const live = new Set(this.recipients.map((r) => r.id));
    this.routes.splice(0, this.routes.length, ...this.configuredRoutes.filter((r) => live.has(r.recipient)), ...own);
  }
}
