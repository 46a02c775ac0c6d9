import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isCustosError } from '../errors.ts';
import { type ByteSource, BufferSource } from '../dicom/byte-source.ts';
import { openSource, threadTempDir, writeChunksAtomic } from '../dicom/file-io.ts';
import { readDicom } from '../dicom/read.ts';
import { admitInstance } from '../dicom/admission.ts';
import { type Chunk, coalesceChunks, encodePart10 } from '../dicom/write.ts';
import { type ActionCounts, type DeidSettings, deidentify, denyListFor } from '../deid/deidentify.ts';
import { type DicomFile, type ReadWarning, findElement, putElement } from '../dicom/dataset.ts';
import type { CleanedPixels } from '../deid/deidentify.ts';
import type { PixelOverride } from './deface-series.ts';
import { clearSpareBits, overlayBitsToClear } from '../deid/overlay-bits.ts';
import { Tags } from '../dicom/tag.ts';
import type { PixelCleaningSettings, PixelReport } from './clean-pixels.ts';
import { type ResidualPhi, scanResidualPhi } from '../deid/residual-phi.ts';

/** What happened to one input, as recorded in the receipt (no PHI: hashes, counts, pseudonymous paths). */
export type InstanceOutcome =
  | { status: 'released'; input: Digest; output: Digest & { path: string }; actions: ActionCounts; pixels?: PixelReport; visualFeatures?: VisualFeatures['status']; logIndex?: number; warnings?: ReadWarning[]; residualPhi?: ResidualPhi }
  | { status: 'held'; input: Digest; reason: { code: string; message: string } }
  | { status: 'skipped'; input: Digest; reason: { code: string; message: string } }
  | { status: 'failed'; input?: Digest; error: { code: string; message: string } };

export interface Digest { sha256: string; bytes: number }

function digestChunks(chunks: Chunk[], source: ByteSource): Digest {
  const h = createHash('sha256');
  let bytes = 0;
  for (const c of chunks) {
    if (Buffer.isBuffer(c)) { h.update(c); bytes += c.length; continue; }
    for (let off = 0; off < c.length; off += 4 << 20) {
      const n = Math.min(4 << 20, c.length - off);
      h.update(source.read(c.offset + off, n));
    }
    bytes += c.length;
  }
  return { sha256: h.digest('hex'), bytes };
}

/** SHA-256 and size of a whole source (one pass). */
export function digestSource(source: ByteSource): Digest {
  if (source instanceof BufferSource) return { sha256: createHash('sha256').update(source.buffer).digest('hex'), bytes: source.size };
  return digestChunks([{ offset: 0, length: source.size }], source);
}

/**
 * De-identify one file into `outDir`/<patient>/<study>/<series>/<instance>.dcm (all pseudonymous).
 * Never throws for bad input: every problem becomes an outcome with a stable code.
 */
/** De-identification settings of a run; `pixels` configures Clean Pixel Data (default: PHI text, no rules). */
export type FileDeidSettings = DeidSettings & { pixels?: PixelCleaningSettings };

const DEFAULT_PIXELS: PixelCleaningSettings = { mode: 'phi', rules: [], allow: [] };

/** The de-identified instance in memory: chunks of new bytes and ranges still in the source. */
export type DeidOutcome =
  | { status: 'released'; input: Digest; output: Digest; chunks: Chunk[]; transferSyntaxUID: string; ids: { patient: string; study: string; series: string; instance: string }; actions: ActionCounts; pixels?: PixelReport; visualFeatures?: VisualFeatures['status']; warnings?: ReadWarning[]; residualPhi: ResidualPhi }
  | Exclude<InstanceOutcome, { status: 'released' }>;

/**
 * Clean Recognizable Visual Features done for the instance's series (pipeline/deface-series.ts):
 * defaced (with new pixel data when its voxels changed) or found to show no face.
 */
export type VisualFeatures = { status: 'defaced'; pixels?: PixelOverride } | { status: 'none-found' };

