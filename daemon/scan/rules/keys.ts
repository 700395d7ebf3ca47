// Private keys: PEM (PKCS#1, PKCS#8, SEC1), OpenSSH, PGP, and age identities. A key is
// flagged only with a body (a documentation line `-----BEGIN PRIVATE KEY-----` alone is not
// a key); an encrypted key is reported at a lower severity.

import { decodeBech32 } from '../../age/bech32';
import { shannon } from '../entropy';
import { isPlaceholder } from '../placeholders';
import type { Rule } from '../types';
import { patternRule } from './helpers';

/** Base64 body of an armored block, also inside JSON/YAML strings (`\n` escapes). */
function armorBody(block: string): Buffer | null {
  const lines = block.replace(/\\[nr]/g, '\n').split(/\r?\n/);
  // Armor headers (`Version: ...`) and PGP's CRC line (`=AbCd`) are not part of the body.
  const body = lines
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('-----') && !l.includes(':') && !/^=[A-Za-z0-9+/]{4}$/.test(l))
    .join('');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(body)) return null;
  return Buffer.from(body, 'base64');
}

const PEM_BEGIN = /-----BEGIN ((?:RSA |DSA |EC |ENCRYPTED )?)PRIVATE KEY-----/y;
const MAX_PEM = 16384;

/**
 * The base64 body between a PEM block's armor lines, however the block is written: plain, in
 * a JSON or YAML string (`\n` escapes), or as a string concatenation in code
 * (`"-----BEGIN RSA PRIVATE KEY-----" +` then a quoted line each). Of a line with quotes, the
 * text between its first and last quote counts. Null when the body is not base64.
 */
