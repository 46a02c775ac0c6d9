import { mkdirSync, readFileSync } from 'node:fs';
import type { Server, Socket } from 'node:net';
import { join } from 'node:path';
import fastify, { type FastifyInstance } from 'fastify';
import cookie from '@fastify/cookie';
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import { accessRoutes } from './api/access-routes.ts';
import { adminRoutes } from './api/admin-routes.ts';
import { sweepRoutes } from './api/sweep-routes.ts';
import { defacingRoutes } from './api/defacing-routes.ts';
import { parseVerifierKey } from './integrity/note.ts';
import { localView } from './pipeline/log-views.ts';
import { SweepScheduler } from './pipeline/sweep-schedule.ts';
import { WitnessSchedule } from './pipeline/witness-schedule.ts';
import type { SigningIdentity } from './integrity/dicom-signature.ts';
import { signBuffers } from './pipeline/sign-instance.ts';
import { authRoutes } from './api/auth-routes.ts';
import { logRoutes } from './api/log-routes.ts';
import { fhirRoutes } from './api/fhir-routes.ts';
import type { SiteMode } from './policy/decision.ts';
import type { RecipientConfig } from './config/gateway-config.ts';
import { weakerThanAgreements } from './policy/recipient-policy.ts';
import { RecipientRegistry } from './policy/recipient-registry.ts';
import { policyRoutes } from './api/policy-routes.ts';
import { auditRoutes } from './api/audit-routes.ts';
import { retentionRoutes } from './api/retention-routes.ts';
import { runRetention } from './policy/retention.ts';
import { runDeletionRequests } from './policy/deletion-requests.ts';
import { webRoutes } from './api/web-routes.ts';
import { portalRoutes } from './api/portal-routes.ts';
import { recipientRoutes } from './api/recipient-routes.ts';
import { writeInitialAdmin } from './auth/bootstrap.ts';
import { type RouteDeclaration, installGuard } from './auth/guard.ts';
import { OidcLogin } from './auth/oidc.ts';
import type { GatewayConfig } from './config/gateway-config.ts';
import { CustosError, isCustosError } from './errors.ts';
import { dicomwebRoutes } from './net/dicomweb.ts';
import { installSlowRequestLimits } from './net/http-limits.ts';
import { startDimseServer } from './net/dimse-scp.ts';
import { DimseForwarder, type DimseTls } from './net/dimse-scu.ts';
import type { Forwarder } from './pipeline/forwarder.ts';
import { StowForwarder } from './net/stow-client.ts';
import { type IngestDeps, ingestInstance } from './pipeline/ingest.ts';
import { Processor } from './pipeline/processor.ts';
import { RecentOriginals } from './pipeline/recent-originals.ts';
import { type BlobStore, FsBlobStore, S3BlobStore } from './store/blob-store.ts';
import { DataKeys, openBlob } from './store/data-keys.ts';
import { type Database, openDatabase } from './store/database.ts';
import { loadOrCreateKey } from './store/key-file.ts';
import { openLogForWriting } from './store/open-log.ts';
import { keepPublishedInDatabase } from './store/log-published-db.ts';
import { sealAudit } from './audit/seal.ts';
import { SyslogExporter } from './audit/syslog-export.ts';
import { SharedBufferPool } from './store/buffer-pool.ts';
import { MemoryBudget, type Received, Spool } from './store/spool.ts';
import { CUSTOS_VERSION } from './version.ts';
import { siblingModule } from './module-url.ts';

export interface Gateway {
  readonly dataDir: string;
  readonly dimse: { host: string; port: number; aeTitle: string; tlsPort?: number };
  readonly http: { url: string };
  readonly db: Database;
  /** Every HTTP route with the permission it declares (or 'public'): the route table. */
  readonly routes: readonly RouteDeclaration[];
  /** The file holding the first admin credential, while it exists (created on a new data directory). */
  readonly adminCredentialFile?: string;
  /** Purge what expired by `now` (default: the current time); the scheduler runs it every retention.intervalMinutes. */
  retention(now?: Date): Promise<{ originals: number; quarantine: number; keptByHold: number }>;
  /** Create and send deletion requests due by `now` (default: the current time); scheduled with retention. */
  deletions(now?: Date): Promise<{ requested: number; sent: number; attested: number; rejected: number; overdue: number }>;
  close(): Promise<void>;
}

