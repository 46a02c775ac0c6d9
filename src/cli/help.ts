import { availableParallelism } from 'node:os';
import { OPTIONS } from '../deid/profile-types.ts';

/** Help texts, kept apart from the commands so `custos --help` loads nothing heavy. */

export const DEID_HELP = `Usage: custos deid <input>... --out <dir> [options]

De-identify DICOM files (folders are read recursively) with the DICOM PS3.15 Basic Application Level
Confidentiality Profile and the options given. One file per released instance is written under
<dir>/<patient pseudonym>/<study UID>/<series UID>/<instance UID>.dcm; a JSON receipt without PHI
records what was done. Instances with burned-in text risk are held back with a reason.

Options:
  --out <dir>            output folder (required); never overwrites an input
  --profile basic        the profile (default and only value: basic)
  --option <name>        add an option; repeat for more. One of:
                         ${OPTIONS.join(',\n                         ')}
  --key-file <path>      pseudonymisation key (default <data-dir>/keys/deid.key, created on first use, mode 0600)
  --recipient <name>     derive a separate key for this recipient, so two recipients' data cannot be joined
  --purpose <code>       decide each release first (docs/policy.md): a v3-ActReason purpose such as
                         MLTRAINING, TREATDS or HRESCH. Needs --site-policy and --agreement; withheld
                         inputs are not de-identified and are counted by reason in the receipt
  --site-policy <mode>   opt-in (only with a patient's consent) or opt-out (unless a patient refused)
  --consents <file>      patients' consents: a FHIR R4 Bundle or NDJSON of Consent resources
  --agreement <file>     the data-use agreement (JSON: id, version, recipient {organization, models,
                         vetting {status, version}}, terms as in docs/policy.md)
                         Without --agreement, --purpose with --recipient <id> reads the gateway's
                         database instead (--config, --data-dir): its recipient, vetting, agreements,
                         site policy and consents (the embedded database only while the gateway is stopped)
  --pixel-text phi|all   with clean-pixel-data: remove burned-in text that is PHI (the patient's names,
                         IDs, dates, institution; PHI patterns; unreadable words) or all text (default phi)
  --pixel-rules <file>   JSON rules of known text regions to blank (see docs/pixels.md)
  --pixel-allow <words>  words to keep in pixels, comma-separated (e.g. L,R,cm)
  --deface-ears          with clean-recognizable-visual-features: remove the ears too (docs/deid.md)
  --review <dir>         where defacing review renderings (before/after PNG per series) go; default
                         custos-review beside the receipt, or <out>-review when the receipt is in <out>
  --record               record each original and a derivation statement per output in the log
  --max-risk <r>         measure the release's re-identification risk (docs/risk.md); above r, generalize
                         its quasi-identifiers in the headers (age and weight bands, dates to month or
                         year, rare values removed) or, if nothing meets r, withhold it (REIDENTIFICATION_RISK);
                         the receipt records the risk
                         (so "custos verify" reports outputs as derived)
  --receipt <file>       where to write the receipt (default <out>/custos-receipt.json)
  --jobs <n>             threads working on files (this one and n-1 workers; by default one per core,
                         ${availableParallelism()} here, for runs longer than about 0.8 s on one thread,
                         e.g. 700 CT slices: a worker takes 0.15-0.3 s to start)
  --data-dir <dir>       data directory (env CUSTOS_DATA_DIR; default ./custos-data)
  -q, --quiet            print failures only
  --hide-paths           name inputs in messages by number and SHA-256, not by path (paths in
                         archives often hold patient names); by default they are named relative
                         to the input folder they were found in
  -h, --help             show this help

Exit status: 0 every input released, held back or skipped (not DICOM) with a reason; 1 some inputs failed; 2 usage error.
`;

export const SIGN_HELP = `Usage: custos sign <file|dir>... [--source <label>] [--data-dir <dir>]

Record DICOM files in the local transparency log (for sites without the gateway): a signed ingest
statement per instance binding its decoded pixels, geometry and header, appended in batches under a
signed checkpoint. Files already recorded with the same content are not recorded again.

Options:
  --source <label>   where the files came from (default "cli")
  --data-dir <dir>   data directory (env CUSTOS_DATA_DIR; default ./custos-data)
Exit status: 0 all recorded; 1 some files could not be read; 2 usage error.
`;

