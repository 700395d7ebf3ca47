// sops `hc_vault` master keys on Vault / OpenBao transit, made and opened exactly as sops 3.13
// does (hcvault/keysource.go), so that a file either tool wrote opens with the other:
// - encrypt: POST {vault_address}/v1/{engine_path}/encrypt/{key_name} with the data key (or
//   Shamir share) as standard base64; `enc` is the `vault:vN:...` ciphertext as Vault returns it.
// - decrypt: POST .../decrypt/{key_name} with `enc`; the plaintext is the standard base64 of the key.
// - the server is the entry's own `vault_address` (VAULT_ADDR does not redirect it, as in sops);
//   token, namespace and TLS come from the environment (./vault.ts).
// - SOPS_HC_VAULT_ALLOWLIST is honoured as sops honours it: `all` (default), `none`, or a
//   comma-separated list of address prefixes a key may name.
import { ErrorCode } from '../protocol';
import type { SopsVaultClient, VaultKeyEntry } from '../sops/keys';
import { KeywardError } from '../util/errors';
import { ciphertextVersion, transitUri, type TransitKey, type VaultTransit } from './vault';

/** sops' allowlist check (hcvault/keysource.go allowList.Allows). */
export function allowedAddress(address: string, env: NodeJS.ProcessEnv = process.env): boolean {
  const raw = env.SOPS_HC_VAULT_ALLOWLIST;
  if (raw === undefined || raw === '' || raw === 'all') return true;
  if (raw === 'none') return false;
  const a = address.endsWith('/') ? address : `${address}/`;
  return raw.split(',').some((u) => {
    const t = u.trim();
    return t !== '' && a.startsWith(t.endsWith('/') ? t : `${t}/`);
  });
}

function check(k: TransitKey): void {
  if (!allowedAddress(k.address)) {
    throw new KeywardError(ErrorCode.KeyUnusable, `SOPS_HC_VAULT_ALLOWLIST does not allow ${k.address}`, 'add the address to SOPS_HC_VAULT_ALLOWLIST, or unset it');
  }
}

export class VaultSops implements SopsVaultClient {
  constructor(readonly vault: VaultTransit) {}

  async encrypt(key: TransitKey, plaintext: Buffer): Promise<string> {
    check(key);
    return (await this.vault.encrypt(key, plaintext)).ciphertext;
  }

  async decrypt(key: VaultKeyEntry): Promise<Buffer> {
    check(key);
    if (ciphertextVersion(key.enc) === undefined) {
      throw new KeywardError(ErrorCode.Malformed, `the hc_vault entry for ${transitUri(key)} holds no vault:vN: data key`, 'the file was damaged or edited by hand');
    }
    return this.vault.decrypt(key, key.enc);
  }
}
