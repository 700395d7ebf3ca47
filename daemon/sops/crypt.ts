// Encrypting and decrypting a whole tree, and its MAC, as sops 3.13 does (sops.go Encrypt,
// Decrypt, shouldBeEncrypted, walkBranch/walkSlice; cmd/sops/common EncryptTree/DecryptTree):
//
// - The walk visits branch items in order, list elements in order, documents in order. A leaf's
//   associated data is its map keys joined with ":" plus a trailing ":" (list indexes are not
//   part of it); a comment's is the path of the branch or list that holds it.
// - Which leaves are encrypted: the one rule of the metadata (suffixes and regexes test every key
//   of the path, so `x_unencrypted:` leaves its whole subtree in clear; comment regexes test the
//   comments seen so far at every level of the path, and a comment block ends at the next value).
// - The MAC is SHA-512 over the plaintext bytes of every leaf (every encrypted leaf, with
//   mac_only_encrypted, after a fixed 32-byte prefix), comments and nulls excluded, as uppercase
//   hex; it is stored encrypted with the data key, `lastmodified` (Go RFC 3339) as associated data.
//
// Where Keyward differs, on purpose:
// - sops turns an encrypted comment inside a list into a list element (walkSlice stores the
//   string), and then counts it in the MAC on decryption, so sops cannot verify such files.
//   Keyward keeps it a comment, and reads sops' element form back as a comment outside the MAC.
// - sops keeps an encrypted comment it cannot open as it is, silently; Keyward refuses it (a
//   tampered or moved comment), unless the caller is lenient (--ignore-mac).
// - sops forgets that a decrypted comment was inline; Keyward keeps it.
import { createHash, timingSafeEqual } from 'node:crypto';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { ErrorCode } from '../protocol/errors';
import { KeywardError } from '../util/errors';
import { decryptValue, encryptValue, encTypeOf, expectedOpen, goRfc3339, looksEncrypted, parseEnc, openParts, plainBytes, type Decrypted, type Plain, type StringEncoding } from './cipher';
import { compileGoRegexp, type GoRegexp } from '../util/goregex';
import type { EncryptRules } from './options';
import { Branch, Comment, Float, Int, Time, type Item, type Value } from './tree';

/** sops' MACOnlyEncryptedInitialization: sha256("sops"). */
const MAC_ONLY_ENCRYPTED_INIT = Buffer.from('8a3fd2ad54ce66527b1034f3d147be0b0b975b3bf44f72c6fdadec8176f27d69', 'hex');

/** Deepest nesting walked (the wire's tree paths stop at 256). */
export const MAX_DEPTH = 512;
/** Most values and comments in one file. */
export const MAX_NODES = 1_000_000;

// ---- rules ---------------------------------------------------------------------------------

/** The encryption rules, compiled: sops' shouldBeEncrypted. */
export class Rules {
  private readonly unencryptedRegex?: Memo;
  private readonly encryptedRegex?: Memo;
  private readonly unencryptedCommentRegex?: Memo;
  private readonly encryptedCommentRegex?: Memo;

  constructor(readonly rules: EncryptRules) {
    // Go's regexp.Match: unanchored, RE2 syntax, linear time (the regexes come from files:
    // .sops.yaml or the metadata of the file being read). Each key is tested once: the keys
    // of a path are tested again for every leaf below them.
    if (rules.unencryptedRegex) this.unencryptedRegex = new Memo(compileGoRegexp(rules.unencryptedRegex));
    if (rules.encryptedRegex) this.encryptedRegex = new Memo(compileGoRegexp(rules.encryptedRegex));
    if (rules.unencryptedCommentRegex) this.unencryptedCommentRegex = new Memo(compileGoRegexp(rules.unencryptedCommentRegex));
    if (rules.encryptedCommentRegex) this.encryptedCommentRegex = new Memo(compileGoRegexp(rules.encryptedCommentRegex));
  }