export const VERIFY_HELP = `Usage: custos verify <file|dir>... [--json] [--kit <file>] [--log-key <vkey>] [--checkpoint <file>]
                     [--witness <vkey>]... [--quorum <n>] [--data-dir <dir>]

For each file: authentic (unchanged since ingest), derived (a de-identified copy whose derivation is
logged), tampered (what differs: header, geometry, which frames) or unknown. Inclusion is proven
against the signed checkpoint, and the log must extend every checkpoint seen before (roll-back check).

Options:
  --json               one JSON object per file on stdout
  --kit <file>         verify offline against a patient proof kit instead of the local log
  --log-key <vkey>     the log's verifier key, from a source you trust (else the data directory's)
  --checkpoint <file>  a checkpoint you trust (e.g. from a witness) that the log must extend
  --witness <vkey>     a witness you trust (repeatable): the checkpoint proven against must carry
                       its cosignature (log/cosigned-checkpoint, --checkpoint, or the kit's)
  --quorum <n>         how many of the --witness keys must have cosigned (default: all of them)
  --trust <cert.pem>   a certificate (CA or signer) embedded DICOM signatures may chain to (repeatable;
                       the data directory's own signing certificate is trusted too)
  --data-dir <dir>     data directory (env CUSTOS_DATA_DIR; default ./custos-data)
Exit status: 0 all authentic or derived (files that are not DICOM are listed as skipped); 1 any tampered (or the log
failed its checks); 3 any unknown; 2 usage error.
`;

export const SWEEP_HELP = `Usage: custos sweep (--dicomweb <url> | --dimse AE@host:port) [--since <date>] [--study <uid>]...
                    [--sample <share>|--metadata-only] [--max-rate <MiB/s>] [--json] [--data-dir <dir>]

Looks at what an archive (PACS) holds against the transparency log. For each instance: authentic,
derived (a de-identified copy, with its original's log entry), tampered (what differs), inserted
(in a recorded study or series, never recorded), missing (recorded, no longer there), unknown (a
study the log never saw), present (recorded and where recorded, content not fetched) or unreadable.
Lists first (QIDO-RS or C-FIND), then fetches one instance at a time (WADO-RS or C-GET).

Options:
  --dicomweb <url>      the archive's DICOMweb root (e.g. http://pacs:8042/dicom-web)
  --dimse AE@host:port  the archive's DIMSE address (C-FIND, C-GET); --calling-ae <AE> (default CUSTOS)
  --header "N: v"       an HTTP header for DICOMweb (e.g. Authorization), repeatable
  --since <date>        studies dated on or after (YYYY-MM-DD)
  --study <uid>         only this study (repeatable); looked at even when the archive no longer has it
  --sample <share>      fetch a share of each series (e.g. 0.05 or 5%; at least one per series)
  --metadata-only       fetch nothing: recorded instances are reported present
  --max-rate <MiB/s>    bandwidth limit for fetching
  --json                one JSON object per finding, then {"summary": ...}
  --log-key, --checkpoint  as for verify
Exit status: 0 nothing wrong; 1 tampered, inserted or missing found; 3 unknown or unreadable; 2 usage error.
`;

export const RISK_HELP = `Usage: custos risk <file|dir>... [--threshold 0.09] [--quasi <keyword>,...] [--json]
                  [--prior <dir>]... [--population <dir>]... [--generalize]

The re-identification risk of a release (de-identified DICOM files), per patient: equivalence
classes over the quasi-identifiers, k (the smallest class), maximum and average prosecutor risk,
the records above the threshold, unique records, and the attributes that drive the risk
(docs/risk.md). Exit status 1 when the maximum risk is above the threshold.

Options:
  --threshold <r>     risk threshold (default 0.09: sharing under an agreement; 0.05 for public release)
  --quasi <list>      quasi-identifiers, as keywords or gggg,eeee (default: PatientAge, PatientBirthDate,
                      PatientSex, PatientWeight, PatientSize, StudyDate, Modality, BodyPartExamined,
                      Manufacturer, ManufacturerModelName, StationName, InstitutionName, EthnicGroup,
                      SOPClassUID, ProtocolName)
  --prior <dir>       what the recipient already holds: the cumulative risk is reported
  --population <dir>  the population the release is drawn from: journalist risk too
  --generalize        report the least generalization that meets the threshold, and its information loss
  --json              one JSON object: records, k, maxProsecutorRisk, avgProsecutorRisk, recordsAboveThreshold,
                      uniques, drivers, …
`;

