import { openSync } from 'node:fs';
import { Writable } from 'node:stream';
import * as tty from 'node:tty';
import {
  PluginEnvironmentRequest,
  PluginPromptRequest,
  PluginWaitingNotification,
  type PluginEnvironmentResult,
  type PluginPromptParams,
  type PluginPromptResult,
  type PluginWaitingParams,
} from '../protocol/plugins';

// The CLI's side of age plugins' questions (daemon/protocol/plugins.ts): on the terminal, as
// age asks them. A PIN or passphrase is read without echo; a message goes to stderr. The
// terminal is stdin when it is one, else the controlling terminal (/dev/tty), so that
// `keyward decrypt -o - f.age | less` still asks; with neither (a hook run by a GUI, CI, a
// pipe), every question is answered "could not ask", and the daemon's error says which plugin
// wanted what. Used by the daemon client (registerPluginHandlers) and in-process (--no-daemon).

/** Something a client can register request and notification handlers on. */
export interface PluginChannel {
  onRequest(method: string, handler: (params: unknown) => Promise<unknown>): void;
  onNotification(method: string, handler: (params: unknown) => void): void;
}

/** Answers plugins' questions on `channel` from this terminal, and gives plugins this process's environment. */
export function registerPluginHandlers(channel: PluginChannel): void {
  channel.onRequest(PluginPromptRequest, (p) => askOnTerminal(p as PluginPromptParams));
  channel.onRequest(PluginEnvironmentRequest, () => Promise.resolve(pluginEnvironment()));
  channel.onNotification(PluginWaitingNotification, (p) => showWaiting(p as PluginWaitingParams));
}

/** The environment plugins run in: this command's, as when age runs them. */
export function pluginEnvironment(): PluginEnvironmentResult {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  return { env };
}

export function showWaiting(p: PluginWaitingParams): void {
  if (p.waiting) process.stderr.write(`keyward: waiting for the ${clean(p.plugin)} plugin (touch your key or confirm on the device if it asks)...\n`);
}

let queue: Promise<unknown> = Promise.resolve();

/** Asks one plugin question on the terminal (one at a time); `{ ok: false }` when there is none. */
export function askOnTerminal(p: PluginPromptParams): Promise<PluginPromptResult> {
  const answer = queue.then(() => ask(p));
  queue = answer.catch(() => undefined);
  return answer;
}

async function ask(p: PluginPromptParams): Promise<PluginPromptResult> {
  const who = `${clean(p.plugin)} plugin`;
  if (p.kind === 'message') {
    process.stderr.write(`keyward: ${who}: ${clean(p.message)}\n`);
    return { ok: true };
  }
  const term = openTerminal();
  if (term === undefined) return { ok: false, reason: 'there is no terminal to ask on' };
  try {
    if (p.kind === 'confirm') {
      const yes = clean(p.yes ?? 'yes');
      const no = p.no !== undefined ? clean(p.no) : undefined;
      const answer = await question(term, `${who}: ${clean(p.message)} [${yes}${no !== undefined ? `/${no}` : ''}] `, false);
      if (answer === undefined) return { ok: false, reason: 'you dismissed it' };
      const a = answer.trim().toLowerCase();
      if (a === '' || a === yes.toLowerCase() || a === 'y' || a === 'yes') return { ok: true, yes: true };
      if (no !== undefined && (a === no.toLowerCase() || a === 'n' || a === 'no')) return { ok: true, yes: false };
      return { ok: false, reason: 'the answer was neither choice' };
    }
    const value = await question(term, `${who}: ${clean(p.message)}${p.kind === 'secret' ? ' (input hidden)' : ''}: `, p.kind === 'secret');
    if (value === undefined) return { ok: false, reason: 'you dismissed it' };
    return { ok: true, value };
  } finally {
    term.close();
  }
}

interface Terminal {
  input: NodeJS.ReadableStream;
  output: NodeJS.WritableStream;
  close(): void;
}

function openTerminal(): Terminal | undefined {
  if (process.stdin.isTTY) return { input: process.stdin, output: process.stderr, close: () => process.stdin.pause() };
  if (process.platform === 'win32') return undefined;
  try {
    const fd = openSync('/dev/tty', 'r+');
    const input = new tty.ReadStream(fd);
    const output = new tty.WriteStream(fd);
    return {
      input,
      output,
      close: () => {
        input.destroy();
        output.destroy();
      },
    };
  } catch {
    return undefined; // no controlling terminal
  }
}

/** One line from the terminal, not echoed when `hidden`; undefined on end of input (Ctrl-D) or Ctrl-C. */
async function question(term: Terminal, prompt: string, hidden: boolean): Promise<string | undefined> {
  // Loaded here: most commands never ask, and `keyward exec` starts without it.
  const readline = await import('node:readline');
  const muted = new Writable({ write: (_c, _e, cb) => cb() });
  // The terminal is put in raw mode (no echo) before the question shows: a PIN typed or pasted
  // at once must not be echoed by the terminal before readline takes over.
  const rl = readline.createInterface({ input: term.input, output: hidden ? muted : term.output, terminal: true });
  term.output.write(prompt);
  return new Promise((resolve) => {
    let done = false;
    const finish = (v: string | undefined) => {
      if (done) return;
      done = true;
      rl.close();
      if (hidden || v === undefined) term.output.write('\n');
      resolve(v);
    };
    rl.on('line', (line) => finish(line));
    rl.on('close', () => finish(undefined));
    rl.on('SIGINT', () => finish(undefined));
  });
}

/** A plugin's text on a terminal: no control characters (no escape sequences). */
function clean(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ');
}
