// The daemon's wire contract: every JSON-RPC method is declared here once, with its params
// schema (validated by the daemon before any work; unknown fields are rejected) and its
// result type. The CLI and the extension import this file and nothing else of the daemon.
import { z } from 'zod';
import { AbsPath, KeyName, KeyRef, KeyState, PluginName, RecipientString, type AuditRecordView, type KeyInfo, type KeystoreStatus, type KeyVersionInfo } from './shapes';

export * from './errors';

export const PROTOCOL_VERSION = 1;

export * from './shapes';
import { scanMethods } from './scan';
import { workspaceMethods } from './workspace';
import { jobMethods } from './jobs';
import { sopsMethods } from './sops';
import { teamMethods } from './team';
import { trustMethods } from './trust';
import { runtimeMethods } from './runtime';
import { execMethods } from './exec';
import { auditMethods, AuditHeadSchema } from './audit';
import { artifactMethods } from './artifacts';

export * from './jobs';
export * from './workspace';
export * from './sops';
export * from './team';
export * from './trust';
export * from './runtime';
export * from './exec';
export * from './audit';
export * from './artifacts';

// ---- methods -------------------------------------------------------------------------------

const empty = z.strictObject({});

/**
 * Each method: its wire name, a params schema and (as a type) its result.
 * Sent by: the CLI and the extension (clients) to the daemon, unless noted.
 */
const coreMethods = {
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
    params: z.strictObject({
      name: KeyName,
      cryptoperiodDays: z.number().int().min(1).max(36500).optional(),
      /** Keep the previous version active until artifacts moved (then set it deactivated). */
      keepPrevious: z.boolean().optional(),
    }),
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
        /** Plugins to encrypt to without an identity file (`age -e -j NAME`, e.g. batchpass). */
        plugins: z.array(PluginName).max(16).default([]),
        armor: z.boolean().optional(),
        overwrite: z.boolean().optional(),
      })
      .refine((p) => p.recipients.length + p.keys.length + p.plugins.length > 0, 'give at least one recipient (-r), key (-k) or plugin (-j)'),
    result: {} as { output: string; bytesIn: number; bytesOut: number; recipients: string[] },
  },
  ageDecrypt: {
    name: 'age/decrypt',
    params: z.strictObject({
      input: AbsPath,
      /** A file to write; absent means stream the plaintext back as `age/data` notifications. */
      output: AbsPath.optional(),
      overwrite: z.boolean().optional(),
      /** Decrypt with these plugins instead of the keystore (`age -d -j NAME`, e.g. batchpass). */
      plugins: z.array(PluginName).min(1).max(16).optional(),
    }),
    /** `key`: the key version that opened it, or `plugin:NAME` for -j. */
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
    /** `head`: a head saved elsewhere (audit/head), which the log must still hold unchanged. */
    params: z.strictObject({ head: AuditHeadSchema.optional() }),
    result: {} as { ok: boolean; records: number; problems: { seq?: number; line: number; problem: string }[] },
  },
} as const;

/**
 * Every method of the daemon. Each area declares its methods in its own file of this folder
 * and is spread in here, so that a method name is declared exactly once.
 */
export const methods = {
  ...coreMethods,
  ...scanMethods,
  ...workspaceMethods,
  ...sopsMethods,
  ...teamMethods,
  ...trustMethods,
  ...jobMethods,
  ...runtimeMethods,
  ...execMethods,
  ...auditMethods,
  ...artifactMethods,
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
