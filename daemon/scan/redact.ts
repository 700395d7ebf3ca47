/** Armor header of a key block (not secret): `-----BEGIN OPENSSH PRIVATE KEY-----`. */
const ARMOR = /^-----BEGIN [A-Z0-9 ]{1,40}-----/;
const MASK = '********';

/**
 * What reports show of a secret: its first characters (at most a quarter of it, at most 4:
 * usually the public prefix such as `ghp_` or `AKIA`) and a fixed mask that does not tell
 * the length. A key block shows its armor header.
 */
export function redact(secret: string): string {
  const armor = ARMOR.exec(secret);
  if (armor) return `${armor[0]} ${MASK}`;
  const keep = Math.min(4, Math.floor(secret.length / 4));
  return printable(secret.slice(0, keep)) + MASK;
}

function printable(s: string): string {
  return s.replace(/[^\x21-\x7e]/g, '?');
}