const isLoopback = (host: string): boolean => host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);

/** The master key that wraps patients' data keys: env CUSTOS_MASTER_KEY (64 hex digits) or keys/master.key. */
export function masterKey(dataDir: string): Buffer {
  const env = process.env.CUSTOS_MASTER_KEY;
  if (env !== undefined) {
    if (!/^[0-9a-fA-F]{64}$/.test(env.trim())) throw new CustosError('KEY_INVALID', 'CUSTOS_MASTER_KEY must be 64 hex digits (32 bytes)');
    return Buffer.from(env.trim(), 'hex');
  }
  return loadOrCreateKey(join(dataDir, 'keys', 'master.key')).key.subarray(0, 32);
}

/** Bytes of rejected input the quarantine holds now (its budget's starting point). */
async function quarantineBytes(db: Database): Promise<number> {
  const [row] = await db.query<{ n: string | number }>('SELECT coalesce(sum(bytes), 0) AS n FROM quarantine WHERE blob_key IS NOT NULL');
  return Number(row?.n ?? 0);
}

/** A file named by the configuration (certificates, keys), read once on start; a missing one stops the start. */
function readConfigFile(field: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new CustosError('CONFIG_INVALID', `${field}: cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** A DIMSE recipient's TLS settings with their files read. */
function readTls(t: NonNullable<Extract<GatewayConfig['recipients'][number]['deliver'], { kind: 'dimse' }>['tls']>, id: string): DimseTls {
  const read = (field: 'caFile' | 'certFile' | 'keyFile'): Buffer | undefined => (t[field] ? readConfigFile(`recipients[${id}].deliver.tls.${field}`, t[field]) : undefined);
  const [ca, cert, key] = [read('caFile'), read('certFile'), read('keyFile')];
  return { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}), rejectUnauthorized: t.rejectUnauthorized };
}

/**
 * Start the gateway: database, blob store, integrity log, the work loop, the DIMSE listener and the
 * HTTP server (DICOMweb, admin API, log tiles). Everything binds to `config.host` only.
 */
export async function startGateway(config: GatewayConfig, dataDir: string): Promise<Gateway> {
  const host = config.host;
  if (!isLoopback(host)) {
    if (!config.dimse.allowedCallingAeTitles) throw new CustosError('CONFIG_INVALID', `dimse.allowedCallingAeTitles: required when binding to ${host} (any calling AE title is accepted only on loopback)`);
    if (!config.http.allowedHosts) throw new CustosError('CONFIG_INVALID', `http.allowedHosts: required when binding to ${host}: the host names clients use (requests naming any other host are refused)`);
    if (!config.http.tls && !config.http.behindTlsProxy) throw new CustosError('CONFIG_INVALID', `http.tls: required when binding to ${host} (passwords, tokens and PHI would cross the network in clear), unless http.behindTlsProxy is true`);
  }
  const allowedHosts = config.http.allowedHosts ?? ['localhost', '127.0.0.1', '::1', host];
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const { log, signer, vkey, release } = openLogForWriting(dataDir); // also makes this process the data directory's only writer
  // The OCR worker (started only if a recipient cleans pixel data) is closed last of all.
  // Runs last to first: the last checkpoint is published before the log is released.
  const cleanup: Array<() => Promise<void> | void> = [async () => { await (await import('./pipeline/ocr.ts')).closeOcr(); }, release, () => log.publishPending()];
  const closeAll = async (): Promise<void> => { for (const f of cleanup.reverse()) await f(); };
  try {
    const deploymentKey = loadOrCreateKey(join(dataDir, 'keys', 'deid.key')).key;
    const keys = new DataKeys(masterKey(dataDir));
    const db = await openDatabase({ url: config.database.url, dir: join(dataDir, 'db') });
    cleanup.push(() => db.close());
    // The log must extend the checkpoint the database holds; each one published is kept there too.
    const published = await keepPublishedInDatabase(db, log);
    cleanup.push(() => { log.publishPending(); return published.flush(); });
    let blobs: BlobStore;
    if (config.blobs.kind === 's3') {
      const s3 = new S3BlobStore(config.blobs);
      await s3.check();
      blobs = s3;
    } else {
      blobs = new FsBlobStore(join(dataDir, 'blobs'), { inspector: siblingModule('./pipeline/blob-description', import.meta.url) });
    }

    // Recipients live in the database (docs/policy.md); the configuration file adds and changes them.
    // A recipient's de-identification may never be weaker than an agreement in force requires: a
    // configuration that weakens it is refused, not applied.
    const registry = new RecipientRegistry(db, config.routes);
    await registry.load(config.recipients, async (r, i) => {
      const weaker = await weakerThanAgreements(db, r);
      if (weaker) throw new CustosError('CONFIG_INVALID', `recipients[${i}].deid ${weaker}`);
    });
    for (const [i, route] of config.routes.entries()) {
      if (!registry.get(route.recipient)) throw new CustosError('CONFIG_INVALID', `configuration is invalid:\nroutes[${i}].recipient: no recipient has id "${route.recipient}"`);
    }
    const forwarders = new Map<string, Forwarder>();
    const makeForwarder = (r: RecipientConfig): Forwarder => {
      const d = r.deliver;
      return d.kind === 'dimse'
        ? new DimseForwarder({ host: d.host, port: d.port, aeTitle: d.aeTitle, callingAeTitle: d.callingAeTitle ?? config.dimse.aeTitle, timeoutMs: config.forwarding.timeoutMs, tls: d.tls && readTls(d.tls, r.id) }, config.forwarding.keepAssociationMs)
        : new StowForwarder({ url: d.url, headers: d.headers, timeoutMs: config.forwarding.timeoutMs });
    };
    for (const r of registry.recipients) forwarders.set(r.id, makeForwarder(r));
    registry.onChange((id) => {
      forwarders.get(id)?.close?.();
      forwarders.delete(id);
      const r = registry.get(id);
      if (r) forwarders.set(id, makeForwarder(r));
    });
    const pool = new SharedBufferPool(64 << 20);
    const recent = new RecentOriginals(256 << 20, pool);
    // DICOM signing identity: loaded (or made) once, when first needed.
    let signingIdentity: Promise<SigningIdentity & { certificatePem: string }> | undefined;
    const signing = (): Promise<SigningIdentity & { certificatePem: string }> => (signingIdentity ??= import('./store/signing-identity.ts').then((m) => m.loadOrCreateSigningIdentity(dataDir,
      config.signing.keyFile && config.signing.certFile ? { keyFile: config.signing.keyFile, certFile: config.signing.certFile } : undefined)));
    if (config.signing.keyFile || registry.recipients.some((r) => r.sign) || config.signing.patientCopies) await signing(); // a bad key stops the start, not the first release
    const processor = new Processor({ db, blobs, keys, deploymentKey, recipients: registry.recipients, forwarding: config.forwarding, forwarders, log: { store: log, signer }, recent, site: config.policy.purposes as Record<string, SiteMode>, signing, defacing: config.defacing });
    await processor.start();
    // Cleanups run last first: the processor stops (its deliveries settled), then associations kept open are released.
    cleanup.push(() => { for (const f of forwarders.values()) f.close?.(); });
    cleanup.push(() => processor.stop());
    // The audit trail is sealed into the log every audit.sealSeconds, and once more on the way out.
    let sealing: Promise<unknown> = Promise.resolve();
    const seal = (settleMs?: number): Promise<unknown> => (sealing = sealing.then(() => sealAudit(db, log, signer, settleMs)).catch((e: Error) => {
      process.stderr.write(`custos: audit seal not made (retried): ${e instanceof CustosError ? `${e.code}: ` : ''}${e.message}\n`);
    }));
    const sealTimer = setInterval(() => { void seal(); }, config.audit.sealSeconds * 1000);
    sealTimer.unref();
    cleanup.push(async () => { clearInterval(sealTimer); await seal(0); });
    if (config.audit.syslog) {
      const exporter = new SyslogExporter(db, config.audit.syslog, `custos:${config.dimse.aeTitle}`);
      exporter.start();
      cleanup.push(() => exporter.stop());
    }
    // Retention: what expired is purged every retention.intervalMinutes (and on demand, with a clock, for tests).
    let purging: Promise<unknown> = Promise.resolve();
    const retention = (now = new Date()): Promise<Awaited<ReturnType<typeof runRetention>>> => {
      const run = purging.then(() => runRetention(db, blobs, config.retention, now));
      purging = run.catch((e: Error) => { process.stderr.write(`custos: retention not run (retried): ${e instanceof CustosError ? `${e.code}: ` : ''}${e.message}\n`); });
      return run;
    };
    // Recipients are asked to delete (erasures, deletion deadlines) on the same schedule.
    const deletions = (now = new Date()): Promise<Awaited<ReturnType<typeof runDeletionRequests>>> => {
      const run = purging.then(() => runDeletionRequests(db, registry.recipients, log, signer, now));
      purging = run.catch((e: Error) => { process.stderr.write(`custos: deletion requests not sent (retried): ${e instanceof CustosError ? `${e.code}: ` : ''}${e.message}\n`); });
      return run;
    };
    const retentionTimer = setInterval(() => { void retention().catch(() => undefined); void deletions().catch(() => undefined); }, config.retention.intervalMinutes * 60_000);
    retentionTimer.unref();
    cleanup.push(async () => { clearInterval(retentionTimer); await purging; });

    // Witnesses cosign each new checkpoint if the log only grew (c2sp.org/tlog-witness).
    const witnesses = new WitnessSchedule(db, log, config.witnessing.witnesses);
    if (config.witnessing.witnesses.length) {
      await witnesses.start(config.witnessing.intervalSeconds);
      cleanup.push(() => witnesses.stop());
    }

    // Scheduled PACS sweeps: what the hospital's archives hold, checked against the log.
    const logVerifier = parseVerifierKey(vkey);
    const sweeps = new SweepScheduler({ db, log, view: () => localView(log, logVerifier), sweeps: config.sweeps, callingAeTitle: config.dimse.aeTitle });
    sweeps.start();
    cleanup.push(() => sweeps.stop());

    const maxInstanceBytes = config.dimse.maxInstanceMiB * 1024 * 1024;
    const privateSopClasses: ReadonlySet<string> = new Set(config.ingest.privateSopClasses);
    const ingestDeps: IngestDeps = { db, blobs, keys, deploymentKey, routes: registry.routes, onQueued: (row) => processor.ingested(row), backlog: () => processor.backlog(), recent, pool,
      maxInstanceBytes, privateSopClasses,
      quarantineBudget: { maxBytes: config.quarantine.maxMiB * 1024 * 1024, usedBytes: await quarantineBytes(db) } };
    const ingest = (received: Buffer | Received, origin: Parameters<typeof ingestInstance>[2]) => ingestInstance(ingestDeps, received, origin);
    // What does not fit in memory waits here, encrypted under keys only this process holds.
    const spool = { spool: new Spool(join(dataDir, 'spool')), memory: new MemoryBudget(config.ingest.memoryMiB * 1024 * 1024), spoolAboveBytes: config.ingest.spoolAboveMiB * 1024 * 1024 };
    const onError = (e: Error): void => { process.stderr.write(`custos: instance not stored: ${e instanceof CustosError ? e.code : 'INTERNAL'}: ${e.message}\n`); };

    const scpPolicy = {
      aeTitle: config.dimse.aeTitle, allowedCallingAeTitles: config.dimse.allowedCallingAeTitles,
      maxAssociations: config.dimse.maxAssociations, maxAssociationsPerSource: config.dimse.maxAssociationsPerSource,
      artimMs: config.dimse.artimSeconds * 1000, idleMs: config.dimse.idleSeconds * 1000, maxInstanceBytes, privateSopClasses, ingest, onError, pool, spool,
    };
    const dimseServer: Server = await startDimseServer(host, config.dimse.port, scpPolicy)
      .catch((e: NodeJS.ErrnoException) => { throw new CustosError('IO', `cannot listen for DIMSE on ${host}:${config.dimse.port}: ${e.code ?? e.message}`); });
    const listeners: Server[] = [dimseServer];
    let tlsPort: number | undefined;
    const t = config.dimse.tls;
    if (t) {
      const file = (field: string, path: string): Buffer => readConfigFile(`dimse.tls.${field}`, path);
      const tlsServer = await startDimseServer(host, t.port, scpPolicy, { cert: file('certFile', t.certFile), key: file('keyFile', t.keyFile), ca: t.caFile ? file('caFile', t.caFile) : undefined, requireClientCert: t.requireClientCert ?? Boolean(t.caFile) })
        .catch((e: NodeJS.ErrnoException) => { throw e instanceof CustosError ? e : new CustosError('IO', `cannot listen for DICOM TLS on ${host}:${t.port}: ${e.code ?? e.message}`); });
      listeners.push(tlsServer);
      tlsPort = (tlsServer.address() as { port: number }).port;
    }
    const sockets = new Set<Socket>();
    for (const l of listeners) {
      // A TLS server emits 'connection' for the TCP socket under each TLS one: destroying it closes both.
      l.on('connection', (s: Socket) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
    }
    cleanup.push(() => Promise.all(listeners.map((l) => new Promise<void>((resolve) => { l.close(() => resolve()); for (const s of sockets) s.destroy(); }))).then(() => undefined));
    const dimsePort = (dimseServer.address() as { port: number }).port;

    const adminCredentialFile = await writeInitialAdmin(db, dataDir);
    const httpsFiles = config.http.tls && { cert: readConfigFile('http.tls.certFile', config.http.tls.certFile), key: readConfigFile('http.tls.keyFile', config.http.tls.keyFile) };
    const serverOptions = {
      logger: false, bodyLimit: config.http.maxRequestMiB * 1024 * 1024,
      requestTimeout: config.http.requestTimeoutSeconds * 1000, connectionTimeout: config.http.idleSeconds * 1000,
    } as const;
    const app: FastifyInstance = (httpsFiles ? fastify({ ...serverOptions, https: httpsFiles }) : fastify(serverOptions)) as unknown as FastifyInstance;
    app.server.headersTimeout = config.http.headersTimeoutSeconds * 1000;
    if (config.http.minBytesPerSecond > 0) installSlowRequestLimits(app, { minBytesPerSecond: config.http.minBytesPerSecond, graceMs: config.http.slowRequestGraceSeconds * 1000 });
    await app.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: { title: 'Custos gateway admin API', version: CUSTOS_VERSION, description: 'Status, studies, jobs, recipients and quarantine of a Custos gateway. DICOMweb lives under /dicomweb. Every route needs the permission it names (docs/security.md).' },
        components: { securitySchemes: { token: { type: 'http', scheme: 'bearer' }, session: { type: 'apiKey', in: 'cookie', name: 'custos_session' } } },
      },
      // Each operation says what it needs: no credential (public) or a token or session holding its permission.
      transform: ({ schema, url, route }) => {
        const c = route.config as { permission?: string; public?: true } | undefined;
        const needs = c?.public ? 'Public.' : `Needs the permission \`${c?.permission}\`.`;
        const s = (schema ?? {}) as Record<string, unknown>;
        return { url, schema: { ...s, description: [s.description, needs].filter(Boolean).join(' '), security: c?.public ? [] : [{ token: [] }, { session: [] }] } as typeof schema };
      },
    });
    await app.register(cookie);
    await app.register(helmet);
    await app.register(rateLimit, { global: false });
    // Before any route: every route added from here on must declare its permission or start-up fails.
    const routes: RouteDeclaration[] = [];
    installGuard(app, { db, allowedHosts, routes });
    const original = async (instanceId: number): Promise<Buffer> => {
      const [row] = await db.query<{ patient_ref: string; blob_key: string; purged_at: string | null }>('SELECT patient_ref, blob_key, purged_at FROM instances WHERE id = $1', [instanceId]);
      if (!row) throw new CustosError('STORE_MISSING', `no instance ${instanceId}`);
      if (row.purged_at) throw new CustosError('RETENTION_PURGED', `instance ${instanceId} was purged (retention or erasure)`);
      return openBlob(await keys.load(db, row.patient_ref), await blobs.get(row.blob_key), row.blob_key);
    };
    const started = new Date();
    let httpUrl = '';
    await app.register(dicomwebRoutes({ db, ingest, original, bodyLimit: config.http.maxRequestMiB * 1024 * 1024, maxParts: config.http.maxStowParts, pool, spool }));
    await app.register(adminRoutes({
      db, recipients: registry.recipients, started, logSize: () => log.size, wake: () => processor.wake(),
      endpoints: { dimse: { host, port: dimsePort, aeTitle: config.dimse.aeTitle }, get http() { return { url: httpUrl }; }, dataDir },
    }));
    await app.register(logRoutes(() => log));
    const oidcSecret = process.env.CUSTOS_OIDC_CLIENT_SECRET ?? config.oidc?.clientSecret;
    await app.register(authRoutes({
      db, secureCookies: Boolean(config.http.tls) || config.http.behindTlsProxy, signInPerMinute: config.http.signInPerMinute,
      oidc: config.oidc && new OidcLogin({ ...config.oidc, clientSecret: oidcSecret }, db),
    }));
    await app.register(accessRoutes({ db, recipients: registry.recipients, deploymentKey }));
    await app.register(recipientRoutes({ db }));
    const signCopy = config.signing.patientCopies ? {
      // A copy that cannot be signed (big endian, deflated) goes as it is: the proof kit still covers it.
      sign: async (b: Buffer): Promise<Buffer> => {
        try {
          return Buffer.concat(signBuffers([b], await signing()).part10);
        } catch (e) { if (isCustosError(e)) return b; throw e; }
      },
      certificatePem: async () => (await signing()).certificatePem,
    } : undefined;
    await app.register(portalRoutes({ db, original, ...(signCopy ? { signCopy } : {}), log: () => ({ store: log, vkey }), recipients: registry.recipients, hospital: `custos:${config.dimse.aeTitle}`, deploymentKey, site: config.policy.purposes as Record<string, SiteMode>, originalsDays: config.retention.originalsDays, wake: () => processor.wake() }));
    await app.register(webRoutes());
    await app.register(fhirRoutes({ db, deploymentKey, wake: () => processor.wake() }));
    await app.register(policyRoutes({ db, registry, wake: () => processor.wake() }));
    await app.register(retentionRoutes({ db, blobs, keys, deploymentKey }));
    await app.register(sweepRoutes({ db, scheduler: sweeps, witnesses }));
    await app.register(defacingRoutes({ db, keys }));
    await app.register(auditRoutes({ db, deploymentKey, recipients: registry.recipients, gateway: `custos:${config.dimse.aeTitle}`, checkpoint: () => log.checkpoint.note }));
    try {
      await app.listen({ host, port: config.http.port });
    } catch (e) {
      throw new CustosError('IO', `cannot listen for HTTP on ${host}:${config.http.port}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    cleanup.push(() => app.close());
    const httpPort = (app.server.address() as { port: number }).port;
    httpUrl = `${httpsFiles ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${httpPort}`;

    return {
      dataDir,
      dimse: { host, port: dimsePort, aeTitle: config.dimse.aeTitle, ...(tlsPort !== undefined ? { tlsPort } : {}) },
      http: { url: httpUrl },
      db,
      routes,
      ...(adminCredentialFile ? { adminCredentialFile } : {}),
      retention,
      deletions,
      close: closeAll,
    };
  } catch (e) {
    await closeAll();
    throw e;
  }
}
