// The age/* methods: files encrypted and decrypted as `age` does, with the keystore's keys (or
// plugins), and what a file's header says. Declared here, spread into `methods` in index.ts;
// served by daemon/age/handlers.ts.
import { z } from 'zod';
import { AbsPath, KeyRef, PluginName, RecipientString } from './shapes';

export interface AgeEncryptResult {
  output: string;
  bytesIn: number;
  bytesOut: number;
  recipients: string[];
}

export interface AgeDecryptResult {
  output?: string;
  bytesOut: number;
  /** The key version that opened it, or `plugin:NAME` for -j. */
  key: string;
}

export interface AgeInspectResult {
  armored: boolean;
  stanzas: { type: string; args: string[] }[];
  headerSize: number;
  payloadSize: number;
  /** Keys of this keystore that can decrypt it, by ref (found without decrypting the payload). */
  keys: string[];
}

export interface AgeDecryptRangeResult {
  bytesOut: number;
  key: string;
  output?: string;
}

export const ageMethods = {
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
    result: {} as AgeEncryptResult,
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
    result: {} as AgeDecryptResult,
  },
  ageInspect: {
    name: 'age/inspect',
    params: z.strictObject({ input: AbsPath }),
    result: {} as AgeInspectResult,
  },
  /** Decrypts only the chunks covering [start, end) of a binary age file. */
  ageDecryptRange: {
    name: 'age/decryptRange',
    params: z
      .strictObject({
        input: AbsPath,
        start: z.number().int().min(0),
        end: z.number().int().min(0),
        /** A file to write; absent means stream back as `age/data` notifications. */
        output: AbsPath.optional(),
        overwrite: z.boolean().optional(),
      })
      .refine((p) => p.end >= p.start, 'end must not be before start'),
    result: {} as AgeDecryptRangeResult,
  },
} as const;

/** Notification from the daemon to the client that asked for `age/decrypt` or `age/decryptRange` without an output. */
export const AgeDataNotification = 'age/data';
export interface AgeDataParams {
  /** The request this chunk belongs to (the client's request id, as a string). */
  stream: string;
  /** Base64 of an authenticated plaintext chunk. */
  data: string;
}
