import { X509Certificate } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { CustosError, isCustosError } from '../errors.ts';
import { FileSource } from '../dicom/byte-source.ts';
import { writeChunksAtomic } from '../dicom/file-io.ts';
import { signPart10 } from '../pipeline/sign-instance.ts';
import { loadOrCreateSigningIdentity } from '../store/signing-identity.ts';
import { dataDirOf, parseCommand } from './args.ts';
import { DICOM_SIGN_HELP } from './help.ts';
import { collectInputs } from './walk.ts';

/** `custos dicom-sign`: add a DICOM digital signature (PS3.15 C.1, Base RSA) to each instance. */
export async function dicomSignMain(argv: string[]): Promise<number> {
  const { values: v, positionals } = parseCommand(argv, { out: { type: 'string' }, key: { type: 'string' }, cert: { type: 'string' } });
  if (v.help) { process.stdout.write(DICOM_SIGN_HELP); return 0; }
  if (!positionals.length) throw new CustosError('USAGE', 'no input given');
  if (!v.out) throw new CustosError('USAGE', '--out <dir> is required (inputs are never changed in place)');
  if (Boolean(v.key) !== Boolean(v.cert)) throw new CustosError('USAGE', '--key and --cert go together');
  const who = await loadOrCreateSigningIdentity(dataDirOf(v['data-dir']), v.key ? { keyFile: resolve(v.key), certFile: resolve(v.cert!) } : undefined);
  if (who.created) process.stderr.write(`custos: created a self-signed DICOM signing certificate in the data directory's keys/ (configure the hospital's with --key/--cert)\n`);
  const out = resolve(v.out);
  mkdirSync(out, { recursive: true });
  const files = collectInputs(positionals, out);
  let failed = 0;
  const names = new Set<string>();
  for (const f of files) {
    let name = basename(f);
    for (let i = 2; names.has(name); i++) name = `${basename(f)}.${i}`;
    names.add(name);
    const source = new FileSource(f);
    try {
      writeChunksAtomic(join(out, name), signPart10(source, who).chunks, source, { fsync: true });
      process.stdout.write(`signed    ${f} -> ${join(out, name)}\n`);
    } catch (e) {
      failed++;
      process.stderr.write(`failed: ${f}: ${isCustosError(e) ? `${e.code}: ` : ''}${(e as Error).message}\n`);
    } finally {
      source.close();
    }
  }
  process.stdout.write(`signed ${files.length - failed}, failed ${failed}; signer ${new X509Certificate(who.certificate).subject.replaceAll('\n', ', ')}\n`);
  return failed ? 1 : 0;
}
