import { parentPort, workerData } from 'node:worker_threads';
import { makeProfile } from '../deid/profile.ts';
import { deidentifyFile } from '../pipeline/deid-file.ts';
import type { PixelCleaningSettings } from '../pipeline/clean-pixels.ts';

/** Worker thread: de-identifies the files it is sent, one message per result. */
interface Init { outDir: string; options: string[]; keyHex: string; pixels?: PixelCleaningSettings }
const init = workerData as Init;
const settings = { profile: makeProfile(init.options), key: Buffer.from(init.keyHex, 'hex'), ...(init.pixels ? { pixels: init.pixels } : {}) };
// Files are processed one after another (OCR is asynchronous): a queue keeps their order and memory bounded.
let queue = Promise.resolve();
parentPort!.on('message', (msg: { index: number; path: string }) => {
  queue = queue.then(async () => {
    parentPort!.postMessage({ index: msg.index, outcome: await deidentifyFile(msg.path, init.outDir, settings) });
  });
});
