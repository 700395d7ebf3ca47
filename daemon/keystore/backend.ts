import type { KeystoreStatus } from '../protocol';

/**
 * Where private keys live. Implementations hold secrets only long enough to hand them to the
 * keystore; they never log or return them anywhere else. Accounts are opaque strings chosen by
 * the keystore (`<storeId>/<name>@v<N>`).
 */
export interface SecretBackend {
  readonly kind: KeystoreStatus['backend'];
  /** Whether the backend can be used now, and if not, why and what to do. Never throws. */
  status(): Promise<KeystoreStatus>;
  /** The secret, or null when there is none for this account. Throws when the store fails. */
  get(account: string): Promise<string | null>;
  set(account: string, secret: string): Promise<void>;
  /** True when a secret was deleted, false when there was none. Throws when the store fails. */
  delete(account: string): Promise<boolean>;
  /** Accounts present under this store's prefix. */
  list(prefix: string): Promise<string[]>;
  /** Backends that need a passphrase (the file keystore) implement this. */
  unlock?(passphrase: string): Promise<void>;
}
