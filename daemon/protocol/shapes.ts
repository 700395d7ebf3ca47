// Shapes shared by the method declarations of every area (core, artifacts, scan, ...).
import { z } from 'zod';

export const MAX_PATH = 4096;
export const MAX_NAME = 64;

/** An absolute file path; the client resolves relative paths before sending. */
export const AbsPath = z
  .string()
  .min(1)
  .max(MAX_PATH)
  .refine((p) => !p.includes('\0'), 'path contains a NUL byte')
  .refine((p) => p.startsWith('/') || /^[A-Za-z]:[\\/]/.test(p) || p.startsWith('\\\\'), 'path must be absolute');

/** A key name: lowercase letters, digits, dot, dash, underscore; starts with a letter or digit. */
export const KeyName = z
  .string()
  .max(MAX_NAME)
  .regex(/^[a-z0-9][a-z0-9._-]*$/, 'a key name is lowercase letters, digits, ".", "-" or "_", starting with a letter or digit');

/** `name` (the current version) or `name@vN`. */
export const KeyRef = z
  .string()
  .max(MAX_NAME + 12)
  .regex(/^[a-z0-9][a-z0-9._-]*(@v[1-9][0-9]{0,5})?$/, 'a key reference is NAME or NAME@vN');

/** A public age recipient string. Its syntax is checked again by the age engine. */
export const RecipientString = z
  .string()
  .min(4)
  .max(4096)
  .regex(/^age1[0-9a-z._+-]+$/, 'a recipient starts with age1 (X25519), age1pq1 (post-quantum) or age1NAME1 (an age plugin), in lower case');

/** An age plugin's name: `age-plugin-NAME` on PATH (c2sp.org/age-plugin). */
export const PluginName = z.string().min(1).max(MAX_NAME).regex(/^[A-Za-z0-9._+-]+$/, 'a plugin name is letters, digits and . _ + - (the NAME of age-plugin-NAME)');

export const KeyStates = ['pre-activation', 'active', 'suspended', 'deactivated', 'compromised', 'destroyed'] as const;
export const KeyState = z.enum(KeyStates);
export type KeyState = z.infer<typeof KeyState>;

/** `plugin`: an age plugin identity (`AGE-PLUGIN-NAME-1...`, hardware or other), used through `age-plugin-NAME`. */
export type KeyKind = 'x25519' | 'mlkem768x25519' | 'plugin';

export interface KeyVersionInfo {
  /** `name@vN` */
  ref: string;
  name: string;
  version: number;
  kind: KeyKind;
  state: KeyState;
  /**
   * What to encrypt to. Empty for a plugin identity whose recipient is unknown (it did not come
   * with its identity file): files are then encrypted to the identity itself, through its plugin.
   */
  recipient: string;
  /** Kind `plugin`: the plugin's name (`yubikey` for age-plugin-yubikey). */
  plugin?: string;
  createdAt: string;
  activatedAt?: string;
  stateChangedAt: string;
  /** Days after activation when the key is due for rotation. */
  cryptoperiodDays: number;
  /** ISO date when rotation is due (active keys only). */
  rotationDueAt?: string;
  /** `ok`, `due-soon` (within 30 days) or `due`. */
  rotation?: 'ok' | 'due-soon' | 'due';
  /** `imported` or `generated`. */
  origin: 'generated' | 'imported';
}

export interface KeyInfo {
  name: string;
  current?: KeyVersionInfo;
  versions: KeyVersionInfo[];
}

export interface KeystoreStatus {
  backend: 'keychain' | 'file' | 'memory';
  available: boolean;
  locked?: boolean;
  /** Why it is unavailable and what to do; never a secret. */
  detail?: string;
}

export interface AuditRecordView {
  seq: number;
  ts: string;
  event: string;
  /** `cancelled`: the user stopped the work; what it had written was removed. */
  outcome: 'ok' | 'refused' | 'failed' | 'cancelled';
  key?: string;
  path?: string;
  detail?: string;
  client?: string;
}

