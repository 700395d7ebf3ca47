// Measures of how random a string looks. Written by hand: a few lines, on the hot path.

/** Shannon entropy in bits per character (0 for ''). */
export function shannon(s: string): number {
  const n = s.length;
  if (n === 0) return 0;
  const counts = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    counts.set(c, (counts.get(c) ?? 0) + 1);
  }
  let h = 0;
  for (const k of counts.values()) {
    const p = k / n;
    h -= p * Math.log2(p);
  }
  return h;
}

export interface CharClasses {
  lower: number;
  upper: number;
  digit: number;
  other: number;
}

export function charClasses(s: string): CharClasses {
  const r = { lower: 0, upper: 0, digit: 0, other: 0 };
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 97 && c <= 122) r.lower++;
    else if (c >= 65 && c <= 90) r.upper++;
    else if (c >= 48 && c <= 57) r.digit++;
    else r.other++;
  }
  return r;
}

/** How many of lower, upper, digit, other occur at all. */
export function classCount(c: CharClasses): number {
  return (c.lower > 0 ? 1 : 0) + (c.upper > 0 ? 1 : 0) + (c.digit > 0 ? 1 : 0) + (c.other > 0 ? 1 : 0);
}

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The longest run of one repeated character. */
export function longestRun(s: string): number {
  let best = s.length ? 1 : 0;
  let run = 1;
  for (let i = 1; i < s.length; i++) {
    run = s.charCodeAt(i) === s.charCodeAt(i - 1) ? run + 1 : 1;
    if (run > best) best = run;
  }
  return best;
}

/** True for runs like `abcdefgh` or `12345678` (ascending or descending by one). */
export function isSequential(s: string): boolean {
  if (s.length < 4) return false;
  const d = s.charCodeAt(1) - s.charCodeAt(0);
  if (d !== 1 && d !== -1) return false;
  for (let i = 2; i < s.length; i++) if (s.charCodeAt(i) - s.charCodeAt(i - 1) !== d) return false;
  return true;
}
