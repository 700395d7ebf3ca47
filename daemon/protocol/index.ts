// The daemon's wire contract: every JSON-RPC method is declared here once, with its params
// schema (validated by the daemon before any work; unknown fields are rejected) and its
// result type. The CLI and the extension import this file and nothing else of the daemon.
import { z } from 'zod';

export * from './errors';

export const PROTOCOL_VERSION = 1;

// ---- shared shapes -------------------------------------------------------------------------

const MAX_PATH = 4096;
const MAX_NAME = 64;

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
  .regex(/^age1[0-9a-z]+$/, 'a recipient starts with age1 (X25519) or age1pq1 (post-quantum)');

export const KeyStates = ['pre-activation', 'active', 'suspended', 'deactivated', 'compromised', 'destroyed'] as const;
export const KeyState = z.enum(KeyStates);
export type KeyState = z.infer<typeof KeyState>;

export type KeyKind = 'x25519' | 'mlkem768x25519';

export interface KeyVersionInfo {
  /** `name@vN` */
  ref: string;
  name: string;
  version: number;
  kind: KeyKind;
  state: KeyState;
  recipient: string;
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
  outcome: 'ok' | 'refused' | 'failed';
  key?: string;
  path?: string;
  detail?: string;
  client?: string;
}

// ---- methods -------------------------------------------------------------------------------

const empty = z.strictObject({});

/**
 * Each method: its wire name, a params schema and (as a type) its result.
 * Sent by: the CLI and the extension (clients) to the daemon, unless noted.
 */
export const methods = {
  /** First request on every connection; until it succeeds, every other request is refused. */
  authenticate: {
    name: 'session/authenticate',
    params: z.strictObject({
      token: z.string().min(1).max(256),
      client: z.string().min(1).max(64),
      protocolVersion: z.number().int().min(1).max(1000),
    }),
    result: {} as { daemonVersion: string; protocolVersion: number },
  },
  status: {
    name: 'daemon/status',
    params: empty,
    result: {} as {
      pid: number;
      version: string;
      home: string;
      socket: string;
      startedAt: string;
      keystore: KeystoreStatus;
      keys: number;
    },
  },
  shutdown: {
    name: 'daemon/shutdown',
    params: empty,
    result: {} as Record<string, never>,
  },
  /** Chooses where keys live; allowed only while the keystore holds no key. */
  keystoreUse: {
    name: 'keystore/use',
    params: z.strictObject({ backend: z.enum(['keychain', 'file']) }),
    result: {} as { keystore: KeystoreStatus },
  },
  keystoreUnlock: {
    name: 'keystore/unlock',
    params: z.strictObject({ passphrase: z.string().min(1).max(1024) }),
    result: {} as { keystore: KeystoreStatus },
  },
  keysList: {
    name: 'keys/list',
    params: z.strictObject({ includeDestroyed: z.boolean().optional() }),
    result: {} as { keys: KeyInfo[] },
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
    result: {} as { key: KeyVersionInfo },
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
    result: {} as { imported: KeyVersionInfo[] },
  },
  keysExport: {
    name: 'keys/export',
    params: z.strictObject({ ref: KeyRef, secret: z.boolean().optional() }),
    result: {} as { ref: string; recipient: string; secret?: string },
  },
  keysRotate: {
    name: 'keys/rotate',
    params: z.strictObject({ name: KeyName, cryptoperiodDays: z.number().int().min(1).max(36500).optional() }),
    result: {} as { key: KeyVersionInfo; previous: KeyVersionInfo },
  },
  keysSetState: {
    name: 'keys/setState',
    params: z.strictObject({ ref: KeyRef, state: KeyState.exclude(['destroyed']), reason: z.string().max(500).optional() }),
    result: {} as { key: KeyVersionInfo },
  },
  keysDestroy: {
    name: 'keys/destroy',
    params: z.strictObject({ ref: KeyRef }),
    result: {} as { key: KeyVersionInfo },
  },
  ageEncrypt: {
    name: 'age/encrypt',
    params: z
      .strictObject({
        input: AbsPath,
        output: AbsPath,
        recipients: z.array(RecipientString).max(256).default([]),
        keys: z.array(KeyRef).max(256).default([]),
        armor: z.boolean().optional(),
        overwrite: z.boolean().optional(),
      })
      .refine((p) => p.recipients.length + p.keys.length > 0, 'give at least one recipient (-r) or key (-k)'),
    result: {} as { output: string; bytesIn: number; bytesOut: number; recipients: string[] },
  },
  ageDecrypt: {
    name: 'age/decrypt',
    params: z.strictObject({
      input: AbsPath,
      /** A file to write; absent means stream the plaintext back as `age/data` notifications. */
      output: AbsPath.optional(),
      overwrite: z.boolean().optional(),
    }),
    result: {} as { output?: string; bytesOut: number; key: string },
  },
  ageInspect: {
    name: 'age/inspect',
    params: z.strictObject({ input: AbsPath }),
    result: {} as {
      armored: boolean;
      stanzas: { type: string; args: string[] }[];
      headerSize: number;
      payloadSize: number;
      /** Keys of this keystore that can decrypt it, by ref (found without decrypting the payload). */
      keys: string[];
    },
  },
  auditShow: {
    name: 'audit/show',
    params: z.strictObject({ limit: z.number().int().min(1).max(100000).optional() }),
    result: {} as { records: AuditRecordView[] },
  },
  auditVerify: {
    name: 'audit/verify',
    params: empty,
    result: {} as { ok: boolean; records: number; problems: { seq?: number; line: number; problem: string }[] },
  },
} as const;

/** Notification from the daemon to the client that asked for `age/decrypt` without an output. */
export const AgeDataNotification = 'age/data';
export interface AgeDataParams {
  /** The request this chunk belongs to (the client's request id, as a string). */
  stream: string;
  /** Base64 of an authenticated plaintext chunk. */
  data: string;
}

export type Methods = typeof methods;
export type MethodKey = keyof Methods;
export type ParamsOf<K extends MethodKey> = z.input<Methods[K]['params']>;
export type ValidParamsOf<K extends MethodKey> = z.output<Methods[K]['params']>;
export type ResultOf<K extends MethodKey> = Methods[K]['result'];

export const methodsByName: ReadonlyMap<string, MethodKey> = new Map(
  (Object.keys(methods) as MethodKey[]).map((k) => [methods[k].name, k]),
);

/**
 * Checks params against the method's schema. Returns the parsed params or a one-line reason
 * naming the field, suitable for an InvalidParams error (never echoes values).
 */
export function validateParams<K extends MethodKey>(
  key: K,
  params: unknown,
): { ok: true; value: ValidParamsOf<K> } | { ok: false; reason: string } {
  const r = methods[key].params.safeParse(params ?? {});
  if (r.success) return { ok: true, value: r.data as ValidParamsOf<K> };
  const issue = r.error.issues[0];
  if (!issue) return { ok: false, reason: 'invalid params' };
  const where = issue.path.length ? issue.path.join('.') : 'params';
  if (issue.code === 'unrecognized_keys') return { ok: false, reason: `unknown field(s): ${issue.keys.join(', ')}` };
  return { ok: false, reason: `${where}: ${issue.message}` };
}
