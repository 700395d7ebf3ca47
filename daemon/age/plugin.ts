import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fsp, constants as fsc } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ErrorCode } from '../protocol/errors';
import type { PluginPromptKind, PluginPromptParams, PluginPromptResult } from '../protocol/plugins';
import { KeywardError } from '../util/errors';
import { decodeRaw } from './base64';
import { decodeBech32, encodeBech32 } from './bech32';
import { FILE_KEY_SIZE, MAX_STANZAS, type Stanza } from './header';
import { currentPluginSession, pluginTimeoutMs, pluginWaitingMs, type PluginSession } from './plugin-context';
import { PluginIpcError, StanzaReader, writeStanza, type IpcStanza } from './plugin-ipc';

// The client side of the age plugin protocol (c2sp.org/age-plugin): plugin recipients
// (`age1NAME1...`) and identities (`AGE-PLUGIN-NAME-1...`), the binary `age-plugin-NAME` found on
// PATH as age finds it, and the two state machines: recipient-v1 wraps file keys, identity-v1
// unwraps them. Stanzas pass through unchanged in both directions. Every exchange is bounded
// (plugin-ipc.ts: sizes; pluginTimeoutMs: silence), a plugin that fails in any way is killed and
// reported with its name, and what it wants to ask goes to the operation's session
// (plugin-context.ts). Nothing a plugin is given or returns is logged; what it says reaches the
// user only in an error's hint, never in its message (which the audit log records).

/** A plugin name (c2sp.org/age-plugin: `1*(ALPHA / DIGIT / "-" / "_" / "." / "+")`). */
const NAME = /^[A-Za-z0-9._+-]+$/;
/** How long a plugin may take to exit once told the session is over. */
const EXIT_GRACE_MS = 3_000;
/** The most a plugin's stderr is kept, for the hint of an error. */
const STDERR_TAIL = 2048;
/** How long the user has to answer a plugin's question. */
const PROMPT_TIMEOUT_MS = 10 * 60_000;

export function isPluginName(name: string): boolean {
  return NAME.test(name);
}

/** `{ name, data }` of an `age1NAME1...` plugin recipient (name lowercase), or null if it is not one. */
export function parsePluginRecipient(s: string): { name: string; data: Uint8Array } | null {
  const d = decodeBech32(s);
  if (!d.ok || !d.hrp.startsWith('age1')) return null;
  const name = d.hrp.slice(4);
  return isPluginName(name) ? { name, data: d.bytes } : null;
}

/** `{ name, data }` of an `AGE-PLUGIN-NAME-1...` identity (name lowercase), or null if it is not one. */
export function parsePluginIdentity(s: string): { name: string; data: Uint8Array } | null {
  if (s !== s.toUpperCase()) return null;
  const d = decodeBech32(s);
  if (!d.ok || !d.hrp.startsWith('age-plugin-') || !d.hrp.endsWith('-')) return null;
  const name = d.hrp.slice('age-plugin-'.length, -1);
  return isPluginName(name) ? { name, data: d.bytes } : null;
}

/**
 * A plugin identity's fingerprint: SHA-256 of it, domain-separated. It names the identity (in a
 * file's record of whom its key is wrapped to) without being it: for an identity that holds a
 * key, the key cannot be found from it.
 */
export function identityFingerprint(identity: string): string {
  return createHash('sha256').update('keyward.dev/identity-target\0').update(identity).digest('hex');
}

/** The identity `-j NAME` stands for: the plugin's identity with no data (as age's NewIdentityWithoutData). */
export function pluginIdentityWithoutData(name: string): string {
  if (!isPluginName(name)) {
    throw new KeywardError(ErrorCode.InvalidInput, 'invalid plugin name', 'a plugin name is letters, digits and . _ + - (age-plugin-NAME)');
  }
  return encodeBech32(`age-plugin-${name.toLowerCase()}-`, new Uint8Array(0)).toUpperCase();
}

/**
 * The absolute path of `age-plugin-NAME` on `env.PATH`, the first match as a shell would find
 * it. As age (which uses Go's execabs): directories that are not absolute, the empty entry
 * included, are never searched, so a plugin cannot be planted in the working directory.
 * Throws NotFound naming the binary.
 */