  /**
   * Tests every key and comment of `branches` against the regexes ahead of a walk, a few
   * milliseconds at a time with the event loop let through in between. Linear time can still be
   * long: a pattern from a file may cost 20,000 steps per character, over a file of 64 MiB. The
   * walks (encryptTree, decryptTree) are synchronous; primed, they only look the answers up, so
   * a hostile file keeps one request busy, not the daemon.
   */
  async prime(branches: readonly Branch[]): Promise<void> {
    const keyRes = [this.unencryptedRegex, this.encryptedRegex].filter((m): m is Memo => m !== undefined);
    const commentRes = [this.unencryptedCommentRegex, this.encryptedCommentRegex].filter((m): m is Memo => m !== undefined);
    if (!keyRes.length && !commentRes.length) return;
    const keys = new Set<string>();
    const comments = new Set<string>();
    const slice = new Slice();
    const stack: Value[] = [...branches];
    for (let n = 0; stack.length && n <= MAX_NODES; n++) {
      const v = stack.pop()!;
      if (v instanceof Branch) {
        for (const it of v.items) {
          if (it.key instanceof Comment) comments.add(it.key.value);
          else keys.add(it.key);
          stack.push(it.value);
        }
      } else if (Array.isArray(v)) {
        stack.push(...v);
      } else if (v instanceof Comment) {
        comments.add(v.value);
      }
      if ((n & 1023) === 0 && slice.due()) await slice.pause();
    }
    for (const [strings, res] of [[keys, keyRes], [comments, commentRes]] as const) {
      if (!res.length) continue;
      for (const str of strings) {
        for (const re of res) re.prime(str);
        if (slice.due()) await slice.pause();
      }
    }
  }

  get macOnlyEncrypted(): boolean {
    return this.rules.macOnlyEncrypted === true;
  }

  /** Whether an encrypted comment would read as a clear one (sops refuses to write that). */
  matchesUnencryptedComment(text: string): boolean {
    return this.unencryptedCommentRegex?.test(text) ?? false;
  }

  /** `path`: the map keys down to the value; `comments`: the comments seen, per level. */
  shouldEncrypt(path: readonly string[], comments: readonly (readonly string[])[], isComment: boolean): boolean {
    let encrypted = true;
    const r = this.rules;
    if (r.unencryptedSuffix && path.some((k) => k.endsWith(r.unencryptedSuffix as string))) encrypted = false;
    if (r.encryptedSuffix) encrypted = path.some((k) => k.endsWith(r.encryptedSuffix as string));
    if (this.unencryptedRegex && path.some((k) => test(this.unencryptedRegex as Memo, k))) encrypted = false;
    if (this.encryptedRegex) encrypted = path.some((k) => test(this.encryptedRegex as Memo, k));
    if (this.unencryptedCommentRegex && comments.some((level) => level.some((c) => test(this.unencryptedCommentRegex as Memo, c)))) encrypted = false;
    if (this.encryptedCommentRegex) {
      // The comment that matches stays clear itself: the last comment seen, when it is the one
      // being decided, does not count.
      const re = this.encryptedCommentRegex;
      const last = comments.length - 1;
      encrypted = comments.some((level, i) => level.some((c, j) => !(isComment && i === last && j === level.length - 1) && test(re, c)));
    }
    return encrypted;
  }
}

function test(re: Memo, s: string): boolean {
  return re.test(s);
}

const MEMO_ENTRIES = 65_536;

/** A regex with its answers kept: the primed ones (all of a file's keys) and a bounded set of others. */
class Memo {
  private readonly primed = new Map<string, boolean>();
  private readonly seen = new Map<string, boolean>();

  constructor(private readonly re: GoRegexp) {}

  prime(s: string): void {
    if (!this.primed.has(s)) this.primed.set(s, this.re.test(s));
  }

  test(s: string): boolean {
    let v = this.primed.get(s) ?? this.seen.get(s);
    if (v === undefined) {
      if (this.seen.size >= MEMO_ENTRIES) this.seen.clear();
      v = this.re.test(s);
      this.seen.set(s, v);
    }
    return v;
  }
}

/** Time slices of a long computation: `tick` lets the event loop through every few milliseconds. */
class Slice {
  /** Due at once: the work before the first slice (a parse, say) was a block of its own. */
  private start = -Infinity;

  /** Whether the slice is used up (then `await pause()`). */
  due(): boolean {
    return performance.now() - this.start >= SLICE_MS;
  }

  async pause(): Promise<void> {
    await nextTurn();
    this.start = performance.now();
  }

}

const SLICE_MS = 10;

// ---- the walk ------------------------------------------------------------------------------

type Leaf = Exclude<Value, Branch | Value[] | null>;
interface Visit {
  /** Map keys down to the leaf: the associated data. */
  path: string[];
  /** Keys and list indexes, for messages. */
  where: string;
  comments: string[][];
  isComment: boolean;
  /** The leaf is an element of a list. */
  inList: boolean;
}
type OnLeaf = (v: Leaf, at: Visit) => Value;

