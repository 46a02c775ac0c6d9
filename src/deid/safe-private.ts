import { SAFE_PRIVATE_EDITION, TABLE_E3_10_1 } from './safe-private-table.ts';

export { SAFE_PRIVATE_EDITION };

/**
 * Private attributes known to carry no identity, retained with the Retain Safe Private option:
 * PS3.15 E.3.10, Table E.3.10-1 as generated into safe-private-table.ts. Keyed by private creator
 * (as the Private Creator element holds it, padding trimmed), group and element within the block.
 */
const SAFE = new Map<string, string>(TABLE_E3_10_1.map(([creator, group, element, vr]) => [key(creator, group, element), vr]));

function key(creator: string, group: number, elementLow: number): string {
  return `${creator}\0${group}\0${elementLow}`;
}

/** The table's VR for a safe private attribute ('' when the table gives none); undefined when it is not safe. */
export function safePrivateVR(creator: string, group: number, elementLow: number): string | undefined {
  return SAFE.get(key(creator.replace(/^[ \0]+|[ \0]+$/g, ''), group, elementLow));
}

export function isSafePrivate(creator: string, group: number, elementLow: number): boolean {
  return safePrivateVR(creator, group, elementLow) !== undefined;
}
