// Which of many literal keywords occur in a text, in one pass: rules whose keywords are all
// absent are not run at all (most files hold none of a rule's prefixes). Case-insensitive.
// One regular expression of all the keywords (longest first) does the walk: V8 compiles it to
// machine code at once, where a hand-written loop would first run in the interpreter, and the
// pre-commit scan runs cold. A keyword that another one starts with (`sk-` and `sk-or-v1-`) is
// counted present with it.

export class KeywordSet {
  private readonly re: RegExp;
  /** For each keyword, itself and the other keywords it starts with. */
  private readonly implied = new Map<string, string[]>();

  constructor(words: Iterable<string>) {
    const set = new Set([...words].map((w) => w.toLowerCase()));
    const all = [...set].sort((a, b) => b.length - a.length || (a < b ? -1 : 1));
    for (const k of all) {
      if (k.length < 2) throw new Error(`keyword must be 2+ characters: ${JSON.stringify(k)}`);
      const also = [k];
      for (let n = 2; n < k.length; n++) if (set.has(k.slice(0, n))) also.push(k.slice(0, n));
      this.implied.set(k, also);
    }
    this.re = new RegExp(all.map((k) => k.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&')).join('|') || '(?!)', 'gi');
  }

  /** The keywords (lowercase) that occur in `text`. */
  presentIn(text: string): Set<string> {
    const found = new Set<string>();
    const re = this.re;
    re.lastIndex = 0;
    for (let m = re.exec(text); m !== null; m = re.exec(text)) {
      const k = m[0].toLowerCase();
      // Go on from the next character, not past the match: a keyword that starts inside this
      // one (`--pass` in `--password`, then `password`) is found too.
      re.lastIndex = m.index + 1;
      if (found.has(k)) continue;
      for (const p of this.implied.get(k) ?? [k]) found.add(p);
    }
    return found;
  }
}
