import { CustosError } from '../errors.ts';
import { parseCommand } from './args.ts';
import { AUDIT_HELP } from './help.ts';

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