function describe(where: string, next: string | number): string {
  const s = typeof next === 'number' ? `${where}[${next}]` : where ? `${where}:${next}` : next;
  return s.length > 300 ? `${s.slice(0, 300)}...` : s;
}

/**
 * The walk of a tree, as a generator that pauses every YIELD_EVERY leaves: `runSync` drives it
 * to the end at once, `runSliced` a few milliseconds at a time with the event loop let through
 * in between (a file of a million values takes seconds to walk: other clients must not wait).
 * Only containers recurse through generators; leaves are plain calls.
 */
class Walker {
  private nodes = 0;
  private since = 0;
  constructor(private readonly onLeaf: OnLeaf) {}

  *branches(bs: readonly Branch[]): Generator<void, Branch[]> {
    const out: Branch[] = [];
    for (const b of bs) out.push(yield* this.branch(b, [], '', [], 0));
    return out;
  }

  private count(depth: number): void {
    if (++this.nodes > MAX_NODES) throw new KeywardError(ErrorCode.InvalidInput, 'the file has too many values', `sops files are limited to ${MAX_NODES} values and comments`);
    if (depth > MAX_DEPTH) throw new KeywardError(ErrorCode.InvalidInput, 'the file is nested too deeply', `sops files are limited to ${MAX_DEPTH} levels`);
  }

  /** A leaf's new value (through onLeaf), or null; containers go through `value`. */
  private leaf(v: Leaf | null, path: string[], where: string, comments: string[][], depth: number, inList: boolean): Value {
    if (v === null) return null;
    this.count(depth);
    return this.onLeaf(v, { path, where, comments, isComment: v instanceof Comment, inList });
  }

  /** A child: containers walked through their generator, leaves called directly (one generator per container, not per value). */
  private *value(v: Value, path: string[], where: string, comments: string[][], depth: number, inList: boolean): Generator<void, Value> {
    if (v instanceof Branch) return yield* this.branch(v, path, where, comments, depth + 1);
    if (Array.isArray(v)) return yield* this.list(v, path, where, comments, depth + 1);
    return this.leaf(v, path, where, comments, depth, inList);
  }

  /** Whether to pause now (every YIELD_EVERY leaves). */
  private due(): boolean {
    if (++this.since < YIELD_EVERY) return false;
    this.since = 0;
    return true;
  }

  private *branch(b: Branch, path: string[], where: string, outer: string[][], depth: number): Generator<void, Branch> {
    this.count(depth);
    const level: string[] = [];
    let comments = [...outer, level];
    const items: Item[] = [];
    for (const it of b.items) {
      if (it.key instanceof Comment) {
        level.push(it.key.value);
        const out = this.onLeaf(it.key, { path, where, comments, isComment: true, inList: false });
        if (!(out instanceof Comment)) throw new Error('a comment must stay a comment');
        items.push({ key: out, value: it.value });
        continue;
      }
      const isComment = it.value instanceof Comment;
      if (it.value instanceof Comment) level.push(it.value.value);
      if (this.due()) yield;
      const child = it.value;
      const childPath = [...path, it.key];
      const childWhere = describe(where, it.key);
      const v = child instanceof Branch || Array.isArray(child) ? yield* this.value(child, childPath, childWhere, comments, depth, false) : this.leaf(child, childPath, childWhere, comments, depth, false);
      if (!isComment) {
        level.length = 0;
        comments = [...outer, level];
      }
      items.push({ key: it.key, value: v });
    }
    return new Branch(items);
  }

  private *list(l: readonly Value[], path: string[], where: string, outer: string[][], depth: number): Generator<void, Value[]> {
    this.count(depth);
    const level: string[] = [];
    const comments = [...outer, level];
    let index = 0;
    const out: Value[] = [];
    for (const e of l) {
      const isComment = e instanceof Comment;
      if (e instanceof Comment) level.push(e.value);
      if (this.due()) yield;
      out.push(e instanceof Branch || Array.isArray(e) ? yield* this.value(e, path, describe(where, index), comments, depth, true) : this.leaf(e, path, describe(where, index), comments, depth, true));
      if (!isComment) {
        level.length = 0;
        index++;
      }
    }
    return out;
  }
}

/** Leaves walked between two chances to pause (each chance costs a clock read). */
const YIELD_EVERY = 32;

