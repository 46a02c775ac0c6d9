import type { RouteConfig } from '../config/gateway-config.ts';

/** What routing looks at: header attributes (DICOM keywords) and where the instance came from. */
export interface RoutingFacts {
  Modality: string;
  BodyPartExamined: string;
  SOPClassUID: string;
  callingAeTitle: string | null;
  source: 'dimse' | 'stow';
}

const anyOf = (wanted: readonly string[] | undefined, value: string | null, fold = false): boolean =>
  !wanted || (value !== null && wanted.some((w) => (fold ? w.toUpperCase() === value.toUpperCase() : w === value)));

/** Does one route's match take this instance? Every given criterion must hold; each list is "any of". */
export function routeMatches(route: RouteConfig, f: RoutingFacts): boolean {
  const m = route.match;
  return anyOf(m.modality, f.Modality, true)
    && anyOf(m.bodyPart, f.BodyPartExamined, true)
    && anyOf(m.sopClassUid, f.SOPClassUID)
    && anyOf(m.callingAeTitle, f.callingAeTitle?.trim() ?? null)
    && anyOf(m.source, f.source);
}

/** The recipients an instance goes to, each once, in configuration order. */
export function recipientsFor(routes: readonly RouteConfig[], f: RoutingFacts): string[] {
  const out: string[] = [];
  for (const r of routes) if (!out.includes(r.recipient) && routeMatches(r, f)) out.push(r.recipient);
  return out;
}
