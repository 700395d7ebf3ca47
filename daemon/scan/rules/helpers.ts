// Building blocks for rules: a rule from one bounded regex, and a rule that judges
// keyword-context assignments (see ../assignments.ts).

import type { Assignment } from '../assignments';
import { shannon } from '../entropy';
import type { Match, Rule, RuleContext, RuleInfo, Severity } from '../types';

export interface PatternOptions {
  /** The capture group holding the secret (default: the whole match). */
  group?: number;
  /** Minimum Shannon entropy of the secret, bits per character. */
  minEntropy?: number;
  /**
   * Checks a match further (checksum, decoded header). Returns false to drop it, true to
   * keep it, or a severity to keep it at that severity.
   */
  verify?: (secret: string, ctx: RuleContext, m: RegExpExecArray) => boolean | Severity;
  priority?: number;
  noPlaceholderCheck?: boolean;
  /** Runs on generated text too (default true: a pattern rule starts from a provider's prefix); false for loose formats. */
  strict?: boolean;
  /** Literals of which one must occur for the rule to run (default: the pattern's leading literal, if it has one). */
  keywords?: string[];
}

/** Whether `source` has a `|` outside any group or class (then no literal is required). */
function topLevelAlternation(source: string): boolean {
  let depth = 0;
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === '\\') i++;
    else if (inClass) inClass = c !== ']';
    else if (c === '[') inClass = true;
    else if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === '|' && depth === 0) return true;
  }
  return false;
}

/** The literal a pattern starts with (after `\b`), when it is at least two characters long. */
export function leadingLiteral(pattern: string): string | null {
  if (topLevelAlternation(pattern)) return null;
  // A leading look-behind (a boundary) consumes nothing: the literal after it still leads.
  const source = pattern.replace(/^\(\?<!\[[^\]]*\]\)/, '');
  const m = /^(?:\\b)?((?:[A-Za-z0-9_\-:@#%&=,;'"<>~`!]|\\[./+$?*()[\]{}|^-])+)/.exec(source);
  if (!m) return null;
  let lit = m[1]!.replace(/\\(.)/g, '$1');
  // A quantifier or an optional group right after makes the last character optional.
  const rest = source.slice(m[0].length);
  if (/^[?*{]/.test(rest)) lit = lit.slice(0, -1);
  return lit.length >= 2 ? lit : null;
}

/**
 * A rule from one global regex. The regex must use bounded quantifiers only, and should
 * start with a literal so that the engine skips quickly to candidates.
 */
export function patternRule(info: RuleInfo, pattern: RegExp, opts: PatternOptions = {}): Rule {
  if (!pattern.global) throw new Error(`rule ${info.id}: pattern must be global`);
  const group = opts.group ?? 0;
  const re = group > 0 && !pattern.hasIndices ? new RegExp(pattern.source, pattern.flags + 'd') : pattern;
  return {
    ...info,
    priority: opts.priority ?? 50,
    strict: opts.strict ?? true,
    ...(() => {
      const lit = opts.keywords ? null : leadingLiteral(pattern.source);
      const k = opts.keywords ?? (lit !== null ? [lit] : null);
      return k ? { keywords: k.map((w) => w.toLowerCase()) } : {};
    })(),
    ...(opts.noPlaceholderCheck ? { noPlaceholderCheck: true } : {}),
    scan(ctx: RuleContext, report: (m: Match) => void): void {
      re.lastIndex = 0;
      let m: RegExpExecArray | null;
      while ((m = re.exec(ctx.text)) !== null) {
        if (m[0].length === 0) {
          re.lastIndex++;
          continue;
        }
        let start = m.index;
        let end = m.index + m[0].length;
        if (group > 0) {
          const span = m.indices?.[group];
          if (!span) continue;
          [start, end] = span;
        }
        const secret = ctx.text.slice(start, end);
        if (opts.minEntropy !== undefined && shannon(secret) < opts.minEntropy) continue;
        const v = opts.verify ? opts.verify(secret, ctx, m) : true;
        if (v === false) continue;
        report(v === true ? { start, end } : { start, end, severity: v });
      }
    },
  };
}

const PAIR_WINDOW_LINES = 4;
const PAIR_WINDOW_CHARS = 1024;

/** From `at`, a few lines back (dir -1) or forward (dir 1), at most PAIR_WINDOW_CHARS. */
function walk(text: string, at: number, dir: -1 | 1): number {
  let lines = 0;
  let i = at;
  for (let n = 0; n < PAIR_WINDOW_CHARS; n++) {
    const next = dir < 0 ? i - 1 : i;
    if (next < 0 || next >= text.length) break;
    if (text.charCodeAt(next) === 10 && ++lines > PAIR_WINDOW_LINES) break;
    i += dir;
  }
  return i;
}

export interface PairOptions {
  /** The identifier the secret belongs with (an AWS key ID, a Twilio account SID); global. */
  id: RegExp;
  /** A secret candidate (bounded on both sides by look-arounds); global. */
  candidate: RegExp;
  /** Whether a candidate is this secret (entropy, character classes). */
  accept: (candidate: string) => boolean;
  keywords: readonly string[];
  priority: number;
}

/**
 * A secret found next to the identifier it pairs with (within a few lines and 1 KiB either
 * side), in any syntax: credentials files, CSV exports, positional arguments in code
 * (`new Twilio("AC...", "...")`), where no name says what the secret is.
 */
export function pairRule(info: RuleInfo, o: PairOptions): Rule {
  return {
    ...info,
    priority: o.priority,
    keywords: o.keywords,
    scan(ctx: RuleContext, report: (m: Match) => void): void {
      const text = ctx.text;
      const ids: { start: number; end: number }[] = [];
      const re = new RegExp(o.id.source, 'g');
      for (let m = re.exec(text); m !== null; m = re.exec(text)) ids.push({ start: m.index, end: m.index + m[0].length });
      // IDs close together share one window: every character is walked and searched once.
      for (let i = 0; i < ids.length; ) {
        let j = i;
        while (j + 1 < ids.length && ids[j + 1]!.start - ids[j]!.end <= 2 * PAIR_WINDOW_CHARS) j++;
        const from = walk(text, ids[i]!.start, -1);
        const to = walk(text, ids[j]!.end, 1);
        // One character of context each side, for the candidate's boundaries.
        const lo = Math.max(0, from - 1);
        const window = text.slice(lo, Math.min(text.length, to + 1));
        const cand = new RegExp(o.candidate.source, 'g');
        for (let c = cand.exec(window); c !== null; c = cand.exec(window)) {
          const start = lo + c.index;
          if (start >= from && start + c[0].length <= to && o.accept(c[0])) report({ start, end: start + c[0].length });
        }
        i = j + 1;
      }
    },
  };
}

/** A rule that judges assignments found by keyword context (`NAME = VALUE`). */
export interface AssignmentRule extends RuleInfo {
  readonly priority: number;
  readonly noPlaceholderCheck?: boolean;
  /** True (or a severity) when this assignment is this rule's secret. */
  judge(a: Assignment, ctx: RuleContext): boolean | Severity;
}

export function hasWord(words: readonly string[], ...wanted: string[]): boolean {
  return words.some((w) => wanted.includes(w));
}

/** True when some word contains `part` (`openaiapikey` contains `apikey`). */
export function wordContains(words: readonly string[], part: string): boolean {
  return words.some((w) => w.includes(part));
}

/** Base64 (standard or URL alphabet) to bytes; null when it is not base64. */
export function decodeBase64(s: string): Buffer | null {
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(s)) return null;
  return Buffer.from(s.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
}