export async function findPlugin(name: string, env: NodeJS.ProcessEnv): Promise<string> {
  if (!isPluginName(name) || name === '.' || name === '..') throw new KeywardError(ErrorCode.InvalidInput, 'invalid plugin name');
  const binary = `age-plugin-${name}`;
  const exts = process.platform === 'win32' ? ['', ...(env.PATHEXT ?? '.COM;.EXE;.BAT;.CMD').split(';').filter(Boolean)] : [''];
  for (const dir of (env.PATH ?? env.Path ?? '').split(path.delimiter)) {
    if (!dir || !path.isAbsolute(dir)) continue;
    for (const ext of exts) {
      const candidate = path.join(dir, binary + ext);
      try {
        const st = await fsp.stat(candidate);
        if (!st.isFile()) continue;
        if (process.platform !== 'win32') await fsp.access(candidate, fsc.X_OK);
        return candidate;
      } catch {
        // not here
      }
    }
  }
  throw new KeywardError(
    ErrorCode.NotFound,
    `plugin ${binary} was not found`,
    `install the ${name} age plugin so that ${binary} is on the PATH (the PATH of the command that asked; for background work, the daemon's)`,
  );
}

// ---- wrapping (recipient-v1) ---------------------------------------------------------------

/** What a plugin wraps file keys to: a recipient string, or an identity (as `age -e -i`/`-j`). */
export interface WrapTarget {
  kind: 'recipient' | 'identity';
  encoding: string;
}

export interface WrapResult {
  /** The stanzas for each file key, in the order of the keys, as the plugin wrote them. */
  stanzas: Stanza[][];
  /** The labels the plugin gave its stanzas (empty when it sent none). */
  labels: string[];
}

/**
 * Wraps `fileKeys` to every target of plugin `name` in one recipient-v1 session. Throws
 * PluginFailed when the plugin fails, refuses a target or breaks the protocol; NotFound when it
 * is not installed. Each file key gets at least one stanza, or this throws.
 */
export async function wrapWithPlugin(name: string, targets: readonly WrapTarget[], fileKeys: readonly Uint8Array[]): Promise<WrapResult> {
  if (targets.length === 0 || fileKeys.length === 0) throw new KeywardError(ErrorCode.InternalError, 'nothing to wrap');
  return withConnection(name, 'recipient-v1', async (c) => {
    for (const t of targets) await c.send(t.kind === 'recipient' ? 'add-recipient' : 'add-identity', [t.encoding]);
    for (const k of fileKeys) {
      if (k.length !== FILE_KEY_SIZE) throw new KeywardError(ErrorCode.InternalError, 'file key must be 16 bytes');
      await c.send('wrap-file-key', [], k);
    }
    await c.send('extension-labels');
    await c.send('done');

    const stanzas: Stanza[][] = fileKeys.map(() => []);
    let labels: string[] | undefined;
    let count = 0;
    for (;;) {
      const s = await c.read();
      if (s.type === 'done') break;
      switch (s.type) {
        case 'recipient-stanza': {
          const index = indexArg(s.args[0]);
          if (s.args.length < 2 || index === null || index >= fileKeys.length) throw c.broke('sent a malformed recipient-stanza');
          if (++count > MAX_STANZAS) throw c.broke(`sent more than ${MAX_STANZAS} stanzas`);
          stanzas[index]!.push({ type: s.args[1]!, args: s.args.slice(2), body: s.body });
          await c.send('ok');
          break;
        }
        case 'labels':
          if (labels !== undefined) throw c.broke('sent its labels twice');
          if (new Set(s.args).size !== s.args.length) throw c.broke('sent a label twice');
          labels = [...s.args];
          await c.send('ok');
          break;
        case 'error':
          await c.send('ok');
          throw c.refused(s, targetsDescribed(targets));
        default:
          await c.interact(s);
      }
    }
    if (stanzas.some((list) => list.length === 0)) {
      throw c.failed(c.unanswered() ?? 'finished without wrapping the file key', 'no stanza came back: the plugin did not wrap the key');
    }
    return { stanzas, labels: labels ?? [] };
  });
}

// ---- unwrapping (identity-v1) --------------------------------------------------------------

