import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { CustosError } from '../errors.ts';
import { OPTIONS } from '../deid/profile-types.ts';
import { PURPOSES, lineage } from '../policy/purposes.ts';
import { parseCosignerVkey } from '../integrity/cosignature.ts';

/** PS3.5 6.2: AE titles are 1–16 characters of the default repertoire, no backslash or control characters. */
const aeTitle = z.string().regex(/^[\x20-\x5b\x5d-\x7e]{1,16}$/, 'an AE title is 1 to 16 printable ASCII characters, no backslash').refine((s) => s.trim().length > 0, 'an AE title cannot be blank');
const port = z.number().int().min(0).max(65535);
const uid = z.string().regex(/^[0-9]+(\.[0-9]+)*$/, 'a UID is digits separated by dots').max(64);

const DimseDestination = z.object({
  kind: z.literal('dimse'),
  host: z.string().min(1),
  port: port.min(1),
  aeTitle,
  /** Our AE title when calling this destination (default: the gateway's own). */
  callingAeTitle: aeTitle.optional(),
  /** DICOM TLS (PS3.15 B.1): the recipient's CA, and our certificate and key when it asks for one. */
  tls: z.object({
    caFile: z.string().min(1).optional(),
    certFile: z.string().min(1).optional(),
    keyFile: z.string().min(1).optional(),
    rejectUnauthorized: z.boolean().default(true),
  }).strict().refine((t) => Boolean(t.certFile) === Boolean(t.keyFile), 'certFile and keyFile go together').optional(),
}).strict();

const StowDestination = z.object({
  kind: z.literal('stow'),
  /** The DICOMweb service root; instances are POSTed to `<url>/studies`. */
  url: z.url({ protocol: /^https?$/ }),
  headers: z.record(z.string(), z.string()).optional(),
}).strict();

const fhirId = z.string().regex(/^[A-Za-z0-9\-.]{1,64}$/, 'a FHIR id: letters, digits, - and ., at most 64');

export const RecipientSchema = z.object({
  id: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/i, 'a recipient id is letters, digits, _ and -, starting with a letter or digit'),
  description: z.string().optional(),
  /** What this recipient receives data for (v3-ActReason, docs/policy.md): consents and agreements are judged against it. */
  purpose: z.enum(PURPOSES as [string, ...string[]], { message: `a purpose of use: one of ${PURPOSES.join(', ')}` }),
  /** The recipient as a FHIR Organization id, as consents name it (default: its id). */
  organization: fhirId.optional(),
  /**
   * Where the recipient is asked to delete releases (an erasure, an agreement's deletion deadline),
   * and the Ed25519 public key (raw, base64) its signed deletion attestations verify with.
   */
  attestation: z.object({ url: z.url({ protocol: /^https?$/ }), publicKey: z.string().regex(/^[A-Za-z0-9+/]{43}=$/, 'an Ed25519 public key: 32 bytes in base64') }).strict().optional(),
  /** The AI models it runs, as FHIR Device ids that consents may name. */
  models: z.array(z.object({ id: fhirId, name: z.string().min(1), version: z.string().min(1).optional() }).strict()).default([]),
  deliver: z.discriminatedUnion('kind', [DimseDestination, StowDestination]),
  /** Add a DICOM digital signature (PS3.15 C.1, Base RSA) to every instance sent, with `signing`'s key. */
  sign: z.boolean().default(false),
  deid: z.object({
    /** "basic": PS3.15 Basic Profile with `options`; "none": originals (a PACS inside the hospital). */
    profile: z.enum(['basic', 'none']).default('basic'),
    options: z.array(z.enum(OPTIONS)).default([]),
    /** Pseudonyms keyed per recipient (unlinkable across recipients) or with the deployment key. */
    key: z.enum(['recipient', 'deployment']).default('recipient'),
  }).strict().prefault({}),
}).strict();

