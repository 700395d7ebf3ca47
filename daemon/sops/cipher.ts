// One sops value, encrypted or decrypted, byte for byte as sops 3.13 does it (aes/cipher.go):
//
//   ENC[AES256_GCM,data:<b64 ciphertext>,iv:<b64 32-byte nonce>,tag:<b64 16-byte tag>,type:<t>]
//
// AES-256-GCM with the data key; the associated data is the value's key path (`a:b:`) so that a
// ciphertext moved to another key fails to open. The type tag says how the plaintext bytes read
// back: str, int, float, bool, time, comment (and bytes, which sops decrypts but never writes).
// Empty strings and empty comments are not encrypted at all: sops writes them as "".
//
// Written by hand (it is a format, not a solved problem): the parser is strict and linear, where
// sops' own regular expression would accept trailing junk.
import { createCipheriv, createDecipheriv, randomFillSync } from 'node:crypto';
import { ErrorCode } from '../protocol/errors';
import { KeywardError } from '../util/errors';
import { Comment, Float, Int, Time, type Leaf } from './tree';

/** sops' nonce size (aes/cipher.go nonceSize). */
export const IV_SIZE = 32;
const TAG_SIZE = 16;
const KEY_SIZE = 32;
const PREFIX = 'ENC[AES256_GCM,data:';

export type EncType = 'str' | 'int' | 'float' | 'bool' | 'time' | 'comment' | 'bytes';
const ENC_TYPES: ReadonlySet<string> = new Set(['str', 'int', 'float', 'bool', 'time', 'comment', 'bytes']);

/**
 * How strings become bytes. Every store reads text as UTF-8, except the binary store, whose one
 * value holds arbitrary bytes: there the tree's string is latin1 (one char per byte).
 */
export type StringEncoding = 'utf8' | 'latin1';

/** A value sops can encrypt: a non-null leaf, or a comment. */
export type Plain = Exclude<Leaf, null> | Comment;

export interface EncParts {
  data: Buffer;
  iv: Buffer;
  tag: Buffer;
  type: EncType;
}

/** An encrypted value's fields (each base64 still to be checked for whole groups). */
const ENC_SHAPE = /^ENC\[AES256_GCM,data:([A-Za-z0-9+/]*={0,2}),iv:([A-Za-z0-9+/]*={0,2}),tag:([A-Za-z0-9+/]*={0,2}),type:([a-z]+)\]$/;

/** Padded standard base64: whole 4-character groups, "=" only as the last one or two. */
const B64_CHARS = /^[A-Za-z0-9+/]*={0,2}$/;

function b64(s: string): Buffer | undefined {
  return s.length % 4 === 0 && B64_CHARS.test(s) ? Buffer.from(s, 'base64') : undefined;
}

/** Whether a string has the shape of an encrypted value (cheap test, no decoding). */
export function looksEncrypted(s: string): boolean {
  return s.startsWith(PREFIX);
}

/**
 * Parses `ENC[AES256_GCM,...]`. Returns undefined when `s` is not an encrypted value at all
 * (does not start with `ENC[AES256_GCM,`), throws Malformed when it starts like one but is not.
 */
export function parseEnc(s: string, where: string): EncParts | undefined {
  if (!s.startsWith(PREFIX)) return undefined;
  // The well-formed case in one match; anything else goes the long way, to say what is wrong.
  const m = ENC_SHAPE.exec(s);
  if (m) {
    const [, d, i, t, type] = m as unknown as [string, string, string, string, string];
    if (d.length % 4 === 0 && i.length % 4 === 0 && t.length % 4 === 0 && ENC_TYPES.has(type)) {
      const iv = Buffer.from(i, 'base64');
      const tag = Buffer.from(t, 'base64');
      if (iv.length > 0 && iv.length <= 256 && tag.length === TAG_SIZE) return { data: Buffer.from(d, 'base64'), iv, tag, type: type as EncType };
    }
  }
  const bad = (what: string) => new KeywardError(ErrorCode.Malformed, `malformed encrypted value at ${where}: ${what}`, 'the file is corrupted or was edited by hand; restore it from version control');
  if (!s.endsWith(']')) throw bad('no closing bracket');
  // Base64 has no ',' and no ':', so the four fields split unambiguously.
  const fields = s.slice(PREFIX.length - 'data:'.length, -1).split(',');
  if (fields.length !== 4) throw bad('expected data, iv, tag and type');
  const [d, i, t, ty] = fields as [string, string, string, string];
  if (!d.startsWith('data:') || !i.startsWith('iv:') || !t.startsWith('tag:') || !ty.startsWith('type:')) throw bad('fields out of order');
  const data = b64(d.slice(5));
  const iv = b64(i.slice(3));
  const tag = b64(t.slice(4));
  const type = ty.slice(5);
  if (!data) throw bad('data is not base64');
  if (!iv || iv.length === 0 || iv.length > 256) throw bad('bad iv');
  if (!tag || tag.length !== TAG_SIZE) throw bad('bad tag');
  if (!ENC_TYPES.has(type)) throw bad('unknown type');
  return { data, iv, tag, type: type as EncType };
}