/** Drives a walk to its end at once. */
function runSync<T>(g: Generator<void, T>): T {
  for (;;) {
    const r = g.next();
    if (r.done) return r.value;
  }
}

/** Drives a walk a slice at a time, letting the event loop through between slices. */
async function runSliced<T>(g: Generator<void, T>): Promise<T> {
  const slice = new Slice();
  for (;;) {
    const r = g.next();
    if (r.done) return r.value;
    if (slice.due()) await slice.pause();
  }
}

/** sops' `strings.Join(path, ":") + ":"`: the top level (comments there) is ":". */
function aadOf(path: readonly string[]): string {
  return `${path.join(':')}:`;
}

// ---- re-encrypting unchanged values to the same bytes ---------------------------------------

/**
 * What a file held, by associated data, type and plaintext: the exact `ENC[...]` strings of
 * encrypted values (and comments), and the clear values. Re-encrypting takes from it, so that a
 * value whose path and plaintext did not change keeps its exact ciphertext (sops' cipher stash,
 * but kept across an edit of the text). Each stored ciphertext is used at most once, so equal
 * values in a list do not come out equal where they were not.
 */
export class Stash {
  private readonly m = new Map<string, string[]>();

  private static key(aad: string, kind: string, bytes: Buffer): string {
    return `${aad}\u0000${kind}\u0000${bytes.toString('latin1')}`;
  }

  put(aad: string, kind: string, bytes: Buffer, text: string): void {
    const k = Stash.key(aad, kind, bytes);
    const l = this.m.get(k);
    if (l) l.push(text);
    else this.m.set(k, [text]);
  }

  take(aad: string, kind: string, bytes: Buffer): string | undefined {
    const k = Stash.key(aad, kind, bytes);
    const l = this.m.get(k);
    const t = l?.shift();
    if (l && l.length === 0) this.m.delete(k);
    return t;
  }

  /** A copy to consume (one edit), leaving this one whole. */
  clone(): Stash {
    const s = new Stash();
    for (const [k, v] of this.m) s.m.set(k, [...v]);
    return s;
  }
}

// ---- encrypt ---------------------------------------------------------------------------------

export interface CryptOptions {
  encoding?: StringEncoding;
}

export interface EncryptOptions extends CryptOptions {
  /** Ciphertexts to keep for unchanged values (consumed). */
  reuse?: Stash;
  /**
   * Filled with what each new value will open to (see DecryptOptions.opened): the read-back of
   * the written file then checks the store's round trip and the MAC, and runs the cipher only
   * on ciphertexts that did not come back as written.
   */
  opened?: Map<string, Decrypted>;
}

export interface EncryptResult {
  branches: Branch[];
  /** The MAC, uppercase hex, not yet encrypted. */
  mac: string;
  /** Values (not comments) written anew, and values kept byte for byte. */
  changed: number;
  unchanged: number;
}

function isPlain(v: Leaf): v is Plain {
  return typeof v === 'string' || typeof v === 'boolean' || v instanceof Int || v instanceof Float || v instanceof Time || v instanceof Comment;
}

/** Encrypts a plaintext tree (sops Tree.Encrypt); returns new branches, the inputs are untouched. */
export function encryptTree(plain: readonly Branch[], key: Uint8Array, rules: Rules, opts: EncryptOptions = {}): EncryptResult {
  return runSync(encryptSteps(plain, key, rules, opts));
}

/** encryptTree, a slice at a time: other work of the process goes on meanwhile. */
export function encryptTreeSliced(plain: readonly Branch[], key: Uint8Array, rules: Rules, opts: EncryptOptions = {}): Promise<EncryptResult> {
  return runSliced(encryptSteps(plain, key, rules, opts));
}

