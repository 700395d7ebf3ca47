// The wire contract for age plugins' interactive requests (c2sp.org/age-plugin, phase 2 of
// recipient-v1 and identity-v1). The daemon runs the plugins; what a plugin asks of the user
// goes to the client whose request started the operation, as requests and a notification
// *from the daemon to the client*. A client that cannot ask (no terminal, a hook) answers
// `{ ok: false, reason }`, and one that does not handle the method at all is treated the same.
// Plain data only (no zod): the CLI imports it at start.

/**
 * Sent by: the daemon, to the client that started the operation (a request).
 * `message` is the plugin's text, to show as it is (after removing control characters).
 */
export const PluginPromptRequest = 'plugins/prompt';

export type PluginPromptKind =
  /** `msg`: show it (a hint such as "touch your YubiKey"); answer ok once shown. */
  | 'message'
  /** `confirm`: two choices, `yes` and (optional) `no`. */
  | 'confirm'
  /** `request-public`: a value that is not secret (an account name, a serial). */
  | 'public'
  /** `request-secret`: a PIN or passphrase; masked as it is typed, never stored or logged. */
  | 'secret';

export interface PluginPromptParams {
  /** The plugin's name (`yubikey` for age-plugin-yubikey). */
  plugin: string;
  kind: PluginPromptKind;
  message: string;
  /** `confirm` only: the labels of the two choices (`no` may be absent: one button). */
  yes?: string;
  no?: string;
}

export type PluginPromptResult =
  /** `value`: what was typed (`public`, `secret`); `yes`: the choice (`confirm`). */
  | { ok: true; value?: string; yes?: boolean }
  /** Nobody could be asked, or the user dismissed it. `reason` ends the sentence "...but REASON". */
  | { ok: false; reason: string };

/**
 * Sent by: the daemon, to the client that started the operation (a notification). A plugin has
 * been silent for a while, most likely waiting for a touch or a PIN on the device itself;
 * `waiting: false` when it speaks again or ends. Clients show it in the operation's progress.
 */
export const PluginWaitingNotification = 'plugins/waiting';

export interface PluginWaitingParams {
  plugin: string;
  waiting: boolean;
}

/**
 * Sent by: the daemon, to the client that started the operation (a request), once, before the
 * first plugin of that operation starts. The answer is the environment plugins run in and whose
 * PATH finds them, as if the client ran `age` itself (`AGE_PASSPHRASE` for batchpass, a plugin's
 * own settings). A client that does not answer leaves plugins the daemon's own environment.
 */
export const PluginEnvironmentRequest = 'plugins/environment';

export interface PluginEnvironmentResult {
  env: Record<string, string>;
}