export function formatEnc(p: EncParts): string {
  return `ENC[AES256_GCM,data:${p.data.toString('base64')},iv:${p.iv.toString('base64')},tag:${p.tag.toString('base64')},type:${p.type}]`;
}

/** The type tag sops gives a value. */
export function encTypeOf(v: Plain): EncType {
  if (typeof v === 'string') return 'str';
  if (typeof v === 'boolean') return 'bool';
  if (v instanceof Int) return 'int';
  if (v instanceof Float) return 'float';
  if (v instanceof Time) return 'time';
  return 'comment';
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/**
 * The bytes sops encrypts and MACs for a value (sops.go ToBytes): ints in decimal, floats as Go's
 * strconv.FormatFloat(v, 'f', -1, 64), booleans "True"/"False", times as Go's MarshalText.
 */
export function plainBytes(v: Plain, enc: StringEncoding = 'utf8'): Buffer {
  if (typeof v === 'string') return Buffer.from(v, enc);
  if (typeof v === 'boolean') return Buffer.from(v ? 'True' : 'False');
  if (v instanceof Int) {
    if (v.value < INT64_MIN || v.value > INT64_MAX) throw new KeywardError(ErrorCode.InvalidInput, 'integer out of range for sops (64-bit)', 'quote the number to keep it as a string');
    return Buffer.from(v.value.toString());
  }
  if (v instanceof Float) return Buffer.from(formatGoFloat(v.value));
  if (v instanceof Time) return Buffer.from(normalizeGoTime(v.text) ?? v.text);
  return Buffer.from(v.value, 'utf8');
}

/** Go's strconv.FormatFloat(v, 'f', -1, 64): shortest round-trip digits, never an exponent. */
export function formatGoFloat(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  const neg = v < 0 || Object.is(v, -0);
  const a = Math.abs(v);
  if (a === 0) return neg ? '-0' : '0';
  // toExponential() without digits gives the shortest string that reads back to `a`, as Go's.
  const [mant = '', expText = '0'] = a.toExponential().split('e');
  const digits = mant.replace('.', '');
  const point = Number(expText) + 1; // digits before the decimal point
  let s: string;
  if (point <= 0) s = `0.${'0'.repeat(-point)}${digits}`;
  else if (point >= digits.length) s = digits + '0'.repeat(point - digits.length);
  else s = `${digits.slice(0, point)}.${digits.slice(point)}`;
  return neg ? `-${s}` : s;
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;

/**
 * An RFC 3339 time as Go's time.MarshalText writes it (RFC3339Nano: fraction without trailing
 * zeros, a zero offset as "Z"), or undefined when `s` is not RFC 3339.
 */
export function normalizeGoTime(s: string): string | undefined {
  const m = RFC3339.exec(s);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, se, frac, zone] = m as unknown as [string, string, string, string, string, string, string, string | undefined, string];
  if (+mo < 1 || +mo > 12 || +d < 1 || +d > 31 || +h > 23 || +mi > 59 || +se > 59) return undefined;
  if (zone !== 'Z' && (+zone.slice(1, 3) > 23 || +zone.slice(4) > 59)) return undefined;
  const f = (frac ?? '').replace(/0+$/, '');
  const z = zone === 'Z' || /^[+-]00:00$/.test(zone) ? 'Z' : zone;
  return `${y}-${mo}-${d}T${h}:${mi}:${se}${f ? `.${f}` : ''}${z}`;
}

/** The time as Go's Format(time.RFC3339) writes it (no fraction): the MAC's associated data. */
export function goRfc3339(s: string): string | undefined {
  const n = normalizeGoTime(s);
  return n?.replace(/\.\d+(?=Z|[+-])/, '');
}

// Nonces come from a pool refilled 256 at a time: one getrandom call per value costs as much as
// the AES-GCM itself. Each nonce is handed out once, then the pool is refilled.
const POOL = Buffer.alloc(IV_SIZE * 256);
let poolAt = POOL.length;

function freshIv(): Buffer {
  if (poolAt === POOL.length) {
    randomFillSync(POOL);
    poolAt = 0;
  }
  const iv = Buffer.from(POOL.subarray(poolAt, poolAt + IV_SIZE));
  POOL.fill(0, poolAt, poolAt + IV_SIZE);
  poolAt += IV_SIZE;
  return iv;
}

function checkKey(key: Uint8Array): void {
  if (key.length !== KEY_SIZE) throw new KeywardError(ErrorCode.InvalidInput, 'the data key must be 32 bytes');
}

/**
 * Encrypts one value under `aad` (the key path, `a:b:`). Empty strings and comments give ""
 * (sops does not encrypt them). `iv` is for tests and for re-encrypting a value unchanged.
 */
export function encryptValue(v: Plain, key: Uint8Array, aad: string, enc: StringEncoding = 'utf8', iv?: Buffer): string {
  checkKey(key);
  if ((typeof v === 'string' && v === '') || (v instanceof Comment && v.value === '')) return '';
  const nonce = iv ?? freshIv();
  const c = createCipheriv('aes-256-gcm', key, nonce);
  c.setAAD(Buffer.from(aad, 'utf8'));
  const data = Buffer.concat([c.update(plainBytes(v, enc)), c.final()]);
  return formatEnc({ data, iv: nonce, tag: c.getAuthTag(), type: encTypeOf(v) });
}

export interface Decrypted {
  /** The value; a comment when the type tag is `comment`. */
  value: Plain;
  /** The exact plaintext bytes (what the MAC covers). */
  bytes: Buffer;
  type: EncType;
}

/**
 * What opening the encryption of `v` gives (decryptValue's result), without the cipher: the
 * plaintext bytes read back as their type. Undefined when they do not read back (the caller
 * then opens the value for real, and fails as any reader would). For the read-back after a
 * write: the writer knows each new value's plaintext, and AES-GCM's own round trip is not what
 * the read-back checks (the store's is).
 */
export function expectedOpen(v: Exclude<Plain, Comment>, enc: StringEncoding = 'utf8'): Decrypted | undefined {
  const bytes = plainBytes(v, enc);
  const type = encTypeOf(v);
  try {
    return { value: readTyped(bytes, type, '', enc), bytes, type };
  } catch {
    return undefined;
  }
}

/**
 * Opens one value. `where` names the value in errors (a path, never a value). Throws Malformed
 * when `s` is not an encrypted value or its plaintext does not read as its type, and
 * DecryptFailed when authentication fails (wrong key, tampered, or moved to another key).
 * The empty string decrypts to "" (sops writes empty values unencrypted).
 */
export function decryptValue(s: string, key: Uint8Array, aad: string, where: string, enc: StringEncoding = 'utf8'): Decrypted {
  checkKey(key);
  if (s === '') return { value: '', bytes: Buffer.alloc(0), type: 'str' };
  const p = parseEnc(s, where);
  if (!p) throw new KeywardError(ErrorCode.Malformed, `value at ${where} is not encrypted`, 'a value sops should have encrypted is in clear text: the file was edited by hand or tampered with');
  const bytes = openParts(p, key, aad, where);
  return { value: readTyped(bytes, p.type, where, enc), bytes, type: p.type };
}

/** AES-GCM open of parsed parts; DecryptFailed on authentication failure. */
export function openParts(p: EncParts, key: Uint8Array, aad: string, where: string, what: 'value' | 'comment' = 'value'): Buffer {
  const d = createDecipheriv('aes-256-gcm', key, p.iv);
  d.setAAD(Buffer.from(aad, 'utf8'));
  d.setAuthTag(p.tag);
  const out = d.update(p.data);
  try {
    d.final(); // GCM: no more output, only the tag check
    return out;
  } catch {
    out.fill(0); // not authentic: never let it out
    throw new KeywardError(ErrorCode.DecryptFailed, `${what} at ${where} failed authentication (tampered, or moved from another key)`, 'restore the file from version control; if only the MAC is wrong, --ignore-mac reads the rest');
  }
}

const GO_TRUE = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const GO_FALSE = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);
const GO_FLOAT = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const GO_FLOAT_SPECIAL = /^[+-]?(?:inf|infinity|nan)$/i;