/**
 * Tries plugin `name`'s identities on each file's stanzas in one identity-v1 session. Returns,
 * per file, the file key the plugin found or undefined ("not for these identities"); the caller
 * checks each against its header MAC. Throws PluginFailed when the plugin reports an error
 * (a bad identity, a stanza of its type that is malformed, a device that failed) or breaks the
 * protocol, or when it needed to ask the user and nobody could answer; NotFound when it is not
 * installed. Within a job (its plugin session has a batch), one file's unwrap is batched with
 * the job's next files (plugin-batch.ts).
 */
export async function unwrapWithPlugin(name: string, identities: readonly string[], files: readonly (readonly Stanza[])[]): Promise<(Uint8Array | undefined)[]> {
  if (identities.length === 0 || files.length === 0) throw new KeywardError(ErrorCode.InternalError, 'nothing to unwrap');
  const batch = files.length === 1 ? currentPluginSession().batch : undefined;
  if (batch) return [await batch.unwrap(name, identities, files[0]!, (list) => unwrapEach(name, identities, list))];
  const out = await unwrapEach(name, identities, files);
  return out.map((o) => {
    if (o.error) throw o.error;
    return o.key;
  });
}

/** What a session gave for one file: its key, nothing (not for these identities), or why not. */
export interface UnwrapOutcome {
  key?: Uint8Array;
  error?: KeywardError;
}

/**
 * One identity-v1 session over `files`, with an outcome per file: a plugin's error about one
 * file's stanza (`error stanza FILE_INDEX`) fails that file only, as the specification lets the
 * plugin "continue to unwrap stanzas from other files". Errors about an identity, internal ones,
 * a broken protocol or a plugin that could not be started throw for the whole session.
 */
export async function unwrapEach(name: string, identities: readonly string[], files: readonly (readonly Stanza[])[]): Promise<UnwrapOutcome[]> {
  if (identities.length === 0 || files.length === 0) throw new KeywardError(ErrorCode.InternalError, 'nothing to unwrap');
  return withConnection(name, 'identity-v1', async (c) => {
    for (const id of identities) await c.send('add-identity', [id]);
    for (const [i, stanzas] of files.entries()) {
      for (const s of stanzas) await c.send('recipient-stanza', [String(i), s.type, ...s.args], s.body);
    }
    await c.send('done');

    const out: UnwrapOutcome[] = files.map(() => ({}));
    for (;;) {
      const s = await c.read();
      if (s.type === 'done') break;
      switch (s.type) {
        case 'file-key': {
          const index = indexArg(s.args[0]);
          if (s.args.length !== 1 || index === null || index >= files.length) throw c.broke('sent a malformed file-key');
          if (out[index]!.key !== undefined) throw c.broke('sent two file keys for one file');
          if (s.body.length !== FILE_KEY_SIZE) throw c.broke('sent a file key that is not 16 bytes');
          out[index]!.key = s.body;
          await c.send('ok');
          break;
        }
        case 'error': {
          await c.send('ok');
          const index = s.args[0] === 'stanza' ? indexArg(s.args[1]) : null;
          if (index === null || index >= files.length || files.length === 1) throw c.refused(s, 'the identity');
          out[index]!.error ??= c.refused(s, 'the identity');
          break;
        }
        default:
          await c.interact(s);
      }
    }
    // A plugin that wanted to ask and could not may have given up quietly: say so, rather than
    // "no identity matched", which would send the user looking for another key.
    const unanswered = c.unanswered();
    if (unanswered !== undefined) {
      if (files.length === 1 && out[0]!.key === undefined) throw c.failed(unanswered);
      for (const o of out) if (o.key === undefined) o.error ??= c.failed(unanswered);
    }
    return out;
  });
}

// ---- one session with a plugin process -----------------------------------------------------

function indexArg(a: string | undefined): number | null {
  return a !== undefined && /^(0|[1-9][0-9]{0,5})$/.test(a) ? Number(a) : null;
}

function targetsDescribed(targets: readonly WrapTarget[]): string {
  return targets.some((t) => t.kind === 'identity') ? 'an identity it was given' : 'a recipient';
}

/** Starts the plugin, runs `fn` with the connection and always ends the process. */
async function withConnection<T>(name: string, machine: 'recipient-v1' | 'identity-v1', fn: (c: Connection) => Promise<T>): Promise<T> {
  const session = currentPluginSession();
  const env = session.env ? await session.env() : process.env;
  const binary = await findPlugin(name, env);
  const c = new Connection(name, binary, machine, env, session);
  let ok = false;
  try {
    const out = await fn(c);
    ok = true;
    return out;
  } catch (e) {
    throw e instanceof PluginIpcError ? await c.ipcFailed(e) : e;
  } finally {
    await c.end(ok);
  }
}

