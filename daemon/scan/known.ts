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
  // The example identities of age's man pages and age-keygen's usage text (X25519 and ML-KEM hybrid),
  // which every vendored copy of filippo.io/age carries.
  '6bd9f3f364465c305708afac95016fd99615fe5c95fb7e4b6e9ccda797787fa1',
  'b3571d478999b981716036d9e624f7965d8e1748c991ed3eefe1aca14ff97bb8',
  '2b031de12205fb01f55b3130377e8541ef65c0273e18359e84f15c63033bfbb9',
  'ee55b3811482d5b0594360d375b3eda39379d07d34fc2042408529e52f10e8c8',
  // The examples of the OAuth 2.0 specification (RFC 6749: access and refresh token, authorization
  // code, the client's Basic credentials) and of OAuth 1.0 (RFC 5849: tokens), which OAuth
  // libraries repeat in their documentation.
  '6c96130f130ab0d6d158397e24d2bcc1c9a5e73ae081f6e983f1c7b545d24a4c',
  '00cf4c781dc37003f7c7dd7d4c9a6ef1e0f4c62d9a291aa8bc398774e3fefd32',
  'a35b81a7d7927b70ec99270dd2362b88580a28574af812f2c02f56469579186f',
  'ca7459e2b26776de081b9a07e40227fd6cff232a1e3233ff6b6aa6d036ca9981',
  '2ff8b0fb93aca981c78f1e94355c298c23435461f1072ef4674848e620371787',
  '9d03b692e941d5ace207a9f8048834439f6de98e5c6c1590c22c4f4577c88a42',
]);

export function isKnownPublic(secret: string): boolean {
  return KNOWN_PUBLIC.has(nodeCrypto().createHash('sha256').update(secret).digest('hex'));
}
