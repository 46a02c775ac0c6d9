import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { BufferSource } from '../dicom/byte-source.ts';
import { asciiValue } from '../dicom/dataset.ts';
import { openSource } from '../dicom/file-io.ts';
import { readDicom } from '../dicom/read.ts';
import { Tags } from '../dicom/tag.ts';
import { DEFAULT_DEFACE } from '../deid/deface.ts';
import { type DefaceReport, type SeriesMember, defaceSeries } from '../pipeline/deface-series.ts';
import { type FileDeidSettings, type InstanceOutcome, deidentifyFile, digestSource } from '../pipeline/deid-file.ts';

/** A series' defacing as the receipt records it (pseudonymous series UID, no PHI). */
export type ReceiptDefacing =
  | (DefaceReport & { series: string; instances: number; renders?: { before: string; after: string } })
  | { outcome: 'held'; instances: number; code: string; message: string };

export interface DefaceRunOptions { ears: boolean; reviewDir: string; receiptDir: string }

/**
 * With Clean Recognizable Visual Features, CT and MR inputs are taken a series at a time: read,
 * defaced or found faceless (pipeline/deface-series.ts), then de-identified one by one. One series is
 * in memory at a time. Returns the indexes of the other inputs, left for the usual per-file path.
 */
export async function defaceSeriesInputs(files: readonly string[], outDir: string, settings: FileDeidSettings, o: DefaceRunOptions, record: (index: number, outcome: InstanceOutcome) => void): Promise<{ rest: number[]; defacing: ReceiptDefacing[] }> {
  const groups = new Map<string, number[]>();
  const rest: number[] = [];
  for (const [i, path] of files.entries()) {
    let modality = '';
    let series = '';
    try {
      const source = openSource(path, { reuse: true });
      try {
        const head = readDicom(source, { stopAtPixelData: true }).dataset;
        modality = asciiValue(head, Tags.Modality).toUpperCase();
        series = asciiValue(head, Tags.SeriesInstanceUID);
      } finally {
        source.close();
      }
    } catch { /* not readable here: the per-file path reports it */ }
    if ((modality === 'CT' || modality === 'MR') && series) {
      const key = `${modality}\0${series}`;
      groups.set(key, [...(groups.get(key) ?? []), i]);
    } else rest.push(i);
  }
  const defacing: ReceiptDefacing[] = [];
  for (const indexes of groups.values()) {
    const members: Array<SeriesMember & { index: number }> = [];
    for (const i of indexes) {
      try {
        const bytes = readFileSync(files[i]!);
        const source = new BufferSource(bytes);
        members.push({ index: i, source, file: readDicom(source) });
      } catch {
        rest.push(i); // the per-file path gives it its outcome and code
      }
    }
    if (!members.length) continue;
    const result = await defaceSeries(members, { ...DEFAULT_DEFACE, ears: o.ears });
    if (result.status === 'held') {
      for (const m of members) record(m.index, { status: 'held', input: digestSource(m.source), reason: { code: result.code, message: result.message } });
      defacing.push({ outcome: 'held', instances: members.length, code: result.code, message: result.message });
      continue;
    }
    let series = '';
    for (const [k, m] of members.entries()) {
      const visualFeatures = result.status === 'defaced' ? { status: 'defaced' as const, ...(result.pixels[k] ? { pixels: result.pixels[k] } : {}) } : { status: 'none-found' as const };
      const outcome = await deidentifyFile(files[m.index]!, outDir, settings, { source: m.source, file: m.file, visualFeatures });
      if (outcome.status === 'released' && !series) series = outcome.output.path.split('/')[2] ?? '';
      record(m.index, outcome);
    }
    let renders: { before: string; after: string } | undefined;
    if (result.status === 'defaced' && series) {
      // Renderings for review, beside the receipt: the "before" one shows the original face.
      mkdirSync(o.reviewDir, { recursive: true });
      const write = (name: string, png: Buffer): string => {
        const path = join(o.reviewDir, name);
        writeFileSync(`${path}.tmp`, png);
        renameSync(`${path}.tmp`, path);
        return relative(o.receiptDir, path);
      };
      renders = { before: write(`${series}-before.png`, result.renders.before), after: write(`${series}-after.png`, result.renders.after) };
    }
    defacing.push({ ...result.report, series, instances: members.length, ...(renders ? { renders } : {}) });
  }
  rest.sort((a, b) => a - b);
  return { rest, defacing };
}

/** Where review renderings go: beside the receipt, but never inside the output folder (they show faces). */
export function reviewDirFor(receiptPath: string, outDir: string, given: string | undefined): string {
  if (given) return given;
  const beside = join(dirname(receiptPath), 'custos-review');
  return beside === outDir || beside.startsWith(outDir + '/') ? `${outDir}-review` : beside;
}
