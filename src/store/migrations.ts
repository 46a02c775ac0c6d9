/**
 * Schema migrations, applied in order once each (see database.ts). Never edit a released migration:
 * add a new one. The same SQL runs on PGlite and on a PostgreSQL server.
 *
 * No PHI is stored in clear here: patients appear only as `patient_ref`, an HMAC of their identity
 * under the deployment key; images live encrypted in the blob store. UIDs are kept so that the
 * gateway can route, deduplicate and answer QIDO-RS.
 */
/**
 * The work loop's claim, in custos_log_and_claim (migrations 3 and 4): up to p_limit ready jobs of
 * logged instances, marked running and returned with their instance.
 */
const CLAIM_READY_JOBS = `          RETURN QUERY UPDATE jobs SET state = 'running', updated_at = now() FROM instances i
            WHERE i.id = jobs.instance_id AND jobs.id IN (
              SELECT j.id FROM jobs j JOIN instances ji ON ji.id = j.instance_id
              WHERE j.state = 'pending' AND j.next_attempt_at <= now() AND ji.log_index IS NOT NULL
              ORDER BY j.id LIMIT p_limit FOR UPDATE OF j SKIP LOCKED)
            RETURNING jobs.id, jobs.instance_id, jobs.recipient, jobs.attempts,
              json_build_object('id', i.id, 'patient_ref', i.patient_ref, 'blob_key', i.blob_key, 'source', i.source,
                'calling_ae', i.calling_ae, 'log_index', i.log_index, 'transfer_syntax_uid', i.transfer_syntax_uid);`;