function readTyped(bytes: Buffer, type: EncType, where: string, enc: StringEncoding): Plain {
  const bad = () => new KeywardError(ErrorCode.Malformed, `value at ${where} does not read as its type ${type}`, 'the file was written by a broken tool');
  switch (type) {
    case 'str':
    case 'bytes':
      return bytes.toString(enc);
    case 'comment':
      return new Comment(bytes.toString('utf8'));
    case 'int': {
      const t = bytes.toString('latin1');
      if (!/^[+-]?\d{1,20}$/.test(t)) throw bad();
      const n = BigInt(t);
      if (n < INT64_MIN || n > INT64_MAX) throw bad();
      return new Int(n);
    }
    case 'float': {
      const t = bytes.toString('latin1');
      if (GO_FLOAT_SPECIAL.test(t)) return new Float(/nan/i.test(t) ? NaN : t.startsWith('-') ? -Infinity : Infinity);
      if (!GO_FLOAT.test(t) || t.length > 1100) throw bad();
      const n = Number(t);
      if (!Number.isFinite(n)) throw bad();
      return new Float(n);
    }
    case 'bool': {
      const t = bytes.toString('latin1');
      if (GO_TRUE.has(t)) return true;
      if (GO_FALSE.has(t)) return false;
      throw bad();
    }
    case 'time': {
      const t = normalizeGoTime(bytes.toString('latin1'));
      if (t === undefined) throw bad();
      return new Time(t);
    }
  }
}
