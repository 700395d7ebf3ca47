import { nodeCrypto } from './fingerprint';

/**
 * Credentials that are public on purpose: published in documentation and emulators, so
 * finding them says nothing about a leak. Kept as SHA-256 digests, so that this file does
 * not itself look like it holds keys.
 */
const KNOWN_PUBLIC = new Set([
  // Azurite (Azure Storage emulator) development account key, in Microsoft's documentation.
  '0011cc25eb4320717494d2703e8cba85743e71b500283c21c8b88147992f9059',
  // The example token of jwt.io and countless tutorials (HS256, "John Doe").
  '7f75367e7881255134e1375e723d1dea8ad5f6a4fdb79d938df1f1754a830606',
  // Stripe's documentation test key.
  '2cafc0970149a84f3b9e62eaf169f36f59907a3b3e31f7b82e68c69cd27f7326',
]);

export function isKnownPublic(secret: string): boolean {
  return KNOWN_PUBLIC.has(nodeCrypto().createHash('sha256').update(secret).digest('hex'));
}
