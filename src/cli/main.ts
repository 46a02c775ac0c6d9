import { isCustosError } from '../errors.ts';
import { CUSTOS_VERSION } from '../version.ts';
import { AUDIT_HELP, VERIFY_RECEIPT_HELP, DEID_HELP, KIT_HELP, LOG_HELP, PATIENT_CODE_HELP, PATIENT_HELP, SERVE_HELP, SIGN_HELP, SWEEP_HELP, TOKENS_HELP, WITNESS_HELP, DICOM_SIGN_HELP, RISK_HELP, USERS_HELP, VERIFY_HELP } from './help.ts';

const MAIN_HELP = `custos ${CUSTOS_VERSION} — privacy and integrity gateway for medical imaging AI

Usage: custos <command> [options]

Commands:
  serve [--config <file>]       run the gateway: DIMSE + DICOMweb in, de-identify, forward
  deid <input>... --out <dir>   de-identify DICOM files and folders (PS3.15 Annex E)
  sign <input>...               record files in the transparency log
  verify <input>...             check files against the log: authentic, derived, tampered or unknown
  sweep --dicomweb <url>|--dimse AE@host:port
                                check what a PACS holds against the log
  risk <input>...              re-identification risk of a release (k, prosecutor and journalist risk)
  dicom-sign <input>... --out <dir>
                                add a DICOM digital signature (PS3.15 Annex C) to instances
  witness serve|key             run a witness that cosigns checkpoints only if the log only grew
  log key|checkpoint|serve      the log's verifier key, checkpoint, and read-only HTTP (tlog-tiles)
  proof-kit --study <uid>       an offline proof kit for one study's patient
  users add|list|disable        staff accounts (roles: admin, privacy-officer, operator, auditor)
  tokens create|list|revoke     API tokens for scripts, senders and recipients
  patient-code <Patient ID>     a single-use portal access code for one patient
  patient erase <patient>       erase a patient's data (key destroyed; the audit trail stays)
  audit verify                  check the audit trail against its seals in the integrity log
  verify-receipt <receipt>      check a signed de-identification receipt offline
  help [command]                show help

Common options:
  --data-dir <dir>   where keys, databases and logs live (env CUSTOS_DATA_DIR; default ./custos-data)
  -h, --help         show help
  --version          print the version
`;

// Commands load their modules on demand: `deid` never pays for the log, codecs or the HTTP server.
const integrity = () => import('./integrity-commands.ts');
const access = () => import('./access-commands.ts');
const COMMANDS: Record<string, { help: string; run: (argv: string[]) => Promise<number> }> = {
  deid: { help: DEID_HELP, run: async (a) => (await import('./deid-command.ts')).deidMain(a) },
  sign: { help: SIGN_HELP, run: async (a) => (await integrity()).signMain(a) },
  verify: { help: VERIFY_HELP, run: async (a) => (await integrity()).verifyMain(a) },
  risk: { help: RISK_HELP, run: async (a) => (await import('./risk-command.ts')).riskMain(a) },
  'dicom-sign': { help: DICOM_SIGN_HELP, run: async (a) => (await import('./dicom-sign-command.ts')).dicomSignMain(a) },
  witness: { help: WITNESS_HELP, run: async (a) => (await import('./witness-command.ts')).witnessMain(a) },
  sweep: { help: SWEEP_HELP, run: async (a) => (await import('./sweep-command.ts')).sweepMain(a) },
  log: { help: LOG_HELP, run: async (a) => (await integrity()).logMain(a) },
  serve: { help: SERVE_HELP, run: async (a) => (await import('./serve-command.ts')).serveMain(a) },
  'proof-kit': { help: KIT_HELP, run: async (a) => (await integrity()).proofKitMain(a) },
  users: { help: USERS_HELP, run: async (a) => (await access()).usersMain(a) },
  tokens: { help: TOKENS_HELP, run: async (a) => (await access()).tokensMain(a) },
  'patient-code': { help: PATIENT_CODE_HELP, run: async (a) => (await access()).patientCodeMain(a) },
  patient: { help: PATIENT_HELP, run: async (a) => (await import('./patient-commands.ts')).patientMain(a) },
  'verify-receipt': { help: VERIFY_RECEIPT_HELP, run: async (a) => (await import('./audit-commands.ts')).verifyReceiptMain(a) },
  audit: { help: AUDIT_HELP, run: async (a) => (await import('./audit-commands.ts')).auditMain(a) },
};

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === 'help' || command === '-h' || command === '--help') {
    process.stdout.write(COMMANDS[rest[0] ?? '']?.help ?? MAIN_HELP);
    return 0;
  }
  if (command === '--version' || command === 'version') {
    process.stdout.write(`${CUSTOS_VERSION}\n`);
    return 0;
  }
  const cmd = COMMANDS[command];
  if (!cmd) {
    process.stderr.write(`custos: unknown command ${JSON.stringify(command)}\n\n${MAIN_HELP}`);
    return 2;
  }
  try {
    return await cmd.run(rest);
  } catch (e) {
    if (isCustosError(e) && e.code === 'USAGE') {
      process.stderr.write(`custos: ${e.message}\n\n${cmd.help}`);
      return 2;
    }
    if (isCustosError(e)) {
      process.stderr.write(`custos: ${e.code}: ${e.message}\n`);
      return e.code.startsWith('LOG_') || e.code.startsWith('NOTE_') || e.code.startsWith('WITNESS_') ? 1 : 2;
    }
    throw e;
  }
}