export const DICOM_SIGN_HELP = `Usage: custos dicom-sign <file|dir>... --out <dir> [--key <pem> --cert <pem>] [--data-dir <dir>]

Adds a DICOM digital signature (PS3.15 Annex C, Base RSA Digital Signature Profile; MAC SHA256 over
every signable attribute, pixel data included) to each instance, with the signer's X.509
certificate: any DICOM toolkit can check it (e.g. dcmtk's dcmsign --verify). Instances in Implicit
VR Little Endian are written in Explicit VR Little Endian; compressed ones are signed as they are.

Options:
  --out <dir>          where the signed copies go (inputs are not changed)
  --key, --cert <pem>  the hospital's signing key (PKCS#8 or PKCS#1 PEM) and certificate; without
                       them, a self-signed pair made at first use in the data directory's keys/
  --data-dir <dir>     data directory (env CUSTOS_DATA_DIR; default ./custos-data)
`;

export const WITNESS_HELP = `Usage: custos witness <serve|key> [options]

A witness (c2sp.org/tlog-witness) cosigns a log's checkpoints only if each one extends the last it
cosigned: run one at another site or by the security team, so that a log rolled back or shown in
two versions is caught. It keeps its key, the latest checkpoint per log, and the evidence of logs
that misbehaved (evidence.jsonl) in its directory.

  witness serve --log-key <vkey> [--log-key <vkey>]... [--host 127.0.0.1] [--port 8082]
                                  serve POST /add-checkpoint for the logs with these keys
  witness key                     print this witness's key (give it to verifiers and the gateway)
Options:
  --dir <dir>     the witness's directory (default ./custos-witness)
  --name <name>   its name when the key is first created (default custos-witness/<host>-<random>)
`;

export const LOG_HELP = `Usage: custos log <key|checkpoint|proof|serve> [options]

  log key                          print the log's verifier key (signed-note vkey form)
  log checkpoint                   print the latest signed checkpoint
  log proof --index <n>            print a c2sp.org/tlog-proof for one entry (extra = the entry's leaf data)
  log cosign --witness <vkey>@<url> [--witness …]
                                   submit the checkpoint to witnesses; cosignatures gathered in log/cosigned-checkpoint
  log serve [--host 127.0.0.1] [--port 8081]
                                   serve the log read-only over HTTP (c2sp.org/tlog-tiles under /log)
Options: --data-dir <dir> (env CUSTOS_DATA_DIR; default ./custos-data)
`;

export const KIT_HELP = `Usage: custos proof-kit --study <Study Instance UID> --out <file> [--data-dir <dir>]

Write a patient proof kit (JSON) for one study: its signed statements, their salts, inclusion proofs,
the log's verifier key and a signed checkpoint — enough to verify the patient's own copy offline with
"custos verify <files> --kit <file>". The kit identifies the study: hand it to the patient only.
`;

export const SERVE_HELP = `Usage: custos serve [--config <file>] [options]

Run the gateway: receive DICOM over DIMSE (C-STORE, C-ECHO) and DICOMweb (STOW-RS), store each
instance encrypted and durably, record it in the integrity log, de-identify it for every recipient
its routes select, and forward it (C-STORE or STOW-RS) with retries. Runs until SIGINT/SIGTERM.

Options (override the configuration file):
  --config <file>       YAML or JSON configuration (see docs/gateway.md); validated on start
  --data-dir <dir>      database, blobs, keys and log (env CUSTOS_DATA_DIR; default ./custos-data)
  --host <addr>         address both servers bind to (default 127.0.0.1)
  --dimse-port <n>      DIMSE port (default 11112; 0 picks a free port)
  --http-port <n>       HTTP port for /dicomweb, /api, /log (default 8080; 0 picks a free port)
  --ae-title <aet>      the gateway's AE title (default CUSTOS)

On a new data directory, an admin account and an admin API token are created and written to
<data-dir>/initial-admin.json (mode 0600); the path is printed, the secrets never are. Every HTTP
route needs a credential with the right permission, except /healthz, /log and the sign-in routes
(docs/security.md).

Environment: CUSTOS_MASTER_KEY (64 hex digits) instead of <data-dir>/keys/master.key;
CUSTOS_OIDC_CLIENT_SECRET, the single sign-on client secret (instead of oidc.clientSecret).
`;