export const MIGRATIONS: ReadonlyArray<{ version: number; sql: readonly string[] }> = [
  {
    version: 1,
    sql: [
      `CREATE TABLE patient_keys (
        patient_ref text PRIMARY KEY,
        wrapped_key bytea,
        created_at timestamptz NOT NULL DEFAULT now(),
        shredded_at timestamptz
      )`,
      `CREATE TABLE instances (
        id bigserial PRIMARY KEY,
        sop_instance_uid text NOT NULL,
        sop_class_uid text NOT NULL,
        study_instance_uid text NOT NULL,
        series_instance_uid text NOT NULL,
        modality text,
        body_part text,
        transfer_syntax_uid text NOT NULL,
        patient_ref text NOT NULL REFERENCES patient_keys (patient_ref),
        blob_key text NOT NULL,
        bytes bigint NOT NULL,
        sha256 text NOT NULL,
        source text NOT NULL,
        calling_ae text,
        received_at timestamptz NOT NULL DEFAULT now(),
        log_index bigint,
        UNIQUE (sop_instance_uid, sha256)
      )`,
      'CREATE INDEX instances_study ON instances (study_instance_uid, series_instance_uid)',
      'CREATE INDEX instances_unlogged ON instances (id) WHERE log_index IS NULL',
      `CREATE TABLE jobs (
        id bigserial PRIMARY KEY,
        instance_id bigint NOT NULL REFERENCES instances (id) ON DELETE CASCADE,
        recipient text NOT NULL,
        state text NOT NULL CHECK (state IN ('pending', 'running', 'done', 'held', 'dead')),
        attempts integer NOT NULL DEFAULT 0,
        next_attempt_at timestamptz NOT NULL DEFAULT now(),
        last_error_code text,
        last_error text,
        output_sop_instance_uid text,
        output_sha256 text,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        done_at timestamptz,
        UNIQUE (instance_id, recipient)
      )`,
      `CREATE INDEX jobs_ready ON jobs (next_attempt_at, id) WHERE state = 'pending'`,
      'CREATE INDEX jobs_state ON jobs (state)',
      `CREATE TABLE quarantine (
        id bigserial PRIMARY KEY,
        received_at timestamptz NOT NULL DEFAULT now(),
        source text NOT NULL,
        calling_ae text,
        code text NOT NULL,
        reason text NOT NULL,
        blob_key text,
        wrapped_key bytea,
        bytes bigint NOT NULL,
        sha256 text NOT NULL
      )`,
      `CREATE TABLE events (
        id bigserial PRIMARY KEY,
        at timestamptz NOT NULL DEFAULT now(),
        kind text NOT NULL,
        instance_id bigint,
        job_id bigint,
        recipient text,
        detail jsonb
      )`,
      'CREATE INDEX events_instance ON events (instance_id)',
    ],
  },
  {
    version: 2,
    sql: [
      // The ingest commit as one function call: its plans are prepared once per session, where the
      // same statement as one query with three data-modifying CTEs was planned again on every
      // instance (measured on PGlite: 0.47 ms per call against 0.77-0.94 ms). Inserts the instance
      // unless the same one (SOP Instance UID and SHA-256) is held, then its jobs (the persistent
      // queue) and audit events; returns the new row's id, or NULL for a duplicate.
      `CREATE FUNCTION custos_ingest(p_sop_instance_uid text, p_sop_class_uid text, p_study_instance_uid text,
          p_series_instance_uid text, p_modality text, p_body_part text, p_transfer_syntax_uid text, p_patient_ref text,
          p_blob_key text, p_bytes bigint, p_sha256 text, p_source text, p_calling_ae text, p_recipients text[], p_received jsonb)
        RETURNS bigint LANGUAGE plpgsql AS $$
        DECLARE v_id bigint;
        BEGIN
          INSERT INTO instances (sop_instance_uid, sop_class_uid, study_instance_uid, series_instance_uid, modality, body_part,
              transfer_syntax_uid, patient_ref, blob_key, bytes, sha256, source, calling_ae)
            VALUES (p_sop_instance_uid, p_sop_class_uid, p_study_instance_uid, p_series_instance_uid, p_modality, p_body_part,
              p_transfer_syntax_uid, p_patient_ref, p_blob_key, p_bytes, p_sha256, p_source, p_calling_ae)
            ON CONFLICT (sop_instance_uid, sha256) DO NOTHING RETURNING id INTO v_id;
          IF v_id IS NULL THEN RETURN NULL; END IF;
          INSERT INTO jobs (instance_id, recipient, state) SELECT v_id, r, 'pending' FROM unnest(p_recipients) AS r;
          INSERT INTO events (kind, instance_id, detail) VALUES ('instance.received', v_id, p_received);
          IF cardinality(p_recipients) = 0 THEN INSERT INTO events (kind, instance_id) VALUES ('instance.unrouted', v_id); END IF;
          RETURN v_id;
        END $$`,
    ],
  },
  {
    version: 3,
    sql: [
      // The work loop's two statements per turn as functions, for the same reason as custos_ingest:
      // planned once per session (measured on PGlite, batches of 4: log and claim 1.1 ms against 2.3 ms
      // as three statements in a transaction). Records the log indexes of newly logged instances (-1:
      // not logged) with an audit event for each logged one, then claims up to p_limit ready jobs of
      // logged instances and returns them with their instance. Both commit without waiting for their
      // WAL on disk (synchronous_commit off, this transaction only): what a power loss could take back
      // is redone on start — an instance not marked logged is logged again (its durable log entry is
      // found and reused), a claim or a settlement lost sends the instance once more (same UIDs).
      // The next ingest commit, which waits, flushes them too.
      `CREATE FUNCTION custos_log_and_claim(p_instance_ids bigint[], p_log_indexes bigint[], p_limit integer)
        RETURNS TABLE (id bigint, instance_id bigint, recipient text, attempts integer, instance json) LANGUAGE plpgsql AS $$
        #variable_conflict use_column
        BEGIN
          PERFORM set_config('synchronous_commit', 'off', true);
          UPDATE instances SET log_index = v.idx FROM unnest(p_instance_ids, p_log_indexes) AS v(iid, idx) WHERE instances.id = v.iid;
          INSERT INTO events (kind, instance_id, detail)
            SELECT 'instance.logged', v.iid, jsonb_build_object('logIndex', v.idx) FROM unnest(p_instance_ids, p_log_indexes) AS v(iid, idx) WHERE v.idx >= 0;
${CLAIM_READY_JOBS}
        END $$`,
      // Jobs delivered: marked done with the output's SOP Instance UID, and a job.forwarded event each.
      `CREATE FUNCTION custos_settle_done(p_job_ids bigint[], p_output_uids text[], p_bytes bigint[])
        RETURNS void LANGUAGE plpgsql AS $$
        BEGIN
          PERFORM set_config('synchronous_commit', 'off', true);
          WITH done AS (
            UPDATE jobs SET state = 'done', attempts = jobs.attempts + 1, done_at = now(), updated_at = now(),
                last_error_code = NULL, last_error = NULL, output_sop_instance_uid = v.uid
              FROM unnest(p_job_ids, p_output_uids, p_bytes) AS v(jid, uid, nbytes) WHERE jobs.id = v.jid
              RETURNING jobs.id AS jid, jobs.instance_id AS iid, jobs.recipient AS rcpt, jobs.attempts AS att, v.uid AS uid, v.nbytes AS nbytes)
          INSERT INTO events (kind, instance_id, job_id, recipient, detail)
            SELECT 'job.forwarded', d.iid, d.jid, d.rcpt, jsonb_build_object('attempt', d.att, 'outputSOPInstanceUID', d.uid, 'bytes', d.nbytes)
            FROM done d ORDER BY d.jid;
        END $$`,
    ],
  },
  {
    version: 4,
    sql: [
      // Totals kept as the work loop goes, so that what a monitoring system polls and what an admin
      // lists costs the same at ten million instances as at ten: counting the instances and the jobs
      // in full took about 0.2 s on PGlite at a million of each, listing studies a second, holding its
      // one connection (and every ingest) meanwhile (bench/status-counts.ts). Kept off the
      // acknowledgement path: an ingest commit touches no shared row (on a PostgreSQL server it would
      // serialise concurrent ingests). Instances are counted per series once marked by the log step
      // (log_index set, -1 included), those not yet marked through their partial index
      // (instances_unlogged); delivered jobs per recipient when settled. Nothing else changes them: a
      // discarded instance was never marked (its jobs were never claimed), and no job leaves 'done'.
      `CREATE TABLE job_totals (
        recipient text PRIMARY KEY,
        done bigint NOT NULL
      )`,
      `INSERT INTO job_totals (recipient, done) SELECT recipient, count(*) FROM jobs WHERE state = 'done' GROUP BY recipient`,
      // Per series (and modality: '' when an instance gave none), what the study lists report
      // (/api/studies, QIDO-RS studies): grouping these rows, a few per study, instead of every instance.
      `CREATE TABLE series_totals (
        study_instance_uid text NOT NULL,
        series_instance_uid text NOT NULL,
        modality text NOT NULL,
        instances bigint NOT NULL,
        first_instance_id bigint NOT NULL,
        first_received_at timestamptz NOT NULL,
        last_received_at timestamptz NOT NULL,
        PRIMARY KEY (study_instance_uid, series_instance_uid, modality)
      )`,
      `INSERT INTO series_totals SELECT study_instance_uid, series_instance_uid, coalesce(modality, ''), count(*), min(id), min(received_at), max(received_at)
        FROM instances WHERE log_index IS NOT NULL GROUP BY 1, 2, 3`,
      // /api/metrics reads the most recent deliveries: by this index, not by sorting every one.
      `CREATE INDEX jobs_done_at ON jobs (done_at) WHERE state = 'done'`,
      // As in migration 3, and an instance is marked once (the first log index recorded stays; the
      // totals grow only by the rows marked now); its instance.logged event with it.
      `CREATE OR REPLACE FUNCTION custos_log_and_claim(p_instance_ids bigint[], p_log_indexes bigint[], p_limit integer)
        RETURNS TABLE (id bigint, instance_id bigint, recipient text, attempts integer, instance json) LANGUAGE plpgsql AS $$
        #variable_conflict use_column
        BEGIN
          PERFORM set_config('synchronous_commit', 'off', true);
          IF cardinality(p_instance_ids) > 0 THEN
            WITH marked AS (
              UPDATE instances SET log_index = v.idx FROM unnest(p_instance_ids, p_log_indexes) AS v(iid, idx)
                WHERE instances.id = v.iid AND instances.log_index IS NULL
                RETURNING instances.id AS iid, v.idx AS idx, instances.study_instance_uid AS study,
                  instances.series_instance_uid AS series, coalesce(instances.modality, '') AS modality, instances.received_at AS at),
            logged AS (
              INSERT INTO events (kind, instance_id, detail)
                SELECT 'instance.logged', m.iid, jsonb_build_object('logIndex', m.idx) FROM marked m WHERE m.idx >= 0 ORDER BY m.iid)
            INSERT INTO series_totals AS t SELECT m.study, m.series, m.modality, count(*), min(m.iid), min(m.at), max(m.at) FROM marked m GROUP BY 1, 2, 3
              ON CONFLICT (study_instance_uid, series_instance_uid, modality) DO UPDATE SET instances = t.instances + excluded.instances,
                first_instance_id = least(t.first_instance_id, excluded.first_instance_id),
                first_received_at = least(t.first_received_at, excluded.first_received_at),
                last_received_at = greatest(t.last_received_at, excluded.last_received_at);
          END IF;
${CLAIM_READY_JOBS}
        END $$`,
      // As in migration 3, counting each job once as it becomes done, in its recipient's total.
      `CREATE OR REPLACE FUNCTION custos_settle_done(p_job_ids bigint[], p_output_uids text[], p_bytes bigint[])
        RETURNS void LANGUAGE plpgsql AS $$
        BEGIN
          PERFORM set_config('synchronous_commit', 'off', true);
          WITH done AS (
            UPDATE jobs SET state = 'done', attempts = jobs.attempts + 1, done_at = now(), updated_at = now(),
                last_error_code = NULL, last_error = NULL, output_sop_instance_uid = v.uid
              FROM unnest(p_job_ids, p_output_uids, p_bytes) AS v(jid, uid, nbytes) WHERE jobs.id = v.jid AND jobs.state <> 'done'
              RETURNING jobs.id AS jid, jobs.instance_id AS iid, jobs.recipient AS rcpt, jobs.attempts AS att, v.uid AS uid, v.nbytes AS nbytes),
          forwarded AS (
            INSERT INTO events (kind, instance_id, job_id, recipient, detail)
              SELECT 'job.forwarded', d.iid, d.jid, d.rcpt, jsonb_build_object('attempt', d.att, 'outputSOPInstanceUID', d.uid, 'bytes', d.nbytes)
              FROM done d ORDER BY d.jid)
          INSERT INTO job_totals (recipient, done) SELECT d.rcpt, count(*) FROM done d GROUP BY d.rcpt
            ON CONFLICT (recipient) DO UPDATE SET done = job_totals.done + excluded.done;
        END $$`,
    ],
  },
  {
    // Access control (docs/security.md): staff accounts, API tokens (services, senders, recipients),
    // sessions (staff and patients), patient access codes, recipients' deletion attestations.
    // Secrets are stored only as digests (passwords: scrypt; random tokens, sessions, codes: SHA-256).
    version: 5,
    sql: [
      `CREATE TABLE users (
        id bigserial PRIMARY KEY,
        username text NOT NULL UNIQUE,
        role text NOT NULL,
        password_hash text,
        sso boolean NOT NULL DEFAULT false,
        created_by text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        disabled_at timestamptz,
        last_login_at timestamptz
      )`,
      `CREATE TABLE api_tokens (
        id text PRIMARY KEY,
        secret_sha256 bytea NOT NULL,
        name text NOT NULL,
        permissions text[] NOT NULL,
        recipient text,
        created_by text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL,
        revoked_at timestamptz,
        last_used_at timestamptz
      )`,
      `CREATE TABLE sessions (
        id_sha256 bytea PRIMARY KEY,
        user_id bigint REFERENCES users (id),
        patient_code_id bigint,
        via text NOT NULL,
        csrf text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        last_seen_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL,
        idle_seconds integer NOT NULL,
        CHECK ((user_id IS NULL) <> (patient_code_id IS NULL))
      )`,
      'CREATE INDEX sessions_expiry ON sessions (expires_at)',
      `CREATE TABLE patient_codes (
        id bigserial PRIMARY KEY,
        code_sha256 bytea NOT NULL UNIQUE,
        patient_ref text NOT NULL,
        created_by text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL,
        used_at timestamptz,
        revoked_at timestamptz
      )`,
      `CREATE TABLE oidc_logins (
        state_sha256 bytea PRIMARY KEY,
        nonce text NOT NULL,
        code_verifier text NOT NULL,
        expires_at timestamptz NOT NULL
      )`,
      `CREATE TABLE deletion_attestations (
        id bigserial PRIMARY KEY,
        recipient text NOT NULL,
        token_id text NOT NULL,
        job_id bigint NOT NULL REFERENCES jobs (id),
        deleted_at timestamptz NOT NULL,
        statement text,
        recorded_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (job_id)
      )`,
      'CREATE INDEX jobs_done_recipient ON jobs (recipient, id) WHERE state = \'done\'',
      'CREATE INDEX instances_patient ON instances (patient_ref)',
    ],
  },
  {
    // The consent registry (docs/policy.md): every version of every FHIR Consent, found by the
    // patient's keyed reference (the same HMAC as instances.patient_ref), never by identifier.
    version: 6,
    sql: [
      `CREATE TABLE consents (
        id text NOT NULL,
        version integer NOT NULL,
        patient_ref text NOT NULL,
        status text NOT NULL,
        categories text[] NOT NULL,
        date_time text,
        resource jsonb NOT NULL,
        recorded_by text NOT NULL,
        recorded_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (id, version)
      )`,
      'CREATE INDEX consents_patient ON consents (patient_ref, id, version)',
    ],
  },
  {
    // Recipients' vetting and data-use agreements (docs/policy.md), every version kept with who made
    // it; jobs the egress decision withholds wait in state 'withheld' with their reasons.
    version: 7,
    sql: [
      `CREATE TABLE vetting (
        recipient text NOT NULL,
        version integer NOT NULL,
        status text NOT NULL CHECK (status IN ('draft', 'approved', 'suspended', 'revoked')),
        record jsonb NOT NULL,
        filled_by text NOT NULL,
        decided_by text,
        changed_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (recipient, version)
      )`,
      `CREATE TABLE agreements (
        id text NOT NULL,
        version integer NOT NULL,
        recipient text NOT NULL,
        status text NOT NULL CHECK (status IN ('active', 'terminated')),
        terms jsonb NOT NULL,
        changed_by text NOT NULL,
        changed_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (id, version)
      )`,
      'CREATE INDEX agreements_recipient ON agreements (recipient, id, version)',
      'ALTER TABLE jobs DROP CONSTRAINT jobs_state_check',
      `ALTER TABLE jobs ADD CONSTRAINT jobs_state_check CHECK (state IN ('pending', 'running', 'done', 'held', 'dead', 'withheld'))`,
      'ALTER TABLE jobs ADD COLUMN withheld_reasons jsonb',
      // The decision a delivered job went out under (docs/policy.md): its basis and obligations.
      'ALTER TABLE jobs ADD COLUMN release_basis jsonb',
      `CREATE INDEX jobs_withheld ON jobs (recipient, id) WHERE state = 'withheld'`,
    ],
  },
  {
    // Recipients' definitions (docs/policy.md): every version, with who made it; the configuration
    // file seeds the first version of a recipient the database lacks.
    version: 8,
    sql: [
      `CREATE TABLE recipients (
        id text NOT NULL,
        version integer NOT NULL,
        removed boolean NOT NULL DEFAULT false,
        definition jsonb NOT NULL,
        changed_by text NOT NULL,
        changed_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (id, version)
      )`,
    ],
  },
  {
    // Seals of the audit trail (docs/accountability.md): each batch of events, in id order, hashed
    // and committed into the integrity log; `custos audit verify` recomputes them.
    version: 9,
    sql: [
      `CREATE TABLE audit_seals (
        seq integer PRIMARY KEY,
        first_event bigint NOT NULL,
        last_event bigint NOT NULL,
        count integer NOT NULL,
        digest text NOT NULL,
        log_index bigint NOT NULL,
        sealed_at timestamptz NOT NULL DEFAULT now()
      )`,
    ],
  },
  {
    // Retention and erasure (docs/accountability.md): purged originals keep their row (the audit
    // trail and the accounting refer to it); legal holds; erasures and the recipients to ask.
    version: 10,
    sql: [
      'ALTER TABLE instances ADD COLUMN purged_at timestamptz',
      `CREATE TABLE legal_holds (
        id bigserial PRIMARY KEY,
        patient_ref text,
        study_instance_uid text,
        reason text NOT NULL,
        created_by text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        released_at timestamptz,
        released_by text,
        CHECK (patient_ref IS NOT NULL OR study_instance_uid IS NOT NULL)
      )`,
      `CREATE TABLE erasures (
        id bigserial PRIMARY KEY,
        patient_ref text NOT NULL,
        reason text NOT NULL,
        erased_by text NOT NULL,
        erased_at timestamptz NOT NULL DEFAULT now(),
        jobs_stopped integer NOT NULL
      )`,
      // Requests to a recipient to delete releases (an erasure, or an agreement's deletion deadline),
      // sent durably until a signed attestation answers them.
      `CREATE TABLE deletion_requests (
        id bigserial PRIMARY KEY,
        recipient text NOT NULL,
        kind text NOT NULL CHECK (kind IN ('erasure', 'deadline')),
        erasure_id bigint REFERENCES erasures (id),
        job_ids bigint[] NOT NULL,
        due_at timestamptz NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        attempts integer NOT NULL DEFAULT 0,
        next_attempt_at timestamptz NOT NULL DEFAULT now(),
        last_error text,
        answered_at timestamptz,
        log_index bigint
      )`,
      `CREATE INDEX deletion_requests_open ON deletion_requests (next_attempt_at) WHERE answered_at IS NULL`,
      'CREATE INDEX instances_expiry ON instances (received_at) WHERE purged_at IS NULL',
    ],
  },
  {
    // Export of the audit trail to an audit repository (syslog): how far it got.
    version: 11,
    sql: [
      `CREATE TABLE audit_export (
        name text PRIMARY KEY,
        last_event bigint NOT NULL,
        exported_at timestamptz NOT NULL DEFAULT now()
      )`,
    ],
  },
  {
    // Signed release receipts, one per delivered batch (docs/accountability.md).
    version: 12,
    sql: [
      `CREATE TABLE release_receipts (
        id bigserial PRIMARY KEY,
        recipient text NOT NULL,
        receipt jsonb NOT NULL,
        log_index bigint NOT NULL,
        issued_at timestamptz NOT NULL DEFAULT now()
      )`,
      'CREATE INDEX release_receipts_recipient ON release_receipts (recipient, id)',
    ],
  },
  {
    // The latest checkpoint the log published, kept outside the log directory (store/log-published-db.ts),
    // and the witnesses' cosignatures of checkpoints (integrity/witness-client).
    version: 13,
    sql: [
      `CREATE TABLE log_published (
        origin text PRIMARY KEY,
        size bigint NOT NULL,
        note text NOT NULL,
        published_at timestamptz NOT NULL DEFAULT now()
      )`,
      `CREATE TABLE log_cosignatures (
        witness text NOT NULL,
        size bigint NOT NULL,
        note text NOT NULL,
        cosigned_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (witness, size)
      )`,
    ],
  },
  {
    // PACS sweeps run by the gateway and what they found that needs a look (pipeline/sweep-schedule.ts).
    version: 14,
    sql: [
      `CREATE TABLE sweeps (
        id bigserial PRIMARY KEY,
        name text NOT NULL,
        source text NOT NULL,
        mode text NOT NULL,
        started_at timestamptz NOT NULL DEFAULT now(),
        finished_at timestamptz,
        outcome text NOT NULL DEFAULT 'running',
        error text,
        summary jsonb
      )`,
      `CREATE TABLE sweep_findings (
        id bigserial PRIMARY KEY,
        sweep_id bigint NOT NULL REFERENCES sweeps (id),
        status text NOT NULL,
        study_instance_uid text NOT NULL,
        series_instance_uid text NOT NULL,
        sop_instance_uid text NOT NULL,
        log_index bigint,
        reason text NOT NULL,
        acknowledged_at timestamptz,
        acknowledged_by text
      )`,
      'CREATE INDEX sweep_findings_sweep ON sweep_findings (sweep_id, id)',
      'CREATE INDEX sweep_findings_open ON sweep_findings (id) WHERE acknowledged_at IS NULL',
    ],
  },
  {
    // The hospital's population as keyed counts for journalist risk (policy/risk-population.ts).
    version: 15,
    sql: [
      `CREATE TABLE risk_population (
        patient_ref text NOT NULL,
        series_key text NOT NULL,
        attrs jsonb NOT NULL,
        PRIMARY KEY (patient_ref, series_key)
      )`,
      'CREATE INDEX risk_population_attrs ON risk_population USING gin (attrs jsonb_path_ops)',
    ],
  },
  {
    // Each series defaced (pipeline/series-defacer.ts): its report, and the review renderings sealed
    // with the patient's data key (the one before shows the face; erasure makes both unreadable).
    version: 16,
    sql: [
      `CREATE TABLE defacing_reviews (
        id bigserial PRIMARY KEY,
        patient_ref text NOT NULL,
        series_instance_uid text NOT NULL,
        ears boolean NOT NULL,
        outcome text NOT NULL,
        report jsonb NOT NULL,
        before_png bytea,
        after_png bytea,
        created_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (series_instance_uid, ears)
      )`,
    ],
  },
];