export function pemBody(middle: string): { body: string; encrypted: boolean } | null {
  let out = '';
  let encrypted = false;
  for (const raw of middle.split(/\r?\n/)) {
    const q1 = raw.search(/["'`]/);
    let line = raw;
    if (q1 >= 0) {
      const q2 = Math.max(raw.lastIndexOf('"'), raw.lastIndexOf("'"), raw.lastIndexOf('`'));
      line = q2 > q1 ? raw.slice(q1 + 1, q2) : '';
    }
    for (const part of line.split(/\\[nr]/)) {
      const t = part.trim();
      if (!t) continue;
      if (/^(?:Proc-Type|DEK-Info):/.test(t)) {
        if (t.includes('ENCRYPTED')) encrypted = true;
        continue;
      }
      out += t;
    }
  }
  if (out.length < 64 || out.length > MAX_PEM || !/^[A-Za-z0-9+/]+={0,2}$/.test(out)) return null;
  return { body: out, encrypted };
}

/**
 * PEM private keys (PKCS#1, PKCS#8, SEC1, legacy encrypted). Found from each BEGIN line by
 * hand: the END line of the same label is looked up once, and the text between is judged by
 * pemBody, so a text of many BEGINs costs linear time and code that builds a key out of
 * string pieces is read as well as a key file.
 */
export const privateKeyPem: Rule = {
  id: 'private-key-pem',
  description: 'PEM private key (RSA, EC, DSA or PKCS#8)',
  severity: 'critical',
  tags: ['keys'],
  priority: 60,
  noPlaceholderCheck: true,
  strict: true,
  keywords: ['-----begin '],
  scan(ctx, report) {
    const t = ctx.text;
    let next = 0;
    // The next END line of each label, found once and reused while it lies ahead (-1: none to the end).
    const ends = new Map<string, number>();
    for (let i = t.indexOf('-----BEGIN ', next); i >= 0; i = t.indexOf('-----BEGIN ', next)) {
      next = i + 11;
      PEM_BEGIN.lastIndex = i;
      const m = PEM_BEGIN.exec(t);
      if (!m) continue;
      const bodyStart = i + m[0].length;
      const label = m[1] ?? '';
      const endMarker = `-----END ${label}PRIVATE KEY-----`;
      let j = ends.get(label);
      if (j === undefined || (j >= 0 && j < bodyStart)) {
        j = t.indexOf(endMarker, bodyStart);
        ends.set(label, j);
      }
      if (j < 0 || j - bodyStart > MAX_PEM * 2) continue;
      const other = t.indexOf('-----BEGIN ', bodyStart);
      if (other >= 0 && other < j) continue; // another block starts first: judge that one
      const body = pemBody(t.slice(bodyStart, j));
      if (!body) continue;
      const end = j + endMarker.length;
      report(label === 'ENCRYPTED ' || body.encrypted ? { start: i, end, severity: 'medium' } : { start: i, end });
      next = end;
    }
  },
};

export const opensshPrivateKey = patternRule(
  { id: 'openssh-private-key', description: 'OpenSSH private key', severity: 'critical', tags: ['keys', 'ssh'] },
  /-----BEGIN OPENSSH PRIVATE KEY-----[A-Za-z0-9+/=\s\\]{64,16384}?-----END OPENSSH PRIVATE KEY-----/g,
  {
    priority: 60,
    noPlaceholderCheck: true,
    verify: (s) => {
      const raw = armorBody(s);
      if (raw === null) return false;
      // openssh-key-v1\0, then the cipher name as a length-prefixed string: "none" is plaintext.
      const magic = 'openssh-key-v1\0';
      if (raw.length < magic.length + 8 || raw.toString('latin1', 0, magic.length) !== magic) return true;
      const n = raw.readUInt32BE(magic.length);
      const cipher = raw.toString('latin1', magic.length + 4, magic.length + 4 + Math.min(n, 64));
      return cipher === 'none' ? true : 'medium';
    },
  },
);

export const pgpPrivateKey = patternRule(
  { id: 'pgp-private-key', description: 'PGP private key block', severity: 'critical', tags: ['keys', 'pgp'] },
  /-----BEGIN PGP PRIVATE KEY BLOCK-----(?:\s{0,4}(?:\\r)?(?:\\n)?[A-Za-z][A-Za-z-]{0,30}: [^\r\n\\]{0,200}){0,8}[A-Za-z0-9+/=\s\\]{64,65536}?-----END PGP PRIVATE KEY BLOCK-----/g,
  { priority: 60, noPlaceholderCheck: true, verify: (s) => armorBody(s) !== null },
);

/** The bech32 data part of an age identity: 32 bytes (52 characters) and a 6-character checksum. */
const BECH32_UPPER = '[A-Z0-9]{58}';

/**
 * A valid bech32 checksum: an identity age can use. Else the key's shape with a bad checksum
 * (a typo, a truncation, a test value): still most of a key, reported at medium severity.
 */
function validAgeIdentity(s: string): boolean | 'medium' {
  const r = decodeBech32(s);
  if (r.ok && r.bytes.length === 32) return true;
  const body = s.slice(s.lastIndexOf('-') + 2);
  return !isPlaceholder(body) && shannon(body) >= 3.5 ? 'medium' : false;
}

export const ageSecretKey = patternRule(
  { id: 'age-secret-key', description: 'age X25519 identity (secret key)', severity: 'critical', tags: ['keys', 'age'] },
  new RegExp(`AGE-SECRET-KEY-1${BECH32_UPPER}(?![A-Za-z0-9])`, 'g'),
  { priority: 60, noPlaceholderCheck: true, verify: validAgeIdentity },
);

export const agePqSecretKey = patternRule(
  { id: 'age-pq-secret-key', description: 'age post-quantum (ML-KEM-768 + X25519) identity', severity: 'critical', tags: ['keys', 'age'] },
  new RegExp(`AGE-SECRET-KEY-PQ-1${BECH32_UPPER}(?![A-Za-z0-9])`, 'g'),
  { priority: 60, noPlaceholderCheck: true, verify: validAgeIdentity },
);

const PUTTY_PRIVATE = /Private-Lines:[ \t]*(\d{1,3})\r?\n/y;

/**
 * PuTTY private key files (`.ppk`, versions 2 and 3): the `Private-Lines:` block of base64
 * after a `PuTTY-User-Key-File-N:` header; with `Encryption:` other than `none`, lower.
 */
export const puttyPrivateKey: Rule = {
  id: 'putty-private-key',
  description: 'PuTTY private key',
  severity: 'critical',
  tags: ['keys', 'ssh'],
  priority: 90,
  strict: true,
  keywords: ['putty-user-key-file-'],
  scan(ctx, report) {
    const t = ctx.text;
    for (let i = t.indexOf('PuTTY-User-Key-File-'); i >= 0; i = t.indexOf('PuTTY-User-Key-File-', i + 1)) {
      const head = t.slice(i, i + 8192);
      const at = head.indexOf('Private-Lines:');
      if (at < 0) continue;
      PUTTY_PRIVATE.lastIndex = i + at;
      const m = PUTTY_PRIVATE.exec(t);
      if (!m) continue;
      const n = Number(m[1]);
      let end = PUTTY_PRIVATE.lastIndex;
      const start = end;
      let body = '';
      for (let k = 0; k < n && end < t.length; k++) {
        let nl = t.indexOf('\n', end);
        if (nl < 0) nl = t.length;
        body += t.slice(end, nl).trim();
        end = nl + 1;
      }
      if (body.length < 20 || !/^[A-Za-z0-9+/]+={0,2}$/.test(body) || isPlaceholder(body)) continue;
      const encrypted = /Encryption:[ \t]*(?!none\b)\S/.test(head.slice(0, at));
      report({ start, end: Math.min(end, t.length) - 1, ...(encrypted ? { severity: 'medium' as const } : {}) });
    }
  },
};

/** A JWK member and its string value: `"d": "..."` (also escaped inside a JSON string). */
const JWK_MEMBER = /\\?"(kty|d|k)\\?"[ \t]{0,8}:[ \t]{0,8}\\?"([A-Za-z0-9_-]{1,1024})\\?"/g;

/**
 * A private JSON Web Key (RFC 7517, RFC 7518 section 6): an object whose `kty` is RSA, EC or
 * OKP with the private member `d`, or a symmetric `oct` key with its `k`. A public JWK (`n`,
 * `e`, `x`, `y` only) is not a secret. The object is the one around `"kty"`: a JWK's members
 * hold no nested objects, so it runs from the last `{` before to the first `}` after (at most
 * 8 KiB each side).
 */
export const jwkPrivateKey: Rule = {
  id: 'jwk-private-key',
  description: 'Private JSON Web Key (JWK: RSA/EC/OKP "d", or a symmetric "oct" key "k")',
  severity: 'critical',
  tags: ['keys'],
  priority: 75,
  keywords: ['"kty', 'kty\\"'],
  scan(ctx, report) {
    const text = ctx.text;
    let done = -1;
    for (let at = text.indexOf('kty'); at >= 0; at = text.indexOf('kty', at + 3)) {
      if (at < done) continue;
      const open = text.lastIndexOf('{', at);
      const close = text.indexOf('}', at);
      if (open < 0 || close < 0 || at - open > 8192 || close - at > 8192) continue;
      done = close;
      const body = text.slice(open, close);
      let kty = '';
      const members: { name: string; value: string; start: number }[] = [];
      JWK_MEMBER.lastIndex = 0;
      for (let m = JWK_MEMBER.exec(body); m !== null; m = JWK_MEMBER.exec(body)) {
        if (m[1] === 'kty') kty = m[2]!;
        else members.push({ name: m[1]!, value: m[2]!, start: open + m.index + m[0].length - 1 - m[2]!.length - (m[0].endsWith('\\"') ? 1 : 0) });
      }
      const secret = kty === 'oct' ? 'k' : kty === 'RSA' || kty === 'EC' || kty === 'OKP' ? 'd' : null;
      const hit = members.find((x) => x.name === secret);
      // 128 bits at least (22 base64url characters), and random: not a placeholder written in the shape.
      if (!hit || hit.value.length < 22 || shannon(hit.value) < 4 || isPlaceholder(hit.value)) continue;
      report({ start: hit.start, end: hit.start + hit.value.length });
    }
  },
};

export const keyRules: Rule[] = [privateKeyPem, opensshPrivateKey, pgpPrivateKey, puttyPrivateKey, ageSecretKey, agePqSecretKey, jwkPrivateKey];