/** De-identify one instance held by `source` (a file window or a buffer). Never throws for bad input. */
export async function deidentifySource(source: ByteSource, settings: FileDeidSettings, opts: { digests?: boolean; visualFeatures?: VisualFeatures; file?: DicomFile } = {}): Promise<DeidOutcome> {
  // Without digests (the gateway hashes what it stores itself) sha256 is left empty.
  const digests = opts.digests ?? true;
  let input: Digest | undefined;
  try {
    input = digests ? digestSource(source) : { sha256: '', bytes: source.size };
    let file = opts.file;
    try {
      file ??= readDicom(source);
    } catch (e) {
      if (isCustosError(e) && e.code === 'DICOM_NOT_DICOM') return { status: 'skipped', input, reason: { code: e.code, message: e.message } };
      throw e;
    }
    // What the gateway refuses, the batch tool refuses too (one rule: dicom/admission.ts).
    await admitInstance(file, source);
    const vf = opts.visualFeatures;
    const faces: CleanedPixels | undefined = vf
      ? { visualFeatures: vf.status, ...(vf.status === 'defaced' && vf.pixels ? { reencoded: { photometricInterpretation: vf.pixels.photometricInterpretation, samplesPerPixel: vf.pixels.samplesPerPixel } } : {}) }
      : undefined;
    const newPixels = vf?.status === 'defaced' ? vf.pixels : undefined;
    let result = deidentify(file, settings, faces);
    let ts = file.transferSyntax;
    let pixels: PixelReport | undefined;
    if (result.status === 'held' && newPixels && (result.hold.code === 'BURNED_IN_ANNOTATION' || result.hold.code === 'BURNED_IN_RISK')) {
      return { status: 'held', input, reason: { code: 'RECOGNIZABLE_FEATURES', message: 'a defaced instance that also carries burned-in text: the two cleanings are not combined in one instance' } };
    }
    if (result.status === 'held' && settings.profile.options.has('clean-pixel-data') && (result.hold.code === 'BURNED_IN_ANNOTATION' || result.hold.code === 'BURNED_IN_RISK')) {
      // PS3.15 E.3.2 Clean Pixel Data: remove burned-in text, then de-identify the header as usual.
      // Loaded on first use: codecs and OCR are large, and most runs never clean pixels.
      const { cleanPixels } = await import('./clean-pixels.ts');
      const cleaned = await cleanPixels(file, source, denyListFor(file, settings.profile), settings.pixels ?? DEFAULT_PIXELS);
      if (cleaned.status === 'held') return { status: 'held', input, reason: { code: cleaned.code, message: cleaned.message } };
      pixels = cleaned.report;
      result = deidentify(file, settings, cleaned.status === 'cleaned'
        ? { ...faces, text: true, reencoded: { photometricInterpretation: cleaned.photometricInterpretation, samplesPerPixel: cleaned.samplesPerPixel } }
        : { ...faces, text: true });
      if (result.status === 'released' && cleaned.status === 'cleaned') {
        putElement(result.dataset, cleaned.pixelData);
        ts = cleaned.transferSyntax;
        putElement(result.meta, { tag: Tags.TransferSyntaxUID, vr: 'UI', value: Buffer.from(ts.uid.length % 2 ? `${ts.uid}\0` : ts.uid, 'latin1') });
      }
    }
    if (result.status === 'held') return { status: 'held', input, reason: result.hold };
    if (newPixels) {
      // PS3.15 E.3.3: the defaced voxels, losslessly re-encoded (deface-series.ts).
      putElement(result.dataset, newPixels.pixelData);
      ts = newPixels.transferSyntax;
      putElement(result.meta, { tag: Tags.TransferSyntaxUID, vr: 'UI', value: Buffer.from(ts.uid.length % 2 ? `${ts.uid}\0` : ts.uid, 'latin1') });
    }
    // What of the input's own identifying values is still in the output's text (recorded, by path only).
    const residualPhi = scanResidualPhi(result.dataset, denyListFor(file, settings.profile));
    const spare = pixels ? undefined : overlayBitsToClear(file.dataset, ts.littleEndian, ts.encapsulated);
    const pixelData = spare ? findElement(result.dataset, Tags.PixelData) : undefined;
    if (spare && pixelData && !pixelData.encapsulated) putElement(result.dataset, clearSpareBits(pixelData, source, spare)); // with the 60xx groups
    const chunks = coalesceChunks(encodePart10(result.meta, result.dataset, ts, source), source);
    const output = digests ? digestChunks(chunks, source) : { sha256: '', bytes: chunks.reduce((n, c) => n + c.length, 0) };
    return { status: 'released', input, output, chunks, transferSyntaxUID: ts.uid, ids: result.ids, actions: result.counts, ...(pixels ? { pixels } : {}), ...(vf ? { visualFeatures: vf.status } : {}), ...(file.warnings ? { warnings: file.warnings } : {}), residualPhi };
  } catch (e) {
    const code = isCustosError(e) ? e.code : 'INTERNAL';
    return input ? { status: 'failed', input, error: { code, message: (e as Error).message } } : { status: 'failed', error: { code, message: (e as Error).message } };
  }
}

/** De-identify one file into outDir; `read`: the file already read (a series member), with its series' defacing. */
export async function deidentifyFile(path: string, outDir: string, settings: FileDeidSettings, read?: { source: ByteSource; file: DicomFile; visualFeatures?: VisualFeatures }): Promise<InstanceOutcome> {
  let source: ByteSource;
  try {
    source = read?.source ?? openSource(path, { reuse: true });
  } catch (e) {
    return { status: 'failed', error: { code: 'IO', message: `cannot read input: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` } };
  }
  try {
    const out = await deidentifySource(source, settings, read ? { file: read.file, ...(read.visualFeatures ? { visualFeatures: read.visualFeatures } : {}) } : {});
    if (out.status !== 'released') return out;
    const { input, output, chunks, ids } = out;
    const rel = join(safeName(ids.patient), safeName(ids.study), safeName(ids.series), `${safeName(ids.instance)}.dcm`);
    const written = writeChunksAtomic(join(outDir, rel), chunks, source, { exclusive: true, tempDir: threadTempDir(outDir) });
    if (written === 'exists') {
      const existing = createHash('sha256').update(readFileSync(join(outDir, rel))).digest('hex');
      if (existing !== output.sha256) {
        return { status: 'failed', input, error: { code: 'OUTPUT_CONFLICT', message: `output ${rel} already exists with other content (duplicate SOP Instance UID in the inputs, or an earlier run with another key or options)` } };
      }
    }
    return { status: 'released', input, output: { ...output, path: rel }, actions: out.actions, ...(out.pixels ? { pixels: out.pixels } : {}), ...(out.visualFeatures ? { visualFeatures: out.visualFeatures } : {}), ...(out.warnings ? { warnings: out.warnings } : {}), residualPhi: out.residualPhi };
  } catch (e) {
    const code = isCustosError(e) ? e.code : 'INTERNAL';
    return { status: 'failed', error: { code, message: (e as Error).message } };
  } finally {
    source.close();
  }
}

/** UIDs and pseudonyms are [0-9A-Z.-]; anything else (an empty value) becomes a fixed name. */
const safeName = (s: string): string => (/^[0-9A-Za-z.\-^]+$/.test(s) ? s.replace(/\^/g, '_') : 'UNKNOWN');
