import { parentPort } from 'node:worker_threads';
import { makeProfile } from '../deid/profile.ts';
import { type InstanceOutcome, type FileDeidSettings, deidentifyFile } from '../pipeline/deid-file.ts';
import type { PixelCleaningSettings } from '../pipeline/clean-pixels.ts';

/**
 * Worker thread: de-identifies the batches of files it is sent, one message of results per batch.
 * It is started before the run has read its key (see WorkerPool in deid-command.ts): the first
 * message is the run's settings, every later one a batch of files.
 */
export interface WorkerInit { outDir: string; options: string[]; keyHex: string; pixels?: PixelCleaningSettings }
let init: WorkerInit | undefined;
let settings: FileDeidSettings;
// Files come in batches (one message each way per batch: waking a thread costs more than a header's
// de-identification) and are processed one after another (OCR is asynchronous): a queue keeps their
// order and memory bounded.
let queue = Promise.resolve();
parentPort!.on('message', (message: WorkerInit | Array<{ index: number; path: string }>) => {
  if (!init) {
    init = message as WorkerInit;
    settings = { profile: makeProfile(init.options), key: Buffer.from(init.keyHex, 'hex'), ...(init.pixels ? { pixels: init.pixels } : {}) };
    return;
  }
  const batch = message as Array<{ index: number; path: string }>;
  const outDir = init.outDir;
  queue = queue.then(async () => {
    const results: Array<{ index: number; outcome: InstanceOutcome }> = [];
    for (const { index, path } of batch) results.push({ index, outcome: await deidentifyFile(path, outDir, settings) });
    parentPort!.postMessage(results);
  });
});