class Connection {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly reader: StanzaReader;
  private stderr = '';
  private exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private readonly exited: Promise<void>;
  private readonly asked: { kind: PluginPromptKind; message: string; reason: string }[] = [];
  private spawnError: string | undefined;

  constructor(
    readonly name: string,
    binary: string,
    machine: string,
    env: NodeJS.ProcessEnv,
    private readonly session: PluginSession,
  ) {
    // As age does: the working directory is an empty temporary one (plugins must not rely on it).
    this.child = spawn(binary, [`--age-plugin=${machine}`], { cwd: os.tmpdir(), env, stdio: ['pipe', 'pipe', 'pipe'], windowsHide: true });
    this.reader = new StanzaReader(this.child.stdout);
    this.child.stderr.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString('utf8')).slice(-STDERR_TAIL);
    });
    this.child.stdin.on('error', () => undefined); // EPIPE: reported by the write that hit it
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve();
      });
      this.child.once('error', (e) => {
        this.spawnError = (e as NodeJS.ErrnoException).code ?? 'error';
        this.exit ??= { code: null, signal: null };
        this.reader.fail(new PluginIpcError('eof', 'could not be started'));
        resolve();
      });
    });
  }

  send(type: string, args: readonly string[] = [], body?: Uint8Array): Promise<void> {
    return writeStanza(this.child.stdin, type, args, body);
  }

  /** The next stanza of phase 2; tells the client when the plugin has been silent a while. */
  async read(): Promise<IpcStanza> {
    const waiting = this.session.waiting;
    let told = false;
    const timer = waiting
      ? setTimeout(() => {
          told = true;
          waiting(this.name, true);
        }, pluginWaitingMs())
      : undefined;
    try {
      return await this.reader.next(pluginTimeoutMs());
    } finally {
      clearTimeout(timer);
      if (told) waiting?.(this.name, false);
    }
  }

  /** Answers msg, confirm, request-public and request-secret through the session; `unsupported` to anything else. */
  async interact(s: IpcStanza): Promise<void> {
    const kind = COMMANDS.get(s.type);
    if (kind === undefined) {
      await this.send('unsupported');
      return;
    }
    const message = cleanText(Buffer.from(s.body).toString('utf8'));
    const p: PluginPromptParams = { plugin: this.name, kind, message };
    if (kind === 'confirm') {
      if (s.args.length !== 1 && s.args.length !== 2) throw this.broke('sent a malformed confirm request');
      const yes = decodeRaw(s.args[0]!);
      const no = s.args[1] !== undefined ? decodeRaw(s.args[1]) : undefined;
      if (yes === null || no === null) throw this.broke('sent a malformed confirm request');
      p.yes = cleanText(yes.toString('utf8'));
      if (no !== undefined) p.no = cleanText(no.toString('utf8'));
    }
    let answer = this.session.ask ? await askBounded(this.session.ask, p) : { ok: false as const, reason: this.session.noAsk ?? 'nobody can be asked here' };
    if (answer.ok && kind === 'confirm' && answer.yes === false && p.no === undefined) answer = { ok: false, reason: 'you dismissed it' };
    if (!answer.ok) {
      this.asked.push({ kind, message, reason: answer.reason });
      await this.send('fail');
      return;
    }
    if (kind === 'confirm') {
      await this.send('ok', [answer.yes === false ? 'no' : 'yes']);
    } else if (kind === 'message') {
      await this.send('ok');
    } else {
      const value = Buffer.from(answer.value ?? '', 'utf8');
      try {
        await this.send('ok', [], value);
      } finally {
        value.fill(0);
      }
    }
  }

  /** Why the plugin stopped short, when it asked something nobody answered: "needed to ..., but ...". */
  unanswered(): string | undefined {
    const a = this.firstUnanswered();
    return a && `needed to ${WANTED[a.kind]}, but ${a.reason}`;
  }

  /** A request nobody answered: a question before a mere message. */
  private firstUnanswered() {
    return this.asked.find((x) => x.kind !== 'message') ?? this.asked[0];
  }

  /** The plugin broke the protocol. */
  broke(what: string): KeywardError {
    return this.failed(`broke the plugin protocol: it ${what}`);
  }

  /** The plugin sent an `error` command: a target it refused, or an internal failure. */
  refused(s: IpcStanza, target: string): KeywardError {
    const kind = s.args[0];
    const where = kind === 'recipient' || kind === 'identity' ? `refused ${target}` : kind === 'stanza' ? 'could not open a stanza of its type in the file' : 'reported an error';
    const said = cleanText(Buffer.from(s.body).toString('utf8'));
    return this.failed(this.unanswered() ?? `failed: it ${where}`, said ? `it said: "${said}"` : undefined);
  }

  /** A PluginFailed error naming the plugin; the plugin's own words go in the hint only. */
  failed(what: string, said?: string): KeywardError {
    const hints: string[] = [];
    const asked = this.firstUnanswered();
    if (asked) hints.push(`it asked: "${asked.message}"; run the command where you can answer (a terminal, or VS Code)`);
    if (said) hints.push(said);
    const tail = cleanText(this.stderr.trim().split('\n').slice(-3).join(' / '));
    if (tail) hints.push(`its error output: ${tail}`);
    if (!hints.length) hints.push(`check that age-plugin-${this.name} works with age, or see its documentation`);
    return new KeywardError(ErrorCode.PluginFailed, `the ${this.name} plugin ${what}`, `${hints.join('; ')}; nothing was written`);
  }

  async ipcFailed(e: PluginIpcError): Promise<KeywardError> {
    if (e.kind === 'eof' || e.kind === 'closed') {
      // Its output closed: it is exiting; its exit status and last words are worth a moment.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.exited, new Promise<void>((r) => (timer = setTimeout(r, EXIT_GRACE_MS)))]);
      clearTimeout(timer);
      if (this.spawnError !== undefined) return this.failed(`could not be started (${this.spawnError})`);
      const how = this.exit ? (this.exit.signal ? ` (killed by ${this.exit.signal})` : ` (exit code ${this.exit.code})`) : '';
      return this.failed(this.unanswered() ?? `exited before finishing the exchange${how}`);
    }
    if (e.kind === 'timeout') return this.failed(`${e.message}${this.unanswered() ? ` (it ${this.unanswered()})` : ''}`);
    return this.failed(`broke the plugin protocol: it ${e.message}`);
  }

  /**
   * Ends the session. After a good one, stdin is closed and the plugin gets a moment to exit
   * on its own (as age: it may clean up); after a failure, or if it lingers, it is killed.
   */
  async end(ok: boolean): Promise<void> {
    this.child.stdin.end();
    if (this.exit === undefined) {
      if (ok) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([this.exited, new Promise<void>((r) => (timer = setTimeout(r, EXIT_GRACE_MS)))]);
        clearTimeout(timer);
      }
      if (this.exit === undefined) {
        this.child.kill('SIGKILL');
        await this.exited;
      }
    }
    this.child.stdout.destroy();
    this.child.stderr.destroy();
  }
}

