import { readFileSync } from 'node:fs';
import { CustosError } from '../errors.ts';
import { ALERTING } from '../integrity/sweep-findings.ts';
import { DicomWebPacs } from '../net/dicomweb-pacs.ts';
import { DimsePacs } from '../net/dimse-pacs.ts';
import type { PacsSource } from '../net/pacs-source.ts';
import { checkAgainstTrusted, localView } from '../pipeline/log-views.ts';
import { type SweepMode, summaryText, sweepArchive } from '../pipeline/sweep.ts';
import { openLogForReading } from '../store/open-log.ts';
import { dataDirOf, parseCommand } from './args.ts';
import { SWEEP_HELP } from './help.ts';

/** AE@host:port (PS3.8 AE titles: up to 16 characters, no backslash or control characters). */
export function parseDimseAddress(s: string): { aeTitle: string; host: string; port: number } {
  const m = /^([^@\\\x00-\x1f]{1,16})@([^:]+):(\d{1,5})$/.exec(s);
  if (!m || Number(m[3]) > 65535) throw new CustosError('USAGE', `--dimse must be AE@host:port, got ${JSON.stringify(s)}`);
  return { aeTitle: m[1]!, host: m[2]!, port: Number(m[3]) };
}

/** YYYY-MM-DD or YYYYMMDD to the DICOM DA form. */
export function parseSince(s: string): string {
  const m = /^(\d{4})-?(\d{2})-?(\d{2})$/.exec(s);
  if (!m || Number.isNaN(Date.parse(`${m[1]}-${m[2]}-${m[3]}T00:00:00Z`))) throw new CustosError('USAGE', `--since must be a date (YYYY-MM-DD), got ${JSON.stringify(s)}`);
  return `${m[1]}${m[2]}${m[3]}`;
}

export function parseMode(sample: string | undefined, metadataOnly: boolean): SweepMode {
  if (metadataOnly && sample !== undefined) throw new CustosError('USAGE', '--metadata-only and --sample exclude each other');
  if (metadataOnly) return { kind: 'metadata' };
  if (sample === undefined) return { kind: 'full' };
  const share = Number(sample.endsWith('%') ? Number(sample.slice(0, -1)) / 100 : sample);
  if (!Number.isFinite(share) || share <= 0 || share > 1) throw new CustosError('USAGE', `--sample must be a share in (0, 1] or a percentage, got ${JSON.stringify(sample)}`);
  return { kind: 'sample', share, seed: Math.floor(Date.now() / 86_400_000) };
}

export async function sweepMain(argv: string[]): Promise<number> {
  const { values: v } = parseCommand(argv, {
    dicomweb: { type: 'string' }, dimse: { type: 'string' }, 'calling-ae': { type: 'string', default: 'CUSTOS' },
    since: { type: 'string' }, study: { type: 'string', multiple: true }, json: { type: 'boolean', default: false },
    sample: { type: 'string' }, 'metadata-only': { type: 'boolean', default: false }, 'max-rate': { type: 'string' },
    header: { type: 'string', multiple: true }, 'log-key': { type: 'string' }, checkpoint: { type: 'string' },
  });
  if (v.help) { process.stdout.write(SWEEP_HELP); return 0; }
  if (!v.dicomweb === !v.dimse) throw new CustosError('USAGE', 'give one archive: --dicomweb <url> or --dimse AE@host:port');
  const mode = parseMode(v.sample, v['metadata-only']!);
  const rate = v['max-rate'] === undefined ? undefined : Number(v['max-rate']) * 1048576;
  if (rate !== undefined && !(rate > 0)) throw new CustosError('USAGE', '--max-rate is MiB per second, above 0');
  const headers: Record<string, string> = {};
  for (const h of v.header ?? []) {
    const c = h.indexOf(':');
    if (c <= 0) throw new CustosError('USAGE', '--header must be "Name: value"');
    headers[h.slice(0, c).trim()] = h.slice(c + 1).trim();
  }
  let source: PacsSource;
  if (v.dicomweb) {
    try { new URL(v.dicomweb); } catch { throw new CustosError('USAGE', '--dicomweb must be a URL (the DICOMweb root, e.g. http://pacs/dicom-web)'); }
    source = new DicomWebPacs({ url: v.dicomweb, headers, bytesPerSecond: rate });
  } else {
    source = new DimsePacs({ ...parseDimseAddress(v.dimse!), callingAeTitle: v['calling-ae']!, bytesPerSecond: rate });
  }
  const { log, verifier } = openLogForReading(dataDirOf(v['data-dir']), v['log-key']);
  checkAgainstTrusted(log, verifier, v.checkpoint ? readFileSync(v.checkpoint, 'utf8') : undefined);
  const view = localView(log, verifier);
  const scope = { ...(v.since ? { since: parseSince(v.since) } : {}), ...(v.study?.length ? { studies: v.study } : {}) };
  let alerting = 0;
  const summary = await sweepArchive(source, log, view, { scope, mode }, (f) => {
    if (ALERTING.has(f.status)) alerting++;
    if (v.json) process.stdout.write(JSON.stringify(f) + '\n');
    else if (f.status !== 'authentic' && f.status !== 'present' && f.status !== 'derived') {
      process.stdout.write(`${f.status.padEnd(10)} ${f.studyInstanceUID} / ${f.seriesInstanceUID} / ${f.sopInstanceUID}: ${f.reason}${f.index !== undefined ? ` (log #${f.index})` : ''}\n`);
    }
  });
  await source.close();
  if (v.json) process.stdout.write(JSON.stringify({ summary }) + '\n');
  else process.stdout.write(summaryText(summary));
  return alerting ? 1 : summary.counts.unknown || summary.counts.unreadable ? 3 : 0;
}