/** Originals (no de-identification) only go to a recipient that treats the patient: a PACS inside the hospital. */
export const ORIGINALS_ONLY_FOR_TREATMENT = 'deid.profile "none" (originals) is allowed only for a recipient whose purpose is TREAT or under it (a PACS inside the hospital)';
export const originalsAllowed = (r: { purpose: string; deid: { profile: string } }): boolean => r.deid.profile !== 'none' || lineage(r.purpose).includes('TREAT');

export const MatchSchema = z.object({
  modality: z.array(z.string().min(1)).optional(),
  bodyPart: z.array(z.string().min(1)).optional(),
  sopClassUid: z.array(uid).optional(),
  callingAeTitle: z.array(aeTitle).optional(),
  source: z.array(z.enum(['dimse', 'stow'])).optional(),
}).strict();

const Route = z.object({
  recipient: z.string(),
  /** Every listed criterion must match (each list: any of its values); no criteria: every instance. */
  match: MatchSchema.prefault({}),
}).strict();

export const GatewayConfigSchema = z.object({
  dataDir: z.string().min(1).optional(),
  /** The address both servers bind to. */
  host: z.string().min(1).default('127.0.0.1'),
  dimse: z.object({
    port: port.default(11112),
    aeTitle: aeTitle.default('CUSTOS'),
    /** Calling AE titles allowed to send; unset: any, but only while bound to loopback. */
    allowedCallingAeTitles: z.array(aeTitle).optional(),
    /** Associations open at once; more are rejected as transient (local limit exceeded) so senders retry. */
    maxAssociations: z.number().int().min(1).max(1000).default(32),
    /** Associations open at once from one address (no one host holds every slot). */
    maxAssociationsPerSource: z.number().int().min(1).max(1000).default(16),
    /** ARTIM timer (PS3.8 9.1.5): seconds for a new connection to request an association, else closed. */
    artimSeconds: z.number().min(0.1).max(600).default(30),
    /** Seconds without a byte from the peer after which a connection is closed. */
    idleSeconds: z.number().min(0.1).max(3600).default(60),
    /** Largest instance received over DIMSE, in MiB (past `ingest.spoolAboveMiB` it is spooled to disk, not held in memory). */
    maxInstanceMiB: z.number().int().min(1).max(4096).default(1024),
    /** A second listener for DICOM TLS (PS3.15 B.1), usually port 2762; client certificates from `caFile`. */
    tls: z.object({
      port: port.default(2762),
      certFile: z.string().min(1),
      keyFile: z.string().min(1),
      caFile: z.string().min(1).optional(),
      /** Require and verify a client certificate (default: yes when caFile is given). */
      requireClientCert: z.boolean().optional(),
    }).strict().refine((t) => !t.requireClientCert || Boolean(t.caFile), 'requireClientCert needs caFile').optional(),
  }).strict().prefault({}),
  http: z.object({
    port: port.default(8080),
    /** Host names clients reach the gateway by (the Host header is checked: DNS rebinding). Default on loopback: localhost, 127.0.0.1, ::1 and the bound address; required off loopback. */
    allowedHosts: z.array(z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[0-9a-fA-F:.]*:[0-9a-fA-F:.]*|[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?)$/, 'a host name or IP address, without port or scheme')).min(1).optional(),
    /** HTTPS served directly from these PEM files. */
    tls: z.object({ certFile: z.string().min(1), keyFile: z.string().min(1) }).strict().optional(),
    /** A TLS-terminating proxy stands in front (off loopback, plain HTTP is refused without this or tls). */
    behindTlsProxy: z.boolean().default(false),
    /** Sign-in attempts (password, single sign-on, patient code) per client address and minute. */
    signInPerMinute: z.number().int().min(1).max(1000).default(10),
    /** Largest STOW-RS request accepted, in MiB. */
    maxRequestMiB: z.number().int().min(1).max(4096).default(1024),
    /** Most instances in one STOW-RS request (more: 413, nothing stored). */
    maxStowParts: z.number().int().min(1).max(100_000).default(1000),
    /** Seconds for a client to send a request's headers. */
    headersTimeoutSeconds: z.number().min(1).max(600).default(30),
    /** Seconds for a whole request, body included. */
    requestTimeoutSeconds: z.number().min(1).max(86_400).default(3600),
    /** Seconds a connection may stay open with nothing arriving. */
    idleSeconds: z.number().min(0.1).max(3600).default(60),
    /** An upload slower than this (bytes per second, on average) after the grace period is cut off. */
    minBytesPerSecond: z.number().int().min(0).default(10_240),
    slowRequestGraceSeconds: z.number().min(0.1).max(600).default(10),
  }).strict().prefault({}),
  /** Staff single sign-on with OpenID Connect (client secret: env CUSTOS_OIDC_CLIENT_SECRET, or here). */
  oidc: z.object({
    issuer: z.url({ protocol: /^https?$/ }),
    clientId: z.string().min(1),
    clientSecret: z.string().min(1).optional(),
    /** This gateway's callback as registered with the provider: <public URL>/auth/oidc/callback. */
    redirectUri: z.url({ protocol: /^https?$/ }),
    scope: z.string().default('openid profile email'),
    /** The ID token claim that names the staff account (provisioned with `custos users add <name> --sso`). */
    usernameClaim: z.string().min(1).default('preferred_username'),
  }).strict().optional(),
  /** Memory for what is being received (DIMSE instances, STOW-RS bodies); the rest waits in an encrypted spool on disk. */
  ingest: z.object({
    /** All receivers together hold at most this much in memory, in MiB; past it, what arrives is spooled. */
    memoryMiB: z.number().int().min(16).max(65_536).default(512),
    /** An instance or request body larger than this is spooled, not held in memory, in MiB. */
    spoolAboveMiB: z.number().int().min(1).max(4096).default(64),
    /**
     * Private SOP classes (outside the DICOM root) stored like standard storage classes, e.g. a
     * vendor's non-image storage. Unlisted private classes are refused (DIMSE: abstract syntax not
     * supported; STOW-RS: failure reason 0122).
     */
    privateSopClasses: z.array(uid.refine((u) => !u.startsWith('1.2.840.10008.'), 'a standard UID is not a private SOP class')).max(1000).default([]),
  }).strict().prefault({}),
  /** How long what the gateway holds is kept (docs/accountability.md); legal holds keep it longer. */
  retention: z.object({
    /** Identified originals, in days after they arrived (never before their deliveries are made). */
    originalsDays: z.number().min(0).max(36_500).default(90),
    /** Rejected input kept in quarantine, in days. */
    quarantineDays: z.number().min(0).max(36_500).default(30),
    /** How often expired data is purged, in minutes. */
    intervalMinutes: z.number().min(1).max(10_080).default(60),
  }).strict().prefault({}),
  /** The audit trail (docs/accountability.md). */
  audit: z.object({
    /** How often its new records are sealed into the integrity log, in seconds. */
    sealSeconds: z.number().min(0.1).max(3600).default(10),
    /** Export to the hospital's audit repository: DICOM audit messages (PS3.15 A.5) over syslog on TLS (RFC 5425). */
    syslog: z.object({
      host: z.string().min(1),
      port: port.min(1).default(6514),
      /** The repository's CA (its certificate is checked), and our client certificate if it asks for one. */
      caFile: z.string().min(1),
      certFile: z.string().min(1).optional(),
      keyFile: z.string().min(1).optional(),
      /** How often new records are sent (and a failed connection tried again), in seconds. */
      intervalSeconds: z.number().min(0.1).max(3600).default(5),
    }).strict().refine((t) => Boolean(t.certFile) === Boolean(t.keyFile), 'certFile and keyFile go together').optional(),
  }).strict().prefault({}),
  quarantine: z.object({
    /** The most rejected input kept (encrypted), in MiB; past it only each rejection's row is recorded. */
    maxMiB: z.number().int().min(0).max(1_048_576).default(1024),
  }).strict().prefault({}),
  database: z.object({
    /** postgres://… for a PostgreSQL server; unset: embedded PGlite under the data directory. */
    url: z.string().regex(/^postgres(ql)?:\/\//, 'a PostgreSQL URL starts with postgres:// or postgresql://').optional(),
  }).strict().prefault({}),
  /** Where encrypted originals live: files under the data directory, or S3-compatible object storage. */
  blobs: z.discriminatedUnion('kind', [
    z.object({ kind: z.literal('fs') }).strict(),
    z.object({
      kind: z.literal('s3'),
      bucket: z.string().min(3).max(63),
      endpoint: z.url({ protocol: /^https?$/ }).optional(),
      region: z.string().min(1).default('us-east-1'),
      prefix: z.string().regex(/^([A-Za-z0-9._-]+\/)*$/, 'a prefix is path segments each ending with /').default(''),
      forcePathStyle: z.boolean().default(true),
    }).strict(),
  ]).default({ kind: 'fs' }),
  forwarding: z.object({
    maxAttempts: z.number().int().min(1).max(100).default(8),
    initialBackoffMs: z.number().int().min(10).default(2000),
    maxBackoffMs: z.number().int().min(10).default(300_000),
    batchSize: z.number().int().min(1).max(1000).default(64),
    timeoutMs: z.number().int().min(100).default(30_000),
    /** How long a DIMSE association stays open after a batch, for the next one (0: released at once). */
    keepAssociationMs: z.number().int().min(0).max(600_000).default(5_000),
  }).strict().prefault({}),
  /**
   * The key and certificate DICOM digital signatures are made with (recipients with `sign`, patients'
   * copies with `patientCopies`): the hospital's (PEM files), or a self-signed pair made at first use.
   */
  signing: z.object({
    keyFile: z.string().min(1).optional(),
    certFile: z.string().min(1).optional(),
    /** Sign the originals patients download from the portal. */
    patientCopies: z.boolean().default(false),
  }).strict().refine((t) => Boolean(t.keyFile) === Boolean(t.certFile), 'keyFile and certFile go together').prefault({}),
  /**
   * Clean Recognizable Visual Features for recipients whose profile asks for it (docs/deid.md): a CT
   * or MR series is defaced as a whole once no instance of it has arrived for `quietSeconds`; one
   * still arriving after `maxWaitSeconds` is held back.
   */
  defacing: z.object({
    quietSeconds: z.number().min(0).max(3600).default(20),
    maxWaitSeconds: z.number().min(1).max(86_400).default(900),
    /** Remove the ears too. */
    ears: z.boolean().default(false),
  }).strict().prefault({}),
  /** Witnesses (c2sp.org/tlog-witness) the log's checkpoints are submitted to (docs/integrity.md). */
  witnessing: z.object({
    witnesses: z.array(z.object({
      url: z.url({ protocol: /^https?$/ }),
      /** The witness's key, as `custos witness key` prints it (name+id+base64, type 0x04). */
      key: z.string().refine((k) => { try { parseCosignerVkey(k); return true; } catch { return false; } }, 'a witness key (cosignature/v1 vkey, from `custos witness key`)'),
    }).strict()).default([]),
    /** How often a new checkpoint is submitted, in seconds (a round runs only when the log grew). */
    intervalSeconds: z.number().min(1).max(86_400).default(10),
  }).strict().prefault({}),
  /** Scheduled PACS sweeps (docs/integrity.md): what an archive holds, checked against the log. */
  sweeps: z.array(z.object({
    id: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/i, 'a sweep id is letters, digits, _ and -, starting with a letter or digit'),
    source: z.discriminatedUnion('kind', [
      z.object({ kind: z.literal('dicomweb'), url: z.url({ protocol: /^https?$/ }), headers: z.record(z.string(), z.string()).optional() }).strict(),
      z.object({ kind: z.literal('dimse'), host: z.string().min(1), port: port.min(1), aeTitle, callingAeTitle: aeTitle.optional() }).strict(),
    ]),
    /** Studies dated in the last this many days (unset: every study the archive lists). */
    sinceDays: z.number().int().min(1).max(36_500).optional(),
    /** full: every recorded instance fetched; sample: `share` of each series; metadata: nothing fetched. */
    mode: z.enum(['full', 'sample', 'metadata']).default('sample'),
    share: z.number().gt(0).max(1).default(0.05),
    /** How often it runs, in minutes; the first run comes one interval after start (or on demand through the API). */
    intervalMinutes: z.number().min(1).max(525_600).default(1440),
    /** Bandwidth limit for fetching, in MiB per second (unset: none). */
    maxMiBPerSecond: z.number().gt(0).max(100_000).optional(),
  }).strict()).default([]),
  /** The site's policy per purpose (docs/policy.md): opt-in or opt-out. No default: each recipient's purpose needs one. */
  policy: z.object({
    purposes: z.partialRecord(z.enum(PURPOSES as [string, ...string[]]), z.enum(['opt-in', 'opt-out'])).default({}),
  }).strict().prefault({}),
  recipients: z.array(RecipientSchema).default([]),
  routes: z.array(Route).default([]),
}).strict().superRefine((c, ctx) => {
  c.recipients.forEach((r, i) => {
    if (!originalsAllowed(r)) ctx.addIssue({ code: 'custom', path: ['recipients', i, 'deid', 'profile'], message: ORIGINALS_ONLY_FOR_TREATMENT });
    if (!lineage(r.purpose).some((p) => c.policy.purposes[p])) ctx.addIssue({ code: 'custom', path: ['recipients', i, 'purpose'], message: `${r.purpose} has no site policy: set policy.purposes.${r.purpose} to opt-in or opt-out` });
  });
  const ids = new Set<string>();
  c.recipients.forEach((r, i) => {
    if (ids.has(r.id)) ctx.addIssue({ code: 'custom', path: ['recipients', i, 'id'], message: `recipient id "${r.id}" is used twice` });
    ids.add(r.id);
  });
  const sweepIds = new Set<string>();
  c.sweeps.forEach((sw, i) => {
    if (sweepIds.has(sw.id)) ctx.addIssue({ code: 'custom', path: ['sweeps', i, 'id'], message: `sweep id "${sw.id}" is used twice` });
    sweepIds.add(sw.id);
  });
  // Routes may also name recipients added through the API: checked when the gateway starts.
  if (c.oidc && !new URL(c.oidc.redirectUri).pathname.endsWith('/auth/oidc/callback')) ctx.addIssue({ code: 'custom', path: ['oidc', 'redirectUri'], message: 'must end with /auth/oidc/callback' });
  if (c.forwarding.maxBackoffMs < c.forwarding.initialBackoffMs) ctx.addIssue({ code: 'custom', path: ['forwarding', 'maxBackoffMs'], message: 'must be at least initialBackoffMs' });
});

