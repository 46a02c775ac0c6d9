/**
 * Canonical JSON for signing and hashing: keys sorted, no insignificant white space, UTF-8
 * (the subset of RFC 8785 that Custos's own statements need: strings, finite numbers, booleans, arrays, objects).
 */
export function canonicalJSON(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    // Numbers serialise as ECMAScript does (RFC 8785 3.2.2.3); NaN and infinities have no JSON form.
    if (typeof value === 'number' && !Number.isFinite(value)) throw new Error(`canonical JSON cannot hold ${value}`);
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJSON).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJSON(v)}`).join(',')}}`;
}
