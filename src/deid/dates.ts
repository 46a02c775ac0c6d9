/** Date shifting for the Modified Dates option (PS3.15 E.3.6); formats per PS3.5 Table 6.2-1 (DA, DT). */

const DAY = 86_400_000;

function shiftYMD(ymd: string, days: number): string | undefined {
  const y = Number(ymd.slice(0, 4));
  const m = ymd.length >= 6 ? Number(ymd.slice(4, 6)) : 1;
  const d = ymd.length >= 8 ? Number(ymd.slice(6, 8)) : 1;
  if (![y, m, d].every(Number.isInteger) || m < 1 || m > 12 || d < 1 || d > 31) return undefined;
  const t = new Date(Date.UTC(y, m - 1, d) + days * DAY);
  const out = `${String(t.getUTCFullYear()).padStart(4, '0')}${String(t.getUTCMonth() + 1).padStart(2, '0')}${String(t.getUTCDate()).padStart(2, '0')}`;
  return out.slice(0, ymd.length); // keep the input's precision (YYYY, YYYYMM or YYYYMMDD)
}

/** Shift each value of a DA (multi-valued, may be a range "A-B"); an unparsable value is emptied. */
export function shiftDA(value: string, days: number): string {
  return value
    .split('\\')
    .map((v) => v.trim().split('-').map((part) => (part === '' ? '' : (/^\d{4}(\d{2}(\d{2})?)?$/.test(part) ? shiftYMD(part, days) ?? '' : ''))).join('-'))
    .join('\\');
}

/** Shift the date part of each DT value, keeping time and UTC offset. */
export function shiftDT(value: string, days: number): string {
  return value
    .split('\\')
    .map((v) => {
      const s = v.trim();
      const m = /^(\d{4}(?:\d{2}(?:\d{2})?)?)(.*)$/.exec(s);
      if (!m) return '';
      const shifted = shiftYMD(m[1]!, days);
      return shifted === undefined ? '' : shifted + m[2]!;
    })
    .join('\\');
}
