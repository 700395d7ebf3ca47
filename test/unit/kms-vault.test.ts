// Vault transit key references and errors, as sops parses and reports them (no server).
import { strict as assert } from 'node:assert';
import { ciphertextVersion, parseTransitUri, providerKind, transitUri, vaultError } from '../../daemon/kms';
import { allowedAddress } from '../../daemon/kms/vault-sops';
import { ErrorCode } from '../../daemon/protocol';
import { parseConfig, compileRule } from '../../daemon/sops/config';

describe('Vault transit key URIs (sops NewMasterKeyFromURI)', () => {
  it('splits address, engine path and key name as sops does', () => {
    assert.deepEqual(parseTransitUri('https://vault.example.com:8200/v1/transit/keys/dev'), { address: 'https://vault.example.com:8200', enginePath: 'transit', keyName: 'dev' });
    assert.deepEqual(parseTransitUri('http://127.0.0.1:8200/v1/team/a/transit/keys/k1/'), { address: 'http://127.0.0.1:8200', enginePath: 'team/a/transit', keyName: 'k1' });
    assert.equal(transitUri(parseTransitUri('https://vault:8200/v1/transit/keys/dev')), 'https://vault:8200/v1/transit/keys/dev');
  });

  it('refuses what sops refuses: no scheme, a path prefix, a short path; and credentials or a query', () => {
    for (const bad of ['vault:8200/v1/transit/keys/dev', 'https://vault/proxy/v1/transit/keys/dev', 'https://vault/v1/transit/dev', 'https://u:p@vault/v1/transit/keys/dev', 'https://vault/v1/transit/keys/dev?x=1', 'ftp://vault/v1/transit/keys/dev']) {
      assert.throws(() => parseTransitUri(bad), (e: unknown) => (e as { code?: number }).code === ErrorCode.InvalidInput, bad);
    }
  });

  it('reads the key version of a ciphertext', () => {
    assert.equal(ciphertextVersion('vault:v1:AbC+/='), 1);
    assert.equal(ciphertextVersion('vault:v12:AbC'), 12);
    assert.equal(ciphertextVersion('vault:v0:AbC'), undefined);
    assert.equal(ciphertextVersion('AQICAHh...'), undefined);
  });

  it('tells AWS ARNs from transit URIs, and neither', () => {
    assert.equal(providerKind('arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab'), 'aws-kms');
    assert.equal(providerKind('https://vault:8200/v1/transit/keys/dev'), 'vault-transit');
    assert.throws(() => providerKind('projects/p/locations/l/keyRings/r/cryptoKeys/k'), (e: unknown) => /AWS KMS key or alias ARN .* Vault transit key URI/.test((e as { hint?: string }).hint ?? ''));
  });

  it('SOPS_HC_VAULT_ALLOWLIST: all, none, or address prefixes', () => {
    assert.ok(allowedAddress('https://v:8200', {}));
    assert.ok(!allowedAddress('https://v:8200', { SOPS_HC_VAULT_ALLOWLIST: 'none' }));
    assert.ok(allowedAddress('https://v:8200', { SOPS_HC_VAULT_ALLOWLIST: 'https://x, https://v:8200' }));
    assert.ok(!allowedAddress('https://v:8201', { SOPS_HC_VAULT_ALLOWLIST: 'https://v:8200' }));
  });
});

describe('Vault errors: clear, and never a token or ciphertext', () => {
  const k = parseTransitUri('http://127.0.0.1:8200/v1/transit/keys/team');
  it('maps Vault answers to what to do', () => {
    assert.equal(vaultError(k, 'decrypt', 403, ['permission denied'], undefined).code, ErrorCode.KeyUnusable);
    assert.match(vaultError(k, 'decrypt', 400, ['ciphertext or signature version is disallowed by policy (too old)'], undefined).message, /below its min_decryption_version/);
    assert.equal(vaultError(k, 'decrypt', 400, ['encryption key not found'], 'ns1').code, ErrorCode.NotFound);
    assert.match(vaultError(k, 'decrypt', 400, ['encryption key not found'], 'ns1').message, /in namespace ns1/);
    assert.match(vaultError(k, 'decrypt', 404, ['namespace not found'], 'nope').message, /no namespace nope/);
    assert.match(vaultError(k, 'decrypt', 503, ['Vault is sealed'], undefined).message, /sealed/);
  });
  it('removes tokens, JWTs and ciphertexts from what Vault said', () => {
    const e = vaultError(k, 'decrypt', 400, ['invalid ciphertext vault:v1:QUJDREVGRw== for token hvs.CAESIabcdefghijklmnop and eyJhbGciOi.eyJzdWIiOi.c2ln and s3cr3t-value'], undefined, ['s3cr3t-value']);
    assert.ok(!/vault:v1:|hvs\.|eyJ|s3cr3t/.test(`${e.message} ${e.hint ?? ''}`), e.message);
  });
});

describe('.sops.yaml Vault fields (hc_vault_transit_uri, key_groups hc_vault)', () => {
  const R = 'age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p';
  it('reads a comma-separated string, a list, and key groups with merges', () => {
    const c = parseConfig(
      `creation_rules:\n  - path_regex: a\n    hc_vault_transit_uri: "https://v:8200/v1/transit/keys/a,https://v:8200/v1/transit/keys/b"\n  - path_regex: b\n    shamir_threshold: 2\n    key_groups:\n      - age: [${R}]\n        hc_vault: [https://v:8200/v1/transit/keys/a]\n      - hc_vault: [https://w:8200/v1/transit/keys/c]\n`,
      '/x/.sops.yaml',
    );
    assert.deepEqual(compileRule(c, c.creationRules![0]!).keyGroups, [{ age: [], kms: [], vault: ['https://v:8200/v1/transit/keys/a', 'https://v:8200/v1/transit/keys/b'] }]);
    const g = compileRule(c, c.creationRules![1]!);
    assert.deepEqual(g.keyGroups, [{ age: [R], kms: [], vault: ['https://v:8200/v1/transit/keys/a'] }, { age: [], kms: [], vault: ['https://w:8200/v1/transit/keys/c'] }]);
    assert.equal(g.shamirThreshold, 2);
  });
  it('refuses a malformed URI naming the line and field', () => {
    const c = parseConfig('creation_rules:\n  - hc_vault_transit_uri: vault:8200/v1/transit/keys/a\n', '/x/.sops.yaml');
    assert.throws(() => compileRule(c, c.creationRules![0]!), /\.sops\.yaml:2: creation_rules\[0\]\.hc_vault_transit_uri: not a Vault transit key URI/);
  });
});