function* encryptSteps(plain: readonly Branch[], key: Uint8Array, rules: Rules, opts: EncryptOptions): Generator<void, EncryptResult> {
  const enc = opts.encoding ?? 'utf8';
  const hash = createHash('sha512');
  if (rules.macOnlyEncrypted) hash.update(MAC_ONLY_ENCRYPTED_INIT);
  let changed = 0;
  let unchanged = 0;
  const w = new Walker((v, at) => {
    if (!isPlain(v)) throw new KeywardError(ErrorCode.InvalidInput, `value at ${at.where} has a type sops cannot store`);
    const encrypted = rules.shouldEncrypt(at.path, at.comments, at.isComment);
    const aad = aadOf(at.path);
    const type = encTypeOf(v);
    const bytes = plainBytes(v, enc);
    if (!at.isComment && (!rules.macOnlyEncrypted || encrypted)) hash.update(bytes);
    if (!encrypted) {
      if (!at.isComment) {
        if (opts.reuse?.take(aad, `clear:${type}`, bytes) !== undefined) unchanged++;
        else changed++;
      }
      return v;
    }
    let out = opts.reuse?.take(aad, type, bytes);
    if (!at.isComment) {
      if (out !== undefined) unchanged++;
      else changed++;
    }
    if (out === undefined) {
      out = encryptValue(v, key, aad, enc);
      if (opts.opened && out !== '' && !(v instanceof Comment)) {
        const d = expectedOpen(v, enc);
        if (d) opts.opened.set(`${aad}\u0000${out}`, d);
      }
    }
    if (v instanceof Comment) {
      if (rules.matchesUnencryptedComment(out)) {
        throw new KeywardError(ErrorCode.InvalidInput, `encrypted comment at ${at.where || 'top level'} matches unencrypted_comment_regex`, 'make the regex unable to match an encrypted comment (ENC[...])');
      }
      return new Comment(out, v.inline);
    }
    return out;
  });
  const branches = yield* w.branches(plain);
  return { branches, mac: hash.digest('hex').toUpperCase(), changed, unchanged };
}

// ---- decrypt ---------------------------------------------------------------------------------

export interface DecryptOptions extends CryptOptions {
  /** Keep encrypted comments that fail to open, as sops does (for --ignore-mac); else refuse. */
  lenientComments?: boolean;
  /** Whether the MAC opened with this key: tells a wrong data key from one tampered value. */
  macOpened?: boolean;
  /**
   * Values already opened with this same key, by associated data and exact `ENC[...]` text
   * (filled as values open): a file read back after a write opens only what is new in it.
   */
  opened?: Map<string, Decrypted>;
}

export interface DecryptResult {
  branches: Branch[];
  /** The MAC computed over the plaintext, uppercase hex. */
  mac: string;
  /** The file's ciphertexts, to keep for unchanged values on the next save. */
  stash: Stash;
  /** Things a careful reader should know (never a value). */
  warnings: string[];
}

function wrongKey(): KeywardError {
  return new KeywardError(ErrorCode.DecryptFailed, 'the data key does not open this file', 'a master key entry was replaced, or the file was assembled from two files; restore it from version control');
}

/** Decrypts an encrypted tree (sops Tree.Decrypt); returns new branches. */
export function decryptTree(encrypted: readonly Branch[], key: Uint8Array, rules: Rules, opts: DecryptOptions = {}): DecryptResult {
  return runSync(decryptSteps(encrypted, key, rules, opts));
}

/** decryptTree, a slice at a time: other work of the process goes on meanwhile. */
export function decryptTreeSliced(encrypted: readonly Branch[], key: Uint8Array, rules: Rules, opts: DecryptOptions = {}): Promise<DecryptResult> {
  return runSliced(decryptSteps(encrypted, key, rules, opts));
}

