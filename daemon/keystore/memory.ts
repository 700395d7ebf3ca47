import type { KeystoreStatus } from '../protocol';
import type { SecretBackend } from './backend';

/** Keys in process memory only: for tests that run the daemon with no OS keychain. */
export class MemoryBackend implements SecretBackend {
  readonly kind = 'memory' as const;
  private readonly secrets = new Map<string, string>();

  status(): Promise<KeystoreStatus> {
    return Promise.resolve({ backend: 'memory', available: true, detail: 'keys are held in memory and lost when the daemon stops' });
  }
  get(account: string): Promise<string | null> {
    return Promise.resolve(this.secrets.get(account) ?? null);
  }
  set(account: string, secret: string): Promise<void> {
    this.secrets.set(account, secret);
    return Promise.resolve();
  }
  delete(account: string): Promise<boolean> {
    return Promise.resolve(this.secrets.delete(account));
  }
  list(prefix: string): Promise<string[]> {
    return Promise.resolve([...this.secrets.keys()].filter((a) => a.startsWith(prefix)));
  }
}