export const USERS_HELP = `Usage: custos users <add|list|disable> [options]

  users add <name> --role <role> [--sso] [--password-stdin]
                     add a staff account; role: admin, privacy-officer, operator or auditor.
                     Prints a random password once, unless --sso (signs in through the identity
                     provider only) or --password-stdin (reads it from standard input)
  users list         list accounts (name, role, SSO, created, disabled, last sign-in)
  users disable <name>
                     disable an account and end its sessions

Options: --config <file> (for database.url), --data-dir <dir> (env CUSTOS_DATA_DIR; default ./custos-data)
With the embedded database, stop the gateway first (or use the API: POST /api/users).
`;

export const TOKENS_HELP = `Usage: custos tokens <create|list|revoke> [options]

  tokens create --name <text> (--role <role> | --permission <p>... | --recipient <id>) [--days <n>]
                     create an API token and print it once; role: admin, privacy-officer, operator,
                     auditor or sender (may only store: STOW-RS); --recipient: a recipient's own
                     token (its releases and deletion attestations). Expires in --days (default 90)
  tokens list        list tokens (id, name, permissions, expiry, revoked, last used; never secrets)
  tokens revoke <id> revoke a token at once

Options: --config <file> (for database.url and recipients), --data-dir <dir> (env CUSTOS_DATA_DIR; default ./custos-data)
With the embedded database, stop the gateway first (or use the API: POST /api/tokens).
`;

export const PATIENT_CODE_HELP = `Usage: custos patient-code <Patient ID> [--issuer <Issuer of Patient ID>] [--hours <n>]

Issue a patient a single-use access code to the portal (valid --hours, default 72). The code is
printed once: hand it to the patient only. It gives a session that sees only that patient's
studies and where de-identified copies of them went.

Options: --config <file> (for database.url), --data-dir <dir> (env CUSTOS_DATA_DIR; default ./custos-data)
With the embedded database, stop the gateway first (or use the API: POST /api/patient-codes).
`;

export const AUDIT_HELP = `Usage: custos audit verify [--config <file>] [--data-dir <dir>] [--json]

Check the audit trail against its seals in the integrity log: every batch of audit records the
gateway sealed is hashed again from the database and compared with the signed seal in the log. A
record edited or deleted after it was sealed, an extra record inside a sealed range, or a seal
missing from either side is reported. Records newer than the last seal are counted, not checked.
The embedded database can be read only while the gateway is stopped.

Exit status: 0 intact, 1 tampering found, 2 usage or storage error.
`;

export const PATIENT_HELP = `Usage: custos patient erase <issuer>|<Patient ID> --reason <text> [--config <file>] [--data-dir <dir>]

Erase a patient's data: their data key is destroyed (crypto-shredding: every stored copy of their
images, backups included, becomes unreadable), their queued deliveries are stopped, their blobs
deleted, and the recipients that received releases of theirs are listed to be asked to delete
them. The audit trail and the accounting of disclosures stay. New instances of the patient are
refused from then on. Use the API (POST /api/patients/erase) while the gateway runs; this command
needs the embedded database free (the gateway stopped).
`;

export const VERIFY_RECEIPT_HELP = `Usage: custos verify-receipt <receipt.json> [--vkey <verifier key>] [--data-dir <dir>]

Check a de-identification receipt (custos-receipt.json) offline: its Ed25519 signature by the
deployment's log key, trusted only as given with --vkey (the output of \`custos log key\` on the
deployment) or as the data directory's own key. With the deployment's data directory, also says
where its digest was recorded in the integrity log (custos deid --record records it).

Exit status: 0 valid, 1 invalid (changed after signing, forged, or signed by another key), 2 usage.
`;
