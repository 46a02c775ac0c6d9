/**
 * Peer harness: the dcmjs anonymizer (dcmjs.anonymizer.cleanTags) over a folder, one output file per
 * input, as a user of dcmjs would write it. Usage: node bench/peers/dcmjs-anonymize.ts <in> <out>
 */
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const require = createRequire(import.meta.url);
const dcmjs = require('dcmjs') as {
  data: { DicomMessage: { readFile(b: ArrayBuffer): { dict: Record<string, unknown>; write(): ArrayBuffer } } };
  anonymizer: { cleanTags(dict: Record<string, unknown>): void };
  log: { setLevel(l: string): void };
};
dcmjs.log?.setLevel?.('error');
const [input, output] = process.argv.slice(2) as [string, string];
mkdirSync(output, { recursive: true });
for (const name of readdirSync(input).sort()) {
  const b = readFileSync(join(input, name));
  const msg = dcmjs.data.DicomMessage.readFile(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  dcmjs.anonymizer.cleanTags(msg.dict);
  writeFileSync(join(output, name), Buffer.from(msg.write()));
}
