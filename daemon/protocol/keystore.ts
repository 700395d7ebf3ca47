// The keystore/* methods: where keys live, and unlocking a passphrase-protected keystore.
// Declared here, spread into `methods` in index.ts; served by daemon/keystore/handlers.ts.
import { z } from 'zod';
import type { KeystoreStatus } from './shapes';

export interface KeystoreResult {
  keystore: KeystoreStatus;
}

export const keystoreMethods = {
  /** Chooses where keys live; allowed only while the keystore holds no key. */
  keystoreUse: {
    name: 'keystore/use',
    params: z.strictObject({ backend: z.enum(['keychain', 'file']) }),
    result: {} as KeystoreResult,
  },
  keystoreUnlock: {
    name: 'keystore/unlock',
    params: z.strictObject({ passphrase: z.string().min(1).max(1024) }),
    result: {} as KeystoreResult,
  },
} as const;
