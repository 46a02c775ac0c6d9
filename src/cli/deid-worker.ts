import { parentPort, workerData } from 'node:worker_threads';
import { makeProfile } from '../deid/profile.ts';
import { type InstanceOutcome, deidentifyFile } from '../pipeline/deid-file.ts';
import type { PixelCleaningSettings } from '../pipeline/clean-pixels.ts';

/** Worker thread: de-identifies the files it is sent, one message per result. */
interface Init { outDir: string; options: string[]; keyHex: string; pixels?: PixelCleaningSettings }
const init = workerData as Init;
const settings = { profile: makeProfile(init.options), key: Buffer.from(init.keyHex, 'hex'), ...(init.pixels ? { pixels: init.pixels } : {}) };
// Files come in batches (one message each way per batch: waking a thread costs more than a header's
// de-identification) and are processed one after another (OCR is asynchronous): a queue keeps their
// order and memory bounded.
let queue = Promise.resolve();
parentPort!.on('message', (batch: Array<{ index: number; path: string }>) => {
  queue = queue.then(async () => {
    const results: Array<{ index: number; outcome: InstanceOutcome }> = [];
    for (const { index, path } of batch) results.push({ index, outcome: await deidentifyFile(path, init.outDir, settings) });
    parentPort!.postMessage(results);
  });
});
