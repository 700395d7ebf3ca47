import type { PluginSession } from '../age/plugin-context';
import {
  PluginEnvironmentRequest,
  PluginPromptRequest,
  PluginWaitingNotification,
  type PluginPromptParams,
  type PluginPromptResult,
  type PluginWaitingParams,
} from '../protocol/plugins';

// The plugin session of a request the daemon serves: what its plugins ask goes back to the
// client that sent the request, as `plugins/prompt` requests (one at a time), their silences
// as `plugins/waiting` notifications, and they run in the environment the client gives
// (`plugins/environment`), as if the client had run age itself. A client that handles none of
// these (an old one, a script) leaves plugins the daemon's environment and nobody to ask.

/** The two directions of the connection a request came in on. */
export interface ClientChannel {
  /** A request to the client; rejects when the client does not handle it or is gone. */
  request?: (method: string, params: unknown) => Promise<unknown>;
  notify?: (method: string, params: unknown) => Promise<void>;
}

/** An environment a client may send: at most this many variables, each at most this long. */
const MAX_ENV_VARS = 4096;
const MAX_ENV_VALUE = 128 * 1024;

export function pluginSessionFor(channel: ClientChannel): PluginSession {
  const request = channel.request;
  const notify = channel.notify;
  if (!request) return { noAsk: 'nobody can be asked here' };
  let queue: Promise<unknown> = Promise.resolve();
  let env: Promise<NodeJS.ProcessEnv> | undefined;
  return {
    // One question at a time, even when several plugins of one operation ask at once.
    ask: (p: PluginPromptParams) => {
      const answer = queue.then(() => request(PluginPromptRequest, p)).then(promptResult, (): PluginPromptResult => ({ ok: false, reason: 'this client cannot ask you' }));
      queue = answer.catch(() => undefined);
      return answer;
    },
    ...(notify ? { waiting: (plugin: string, waiting: boolean) => void notify(PluginWaitingNotification, { plugin, waiting } satisfies PluginWaitingParams).catch(() => undefined) } : {}),
    env: () => (env ??= request(PluginEnvironmentRequest, {}).then(environment, () => process.env)),
  };
}

/** A client's answer, checked: anything else counts as "could not ask". */
function promptResult(r: unknown): PluginPromptResult {
  const o = (r ?? {}) as Record<string, unknown>;
  if (o.ok === true) {
    if (o.value !== undefined && (typeof o.value !== 'string' || o.value.length > MAX_ENV_VALUE)) return { ok: false, reason: 'the client sent an unusable answer' };
    if (o.yes !== undefined && typeof o.yes !== 'boolean') return { ok: false, reason: 'the client sent an unusable answer' };
    return { ok: true, ...(typeof o.value === 'string' ? { value: o.value } : {}), ...(typeof o.yes === 'boolean' ? { yes: o.yes } : {}) };
  }
  const reason = typeof o.reason === 'string' && o.reason ? o.reason.slice(0, 200) : 'the client could not ask you';
  return { ok: false, reason };
}

/** The client's environment, checked; the daemon's own when the answer is not one. */
function environment(r: unknown): NodeJS.ProcessEnv {
  const env = (r as { env?: unknown } | null)?.env;
  if (typeof env !== 'object' || env === null || Array.isArray(env)) return process.env;
  const entries = Object.entries(env as Record<string, unknown>);
  if (entries.length > MAX_ENV_VARS) return process.env;
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of entries) {
    if (typeof v !== 'string' || v.length > MAX_ENV_VALUE || k.includes('=') || k.includes('\0') || v.includes('\0')) continue;
    out[k] = v;
  }
  return out;
}