export type GatewayConfig = z.infer<typeof GatewayConfigSchema>;
export type RecipientConfig = GatewayConfig['recipients'][number];
export type RouteConfig = GatewayConfig['routes'][number];

/** "recipients[0].deliver.port: Too small: expected number to be >=1" — the exact field and reason. */
function describeIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.length ? i.path.map((p, k) => (typeof p === 'number' ? `[${p}]` : `${k ? '.' : ''}${String(p)}`)).join('') : '(top level)'}: ${i.message}`).join('\n');
}

/** Validate a configuration object (already parsed from YAML or JSON). */
export function parseGatewayConfig(raw: unknown, origin = 'configuration'): GatewayConfig {
  const r = GatewayConfigSchema.safeParse(raw ?? {});
  if (!r.success) throw new CustosError('CONFIG_INVALID', `${origin} is invalid:\n${describeIssues(r.error)}`);
  return r.data;
}

/** Read and validate a YAML or JSON configuration file. */
export function loadGatewayConfig(path: string): GatewayConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new CustosError('CONFIG_INVALID', `cannot read configuration file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = extname(path).toLowerCase() === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    throw new CustosError('CONFIG_INVALID', `configuration file ${path} is not valid ${extname(path).toLowerCase() === '.json' ? 'JSON' : 'YAML'}: ${(e as Error).message}`);
  }
  return parseGatewayConfig(raw, `configuration file ${path}`);
}