function* decryptSteps(encrypted: readonly Branch[], key: Uint8Array, rules: Rules, opts: DecryptOptions): Generator<void, DecryptResult> {
  const enc = opts.encoding ?? 'utf8';
  const hash = createHash('sha512');
  if (rules.macOnlyEncrypted) hash.update(MAC_ONLY_ENCRYPTED_INIT);
  const stash = new Stash();
  const warnings: string[] = [];
  const w = new Walker((v, at) => {
    const encrypted = rules.shouldEncrypt(at.path, at.comments, at.isComment);
    const aad = aadOf(at.path);
    if (v instanceof Comment) {
      if (!encrypted || !looksEncrypted(v.value)) return v;
      try {
        const p = parseEnc(v.value, at.where || 'top level');
        if (!p || p.type !== 'comment') throw new KeywardError(ErrorCode.Malformed, `encrypted comment at ${at.where || 'top level'} is not a comment`);
        const text = openParts(p, key, aad, at.where || 'top level', 'comment').toString('utf8');
        const out = new Comment(text, v.inline);
        stash.put(aad, 'comment', plainBytes(out), v.value);
        return out;
      } catch (e) {
        if (!opts.lenientComments) {
          if (e instanceof KeywardError && e.code === ErrorCode.DecryptFailed && opts.macOpened === false) throw wrongKey();
          throw e;
        }
        warnings.push(`kept an encrypted comment that does not open at ${at.where || 'top level'}`);
        return v;
      }
    }
    let out: Value;
    let macBytes: Buffer;
    if (encrypted) {
      if (typeof v !== 'string') throw new KeywardError(ErrorCode.Malformed, `value at ${at.where} is not encrypted`, 'a value sops should have encrypted is in clear text: the file was edited by hand or tampered with');
      const memo = opts.opened && `${aad}\u0000${v}`;
      let d = memo ? opts.opened?.get(memo) : undefined;
      if (!d) {
        try {
          d = decryptValue(v, key, aad, at.where, enc);
        } catch (e) {
          if (e instanceof KeywardError && e.code === ErrorCode.DecryptFailed && opts.macOpened === false) throw wrongKey();
          throw e;
        }
        if (memo) opts.opened?.set(memo, d);
      }
      if (d.value instanceof Comment) {
        // sops' own form of an encrypted comment in a list (see the top of this file).
        if (!at.inList) throw new KeywardError(ErrorCode.Malformed, `value at ${at.where} is an encrypted comment`, 'the file was edited by hand or tampered with');
        stash.put(aad, 'comment', d.bytes, v);
        return d.value;
      }
      out = d.value;
      const canonical = plainBytes(d.value, enc);
      macBytes = d.type === 'str' || d.type === 'bytes' ? d.bytes : canonical;
      // A value whose text does not survive the round trip (invalid UTF-8) is not reused.
      if (canonical.equals(macBytes)) stash.put(aad, encTypeOf(d.value), canonical, v);
    } else {
      if (!isPlain(v)) throw new KeywardError(ErrorCode.InvalidInput, `value at ${at.where} has a type sops cannot store`);
      out = v;
      macBytes = plainBytes(v, enc);
      stash.put(aad, `clear:${encTypeOf(v)}`, macBytes, '');
    }
    if (!rules.macOnlyEncrypted || encrypted) hash.update(macBytes);
    return out;
  });
  const branches = yield* w.branches(encrypted);
  return { branches, mac: hash.digest('hex').toUpperCase(), stash, warnings };
}

// ---- the MAC ---------------------------------------------------------------------------------

function macAad(lastModified: string): string {
  const a = goRfc3339(lastModified);
  if (a === undefined) throw new KeywardError(ErrorCode.Malformed, 'invalid sops metadata: lastmodified is not an RFC 3339 time');
  return a;
}

/** The MAC as the metadata stores it: encrypted, `lastmodified` as associated data. */
export function encryptMac(macHex: string, key: Uint8Array, lastModified: string): string {
  return encryptValue(macHex, key, macAad(lastModified));
}

export type MacState = 'ok' | 'missing' | 'mismatch' | 'unreadable';

/** Whether the stored MAC opens with this key (false also when it is missing or malformed). */
export function macOpens(stored: string, key: Uint8Array, lastModified: string): boolean {
  if (!stored) return false;
  try {
    decryptValue(stored, key, macAad(lastModified), 'sops.mac');
    return true;
  } catch {
    return false;
  }
}

/** Compares the stored MAC with the computed one, in constant time. */
export function checkMac(stored: string, computedHex: string, key: Uint8Array, lastModified: string): MacState {
  if (!stored) return 'missing';
  let fileMac: Plain;
  try {
    fileMac = decryptValue(stored, key, macAad(lastModified), 'sops.mac').value;
  } catch {
    return 'unreadable';
  }
  if (typeof fileMac !== 'string') return 'mismatch';
  const a = Buffer.from(fileMac, 'utf8');
  const b = Buffer.from(computedHex, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b) ? 'ok' : 'mismatch';
}

/** The error for a MAC that is not 'ok' (DecryptFailed; the hint names --ignore-mac). */
export function macError(state: Exclude<MacState, 'ok'>): KeywardError {
  const hint = 'restore the file from version control, or read it anyway with --ignore-mac (the result says it is unverified)';
  switch (state) {
    case 'missing':
      return new KeywardError(ErrorCode.DecryptFailed, 'the file has no mac', hint);
    case 'unreadable':
      return new KeywardError(ErrorCode.DecryptFailed, 'the mac failed authentication (mac or lastmodified was changed)', hint);
    case 'mismatch':
      return new KeywardError(ErrorCode.DecryptFailed, 'mac mismatch: values were added, removed, reordered or changed outside sops', hint);
  }
}