const COMMANDS: ReadonlyMap<string, PluginPromptKind> = new Map([
  ['msg', 'message'],
  ['confirm', 'confirm'],
  ['request-public', 'public'],
  ['request-secret', 'secret'],
]);

const WANTED: Record<PluginPromptKind, string> = {
  message: 'show you a message',
  confirm: 'ask you to confirm',
  public: 'ask you for a value',
  secret: 'ask you for a secret (a PIN or passphrase)',
};

/** The client's answer; a client that does not answer within PROMPT_TIMEOUT_MS (or fails) counts as "could not ask". */
async function askBounded(ask: NonNullable<PluginSession['ask']>, p: PluginPromptParams): Promise<PluginPromptResult> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<PluginPromptResult>((r) => {
    timer = setTimeout(() => r({ ok: false, reason: `nobody answered within ${PROMPT_TIMEOUT_MS / 60_000} minutes` }), PROMPT_TIMEOUT_MS);
  });
  try {
    return await Promise.race([ask(p).catch((): PluginPromptResult => ({ ok: false, reason: 'the client that started the operation could not be asked' })), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** A plugin's text as the user may see it: no control characters (no terminal escapes), bounded. */
function cleanText(s: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = s.replace(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]+/g, ' ').trim();
  return clean.length > 300 ? `${clean.slice(0, 297)}...` : clean;
}
