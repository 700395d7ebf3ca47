// Which of many literal keywords occur in a text, in one pass: rules whose keywords are all
// absent are not run at all (most files hold none of a rule's prefixes). Case-insensitive for
// ASCII. Written by hand: a table of the keywords' first two characters lets the walk skip
// every position at the cost of one lookup; a full match is checked only where a pair fits.

export class KeywordSet {
  /** (first char << 7 | second char) -> the keywords starting with that pair (ASCII, lowercase). */
  private readonly byPair = new Map<number, string[]>();
  private readonly pairs = new Uint8Array(1 << 14);

  constructor(words: Iterable<string>) {
    for (const w of new Set(words)) {
      const k = w.toLowerCase();
      if (k.length < 2 || !/^[\x20-\x7e]+$/.test(k)) throw new Error(`keyword must be 2+ printable ASCII characters: ${JSON.stringify(w)}`);
      const key = (k.charCodeAt(0) << 7) | k.charCodeAt(1);
      this.pairs[key] = 1;
      const list = this.byPair.get(key);
      if (list) list.push(k);
      else this.byPair.set(key, [k]);
    }
  }

  /** The keywords (lowercase) that occur in `text`. */
  presentIn(text: string): Set<string> {
    const found = new Set<string>();
    const n = text.length;
    const pairs = this.pairs;
    let c1 = n > 0 ? fold(text.charCodeAt(0)) : 0;
    for (let i = 0; i + 1 < n; i++) {
      const c0 = c1;
      c1 = fold(text.charCodeAt(i + 1));
      if (c0 >= 128 || c1 >= 128 || pairs[(c0 << 7) | c1] === 0) continue;
      for (const k of this.byPair.get((c0 << 7) | c1)!) {
        if (found.has(k) || i + k.length > n) continue;
        let j = 2;
        while (j < k.length && fold(text.charCodeAt(i + j)) === k.charCodeAt(j)) j++;
        if (j === k.length) found.add(k);
      }
    }
    return found;
  }
}

function fold(c: number): number {
  return c >= 65 && c <= 90 ? c + 32 : c;
}
