// How Go prints the values sops writes: strconv.FormatFloat ('g', 'G', 'f' with the shortest
// precision), encoding/json's float rule, stores.ValToString (dotenv and INI values), and
// time.Time in RFC 3339. Written by hand because byte-identical output depends on each rule.
import { Branch, Comment, Float, Int, Time, type Value } from '../tree';

/** The shortest decimal digits of a finite non-zero |x| and the exponent of its first digit. */
function shortestDigits(x: number): { digits: string; exp: number } {
  // toExponential() without an argument gives the shortest digits that read back as x, as
  // Go's shortest formatting does.
  const s = Math.abs(x).toExponential();
  const e = s.indexOf('e');
  return { digits: s.slice(0, e).replace('.', ''), exp: Number(s.slice(e + 1)) };
}

function special(x: number): string | undefined {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return '+Inf';
  if (x === -Infinity) return '-Inf';
  if (x === 0) return Object.is(x, -0) ? '-0' : '0';
  return undefined;
}

function fmtE(neg: boolean, digits: string, exp: number, e: 'e' | 'E'): string {
  const mant = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
  const sign = exp < 0 ? '-' : '+';
  const a = Math.abs(exp);
  return `${neg ? '-' : ''}${mant}${e}${sign}${a < 10 ? '0' : ''}${a}`;
}

/** Fixed notation with `frac` digits after the point (digits past the shortest ones are 0). */
function fmtF(neg: boolean, digits: string, exp: number, frac: number): string {
  const dp = exp + 1; // digits before the point
  let int: string;
  if (dp <= 0) int = '0';
  else if (dp >= digits.length) int = digits + '0'.repeat(dp - digits.length);
  else int = digits.slice(0, dp);
  let out = (neg ? '-' : '') + int;
  if (frac > 0) {
    let f = '';
    for (let i = 0; i < frac; i++) {
      const k = dp + i;
      f += k >= 0 && k < digits.length ? digits[k] : '0';
    }
    out += '.' + f;
  }
  return out;
}

/** strconv.FormatFloat(x, 'g' or 'G', -1, 64). */
export function formatGoFloatG(x: number, upper = false): string {
  const sp = special(x);
  if (sp !== undefined) return sp;
  const { digits, exp } = shortestDigits(x);
  // With the shortest precision Go decides on %e with a fixed precision of 6.
  if (exp < -4 || exp >= 6) return fmtE(x < 0, digits, exp, upper ? 'E' : 'e');
  return fmtF(x < 0, digits, exp, Math.max(digits.length - (exp + 1), 0));
}

/** strconv.FormatFloat(x, 'f', prec, 64); prec -1 is the shortest. */
export function formatGoFloatF(x: number, prec = -1): string {
  const sp = special(x);
  if (sp !== undefined) return sp === '-0' || sp === '0' ? (prec > 0 ? `${sp}.${'0'.repeat(prec)}` : sp) : sp;
  if (prec >= 0) {
    // Rounding to a fixed precision: toFixed rounds the exact binary value, as Go does.
    const s = Math.abs(x).toFixed(Math.min(prec, 100));
    return (x < 0 ? '-' : '') + s;
  }
  const { digits, exp } = shortestDigits(x);
  return fmtF(x < 0, digits, exp, Math.max(digits.length - (exp + 1), 0));
}

/** encoding/json's float64 text; NaN and infinities are not JSON (Go refuses them). */
export function formatJsonFloat(x: number): string | undefined {
  if (!Number.isFinite(x)) return undefined;
  if (x === 0) return Object.is(x, -0) ? '-0' : '0';
  const abs = Math.abs(x);
  if (abs < 1e-6 || abs >= 1e21) {
    const { digits, exp } = shortestDigits(x);
    // Go prints e-07 and then trims it to e-7 (only for one-digit negative exponents).
    return fmtE(x < 0, digits, exp, 'e').replace(/e-0(\d)$/, 'e-$1');
  }
  return formatGoFloatF(x);
}

/** RFC 3339 without fractional seconds, from the RFC 3339 (nano) text a Time keeps. */
export function timeRfc3339(t: Time): string {
  return t.text.replace(/(T\d\d:\d\d:\d\d)\.\d+/, '$1');
}

/**
 * stores.ValToString: how dotenv and INI print a non-string value. A branch or a list has no
 * such form (Go would print its internal structure); callers refuse them first.
 */
export function valToString(v: Value): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (v === null) return '<nil>';
  if (v instanceof Int) return v.value.toString();
  if (v instanceof Float) {
    const g = formatGoFloatG(v.value, true);
    // "If the result can be confused with an integer, make sure we have at least one decimal digit"
    if (!g.includes('.') && !g.includes('E')) return formatGoFloatF(v.value, 1);
    return g;
  }
  if (v instanceof Time) return timeRfc3339(v);
  if (v instanceof Comment) return v.value;
  if (v instanceof Branch || Array.isArray(v)) throw new Error('valToString: not a scalar');
  return String(v);
}
