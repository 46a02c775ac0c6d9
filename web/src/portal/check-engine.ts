import '../shims/buffer-global.ts'; // first: the integrity code below uses Buffer as it loads
import { Buffer } from 'buffer';
import { BufferSource } from '../../../src/dicom/byte-source.ts';
import { describeDifference } from '../../../src/integrity/compare.ts';
import { type ProofKit, kitView } from '../../../src/pipeline/proof-kit.ts';
import { type Verdict, verifySource } from '../../../src/pipeline/verify.ts';

/*
 * "Check a copy" in the browser: the gateway's own verification (pipeline/verify.ts, the proof kit
 * as the log) bundled for the page. The files are read here and never sent anywhere.
 */

export interface FileVerdict { name: string; verdict: Verdict | { status: 'error'; reason: string } }

export async function checkCopy(files: readonly File[], kitFile: File): Promise<FileVerdict[]> {
  let view;
  try {
    view = kitView(JSON.parse(await kitFile.text()) as ProofKit);
  } catch (e) {
    throw new Error(`this is not a valid proof kit: ${(e as Error).message}`);
  }
  const out: FileVerdict[] = [];
  for (const f of files) {
    const bytes = Buffer.from(await f.arrayBuffer());
    try {
      out.push({ name: f.name, verdict: await verifySource(() => new BufferSource(bytes), view) });
    } catch (e) {
      out.push({ name: f.name, verdict: { status: 'error', reason: (e as Error).message } });
    }
  }
  return out;
}

export { describeDifference };
