// Private keys: PEM (PKCS#1, PKCS#8, SEC1), OpenSSH, PGP, and age identities. A key is
// flagged only with a body (a documentation line `-----BEGIN PRIVATE KEY-----` alone is not
// a key); an encrypted key is reported at a lower severity.

import { decodeBech32 } from '../../age/bech32';
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

export const privateKeyPem = patternRule(
  { id: 'private-key-pem', description: 'PEM private key (RSA, EC, DSA or PKCS#8)', severity: 'critical', tags: ['keys'] },
  // The body's class holds no "-": a scan from one BEGIN stops at the next armor line, so
  // a text of many BEGINs costs linear time. Legacy encrypted PEM headers come first.
  /-----BEGIN ((?:RSA |DSA |EC |ENCRYPTED )?)PRIVATE KEY-----(?:\s{0,4}(?:\\r)?(?:\\n)?Proc-Type: 4,ENCRYPTED\s{0,4}(?:\\r)?(?:\\n)?DEK-Info: [A-Z0-9,-]{1,100})?[A-Za-z0-9+/=\s\\]{64,16384}?-----END \1PRIVATE KEY-----/g,
  {
    priority: 60,
    noPlaceholderCheck: true,
    verify: (s, _ctx, m) => {
      if (armorBody(s) === null) return false;
      return m[1] === 'ENCRYPTED ' || s.includes('Proc-Type: 4,ENCRYPTED') ? 'medium' : true;
    },
  },
);

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
const BECH32_UPPER = '[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}';

function validAgeIdentity(s: string): boolean {
  const r = decodeBech32(s);
  return r.ok && r.bytes.length === 32;
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

export const keyRules: Rule[] = [privateKeyPem, opensshPrivateKey, pgpPrivateKey, ageSecretKey, agePqSecretKey];
