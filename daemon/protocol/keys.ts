// The keys/* methods: identities in the keystore and their lifecycle (NIST SP 800-57 states).
// Declared here, spread into `methods` in index.ts; served by daemon/keystore/handlers.ts.
import { z } from 'zod';
import { AbsPath, KeyName, KeyRef, KeyState, type KeyInfo, type KeyVersionInfo } from './shapes';

export interface KeysListResult {
  keys: KeyInfo[];
}

/** One key version, as it is after the call (generate, setState, destroy). */
export interface KeyResult {
  key: KeyVersionInfo;
}

export interface KeysImportResult {
  imported: KeyVersionInfo[];
}

export interface KeysExportResult {
  ref: string;
  recipient: string;
  /** The identity (AGE-SECRET-KEY-...), only when asked for; audited. */
  secret?: string;
}

export interface KeysRotateResult {
  key: KeyVersionInfo;
  previous: KeyVersionInfo;
}

export const keysMethods = {
  keysList: {
    name: 'keys/list',
    params: z.strictObject({ includeDestroyed: z.boolean().optional() }),
    result: {} as KeysListResult,
  },
  keysGenerate: {
    name: 'keys/generate',
    params: z.strictObject({
      name: KeyName,
      pq: z.boolean().optional(),
      cryptoperiodDays: z.number().int().min(1).max(36500).optional(),
      /** Create in pre-activation; `keys state NAME@v1 active` activates it. */
      preActivation: z.boolean().optional(),
    }),
    result: {} as KeyResult,
  },
  keysImport: {
    name: 'keys/import',
    params: z
      .strictObject({
        name: KeyName,
        /** An age identity file to read (age-keygen output, sops keys.txt). */
        path: AbsPath.optional(),
        /** The identity file's text, when it comes from stdin. */
        text: z.string().max(1024 * 1024).optional(),
        cryptoperiodDays: z.number().int().min(1).max(36500).optional(),
      })
      .refine((p) => (p.path === undefined) !== (p.text === undefined), 'give exactly one of path or text'),
    result: {} as KeysImportResult,
  },
  keysExport: {
    name: 'keys/export',
    params: z.strictObject({ ref: KeyRef, secret: z.boolean().optional() }),
    result: {} as KeysExportResult,
  },
  keysRotate: {
    name: 'keys/rotate',
    params: z.strictObject({
      name: KeyName,
      cryptoperiodDays: z.number().int().min(1).max(36500).optional(),
      /** Keep the previous version active until artifacts moved (then set it deactivated). */
      keepPrevious: z.boolean().optional(),
    }),
    result: {} as KeysRotateResult,
  },
  keysSetState: {
    name: 'keys/setState',
    params: z.strictObject({ ref: KeyRef, state: KeyState.exclude(['destroyed']), reason: z.string().max(500).optional() }),
    result: {} as KeyResult,
  },
  keysDestroy: {
    name: 'keys/destroy',
    params: z.strictObject({ ref: KeyRef }),
    result: {} as KeyResult,
  },
} as const;
