import { AsyncLocalStorage } from 'node:async_hooks';
import type { PluginPromptParams, PluginPromptResult } from '../protocol/plugins';
import type { Stanza } from './header';

// Who answers a plugin's questions, and in which environment plugins run, for the operation in
// progress. Recipients and identities travel through Keyward as strings (a recipient list, an
// sops file's metadata, a team policy) down to the one place that wraps or unwraps a file key;
// rather than thread a prompter through every layer in between, the operation's entry point
// (the daemon's dispatch, an in-process CLI call) runs it inside a session, and the plugin
// client looks the session up. Work started inside (a job) keeps the session of the request
// that started it; a job resumed after a restart has none, and a plugin that must ask then
// fails with an error that says what it wanted.

export interface PluginSession {
  /** Asks the user on the plugin's behalf; absent when nobody can be asked. */
  ask?: (p: PluginPromptParams) => Promise<PluginPromptResult>;
  /** Tells the client a plugin has been silent a while (waiting for a touch or a PIN on the device). */
  waiting?: (plugin: string, waiting: boolean) => void;
  /** The environment plugins run in (and whose PATH finds them); default: this process's. */
  env?: () => Promise<NodeJS.ProcessEnv>;
  /** Why nobody can be asked, ending "...but ..." (default: "nobody can be asked here"). */
  noAsk?: string;
  /** In a job: one file's unwrap is batched with the job's next files (plugin-batch.ts). */
  batch?: PluginBatch;
}

/** What unwrapWithPlugin needs of a batch (plugin-batch.ts's UnwrapBatch). */
export interface PluginBatch {
  unwrap(
    name: string,
    identities: readonly string[],
    stanzas: readonly Stanza[],
    session: (files: readonly (readonly Stanza[])[]) => Promise<{ key?: Uint8Array; error?: Error }[]>,
  ): Promise<Uint8Array | undefined>;
}

const storage = new AsyncLocalStorage<PluginSession>();

/** Runs `fn` with `session` answering the plugins it starts. */
export function withPluginSession<T>(session: PluginSession, fn: () => T): T {
  return storage.run(session, fn);
}

/** The session of the operation in progress, or an empty one (nobody to ask, this process's environment). */
export function currentPluginSession(): PluginSession {
  return storage.getStore() ?? {};
}

/** Runs `fn` with nobody to ask (a background job that must not reach the client that started it). */
export function withoutPrompts<T>(noAsk: string, fn: () => T): T {
  const s = currentPluginSession();
  return storage.run({ ...(s.env ? { env: s.env } : {}), ...(s.waiting ? { waiting: s.waiting } : {}), ...(s.batch ? { batch: s.batch } : {}), noAsk }, fn);
}

/** Milliseconds a plugin may stay silent (not counting the time the user takes to answer it). */
export function pluginTimeoutMs(): number {
  const v = Number(process.env.KEYWARD_PLUGIN_TIMEOUT_MS);
  return Number.isFinite(v) && v > 0 ? v : DEFAULT_TIMEOUT_MS;
}

/** Long enough for a touch, a PIN typed on a device, a confirmation on a hardware wallet. */
const DEFAULT_TIMEOUT_MS = 120_000;

/** After this much silence the client is told the plugin is waiting (a touch, a PIN on the device). */
export function pluginWaitingMs(): number {
  const v = Number(process.env.KEYWARD_PLUGIN_WAITING_MS);
  return Number.isFinite(v) && v > 0 ? v : DEFAULT_WAITING_MS;
}

const DEFAULT_WAITING_MS = 3_000;
