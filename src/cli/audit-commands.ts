import { CustosError } from '../errors.ts';
import { parseCommand } from './args.ts';
import { AUDIT_HELP, VERIFY_RECEIPT_HELP } from './help.ts';

/** `custos audit verify`: recompute every seal of the audit trail from the database against the log. */
export async function auditMain(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'verify') {
    if (sub === undefined || sub === '-h' || sub === '--help') { process.stdout.write(AUDIT_HELP); return sub === undefined ? 2 : 0; }
    throw new CustosError('USAGE', `unknown audit command ${JSON.stringify(sub)}: the command is "custos audit verify"`);
  }
  const { values: v } = parseCommand(rest, { config: { type: 'string' }, json: { type: 'boolean', default: false } });
  if (v.help) { process.stdout.write(AUDIT_HELP); return 0; }
  const { openGatewayDatabase } = await import('./access-commands.ts');
  const { openLogForReading } = await import('../store/open-log.ts');
  const { verifyAudit } = await import('../audit/seal.ts');
  const { db, dataDir, close } = await openGatewayDatabase({ config: v.config, 'data-dir': v['data-dir'] });
  try {
    const { log, verifier } = openLogForReading(dataDir);
    const report = await verifyAudit(db, log, verifier.key);
    if (v.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
    else {
      for (const p of report.problems) process.stdout.write(`${p.code}: ${p.message}\n`);
      process.stdout.write(`${report.problems.length ? 'TAMPERED' : 'intact'}: ${report.events} event(s) in ${report.seals} seal(s) checked against the log; ${report.unsealed} not sealed yet\n`);
    }
    return report.problems.length ? 1 : 0;
  } finally {
    await close();
  }
}

/** `custos verify-receipt <receipt.json> [--vkey <verifier key>]`: check a signed de-identification receipt offline. */
export async function verifyReceiptMain(argv: string[]): Promise<number> {
  const { values: v, positionals } = parseCommand(argv, { vkey: { type: 'string' } });
  if (v.help) { process.stdout.write(VERIFY_RECEIPT_HELP); return 0; }
  if (positionals.length !== 1) throw new CustosError('USAGE', 'name one receipt file');
  const { existsSync, readFileSync } = await import('node:fs');
  const { dataDirOf } = await import('./args.ts');
  const { logKeyPathOf, logDirOf, openLogForReading } = await import('../store/open-log.ts');
  const { verifyReceipt, receiptDigest } = await import('../integrity/receipt-signature.ts');
  let receipt: unknown;
  try {
    receipt = JSON.parse(readFileSync(positionals[0]!, 'utf8'));
  } catch (e) {
    throw new CustosError('USAGE', `cannot read the receipt ${positionals[0]}: ${(e as NodeJS.ErrnoException).code ?? 'not JSON'}`);
  }
  const dataDir = dataDirOf(v['data-dir']);
  // Trusted: the key given, else this data directory's log key; never just the key the receipt names.
  let pinned = v.vkey;
  if (pinned === undefined && existsSync(logKeyPathOf(dataDir))) pinned = openLogForReading(dataDir).vkey;
  if (pinned === undefined) throw new CustosError('USAGE', 'give the verifier key of the deployment that signed it (--vkey, from `custos log key`), or its --data-dir');
  const check = verifyReceipt(receipt, pinned);
  if (!check.ok) { process.stdout.write(`INVALID: ${check.why}\n`); return 1; }
  let recorded = '';
  if (existsSync(logDirOf(dataDir)) && existsSync(logKeyPathOf(dataDir))) {
    const at = openLogForReading(dataDir).log.findReceipt(receiptDigest(receipt as Record<string, unknown>));
    recorded = at === undefined ? '; not recorded in this data directory\'s log' : `; recorded in the log at entry ${at}`;
  }
  process.stdout.write(`valid: signed by ${check.signer}${recorded}\n`);
  return 0;
}
