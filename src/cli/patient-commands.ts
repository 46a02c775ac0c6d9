import { join } from 'node:path';
import { CustosError } from '../errors.ts';
import { OPERATOR, parseCommand } from './args.ts';
import { PATIENT_HELP } from './help.ts';

/** `custos patient erase <issuer>|<Patient ID> --reason <text>`: the patient's data erased (docs/accountability.md). */
export async function patientMain(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'erase') {
    if (sub === undefined || sub === '-h' || sub === '--help') { process.stdout.write(PATIENT_HELP); return sub === undefined ? 2 : 0; }
    throw new CustosError('USAGE', `unknown patient command ${JSON.stringify(sub)}: the command is "custos patient erase"`);
  }
  const { values: v, positionals } = parseCommand(rest, { config: { type: 'string' }, reason: { type: 'string' } });
  if (v.help) { process.stdout.write(PATIENT_HELP); return 0; }
  if (positionals.length !== 1) throw new CustosError('USAGE', 'name one patient: <issuer of Patient ID>|<Patient ID> (or just the Patient ID when there is no issuer)');
  if (!v.reason || v.reason.trim().length < 3) throw new CustosError('USAGE', '--reason is required: why the data is erased (recorded in the audit trail)');
  const { openGatewayDatabase } = await import('./access-commands.ts');
  const { db, config, dataDir, close } = await openGatewayDatabase({ config: v.config, 'data-dir': v['data-dir'] });
  try {
    const { masterKey } = await import('../gateway.ts');
    const { DataKeys } = await import('../store/data-keys.ts');
    const { patientRefOf } = await import('../api/search-params.ts');
    const { FsBlobStore, S3BlobStore } = await import('../store/blob-store.ts');
    const { loadOrCreateKey } = await import('../store/key-file.ts');
    const { erasePatient } = await import('../policy/retention.ts');
    const ref = patientRefOf(loadOrCreateKey(join(dataDir, 'keys', 'deid.key')).key, positionals[0]!);
    const blobs = config.blobs.kind === 's3' ? new S3BlobStore(config.blobs) : new FsBlobStore(join(dataDir, 'blobs'));
    const r = await erasePatient(db, blobs, new DataKeys(masterKey(dataDir)), ref, v.reason.trim(), OPERATOR);
    process.stdout.write(`erased: ${r.instances} instance(s), ${r.jobsStopped} queued job(s) stopped, key destroyed; recipients to ask to delete: ${r.recipientsToAsk.join(', ') || 'none'} (erasure ${r.erasure})\n`);
    return 0;
  } finally {
    await close();
  }
}
