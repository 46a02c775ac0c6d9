import { parentPort, workerData } from 'node:worker_threads';
import { makeProfile } from '../deid/profile.ts';
import { deidentifyFile } from '../pipeline/deid-file.ts';

/** Worker thread: de-identifies the files it is sent, one message per result. */
interface Init { outDir: string; options: string[]; keyHex: string }
const init = workerData as Init;
const settings = { profile: makeProfile(init.options), key: Buffer.from(init.keyHex, 'hex') };
parentPort!.on('message', (msg: { index: number; path: string }) => {
  parentPort!.postMessage({ index: msg.index, outcome: deidentifyFile(msg.path, init.outDir, settings) });
});
