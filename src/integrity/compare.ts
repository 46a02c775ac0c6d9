import type { ContentDigests } from './content.ts';

/** How a file's content differs from what a statement recorded (pure). */
export interface ContentDifference {
  header: boolean;
  geometry: boolean;
  /** Frame ranges (1-based, inclusive) whose pixels differ, e.g. "41-47". */
  frames: string[];
  frameCount?: { recorded: number; found: number };
  encoding?: { recorded: string; found: string };
}

export function compareContent(recorded: ContentDigests, found: ContentDigests): ContentDifference | undefined {
  const diff: ContentDifference = { header: recorded.header !== found.header, geometry: recorded.geometry !== found.geometry, frames: [] };
  if (recorded.pixelEncoding !== found.pixelEncoding) diff.encoding = { recorded: recorded.pixelEncoding, found: found.pixelEncoding };
  if (recorded.frames.length !== found.frames.length) diff.frameCount = { recorded: recorded.frames.length, found: found.frames.length };
  let start = -1;
  const n = Math.max(recorded.frames.length, found.frames.length);
  for (let i = 0; i <= n; i++) {
    const differs = i < n && recorded.frames[i] !== found.frames[i];
    if (differs && start < 0) start = i;
    if (!differs && start >= 0) {
      diff.frames.push(start === i - 1 ? `${start + 1}` : `${start + 1}-${i}`);
      start = -1;
    }
  }
  const same = !diff.header && !diff.geometry && diff.frames.length === 0 && !diff.frameCount && !diff.encoding && recorded.pixelRoot === found.pixelRoot;
  return same ? undefined : diff;
}

export function describeDifference(d: ContentDifference): string {
  const parts: string[] = [];
  if (d.header) parts.push('header differs');
  if (d.geometry) parts.push('geometry differs');
  if (d.frameCount) parts.push(`frame count ${d.frameCount.recorded} -> ${d.frameCount.found}`);
  if (d.frames.length) parts.push(`frame${d.frames.length === 1 && !d.frames[0]!.includes('-') ? '' : 's'} ${d.frames.join(', ')} differ`);
  if (d.encoding) parts.push(`pixels ${d.encoding.recorded} -> ${d.encoding.found}`);
  return parts.join('; ') || 'content differs';
}
