import type { Readable, Writable } from 'node:stream';
import { decodeRaw, encodeRaw } from './base64';

// The framing of the age plugin protocol (c2sp.org/age-plugin, "IPC protocol"): stanzas in the
// text form of the age v1 header, one after another, over a plugin's stdin and stdout. Read by
// hand rather than with header.ts's scanner because the peer is a program that may misbehave:
// every read is bounded in size (a line, a body, the whole session) and in time (each stanza
// must arrive within the idle timeout), and a plugin that closes its output mid-stanza, writes
// something that is not a stanza, or says nothing, ends the exchange with a PluginIpcError.

/** One IPC message: a command (`type`), its arguments and its body. */
export interface IpcStanza {
  readonly type: string;
  readonly args: readonly string[];
  readonly body: Uint8Array;
}

export interface IpcLimits {
  /** Longest line a plugin may write (the command line of a stanza; a body line is 64). */
  maxLine: number;
  /** Largest body of one stanza, decoded. */
  maxBody: number;
  /** Bytes a plugin may write in one session, all stanzas together. */
  maxTotal: number;
}

export const DEFAULT_IPC_LIMITS: IpcLimits = {
  // A post-quantum tagged stanza's arguments are ~1.7 KB; 64 KiB leaves room for any sane type.
  maxLine: 64 * 1024,
  // A recipient stanza body is a wrapped 16-byte key; a message is a sentence.
  maxBody: 256 * 1024,
  maxTotal: 16 * 1024 * 1024,
};

/** Why an exchange with a plugin stopped: `kind` decides the message the client shows. */
export class PluginIpcError extends Error {
  constructor(
    readonly kind: 'eof' | 'garbage' | 'oversized' | 'timeout' | 'closed',
    message: string,
  ) {
    super(message);
  }
}

const COLUMNS = 64;
const ARG = /^[\x21-\x7e]+$/;

/** Encodes a stanza as the IPC protocol (and the age header) writes it. */
export function encodeStanza(type: string, args: readonly string[] = [], body: Uint8Array = new Uint8Array(0)): Buffer {
  const all = [type, ...args];
  if (!all.every((a) => ARG.test(a))) throw new Error('stanza argument is empty or not printable ascii');
  const b64 = encodeRaw(body);
  const lines = [`-> ${all.join(' ')}`];
  for (let i = 0; i < b64.length; i += COLUMNS) lines.push(b64.slice(i, i + COLUMNS));
  if (b64.length % COLUMNS === 0) lines.push('');
  return Buffer.from(lines.join('\n') + '\n', 'latin1');
}

/**
 * Reads stanzas from a plugin's stdout. `next` resolves with the next complete stanza, or
 * rejects with a PluginIpcError; after an error the reader is done (the caller kills the
 * plugin). The idle timeout of each `next` can be paused while the user is being asked
 * something on the plugin's behalf (that wait is the user's, not the plugin's).
 */
export class StanzaReader {
  private buf: Buffer = Buffer.alloc(0);
  private total = 0;
  private ended = false;
  private failure: PluginIpcError | undefined;
  private wake: (() => void) | undefined;

  constructor(
    stream: Readable,
    private readonly limits: IpcLimits = DEFAULT_IPC_LIMITS,
  ) {
    stream.on('data', (chunk: Buffer) => {
      if (this.failure) return; // done: whatever else comes is dropped
      this.total += chunk.length;
      if (this.total > this.limits.maxTotal) {
        this.fail(new PluginIpcError('oversized', `wrote more than ${this.limits.maxTotal} bytes`));
        stream.destroy();
        return;
      }
      this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
      this.poke();
    });
    stream.on('end', () => {
      this.ended = true;
      this.poke();
    });
    stream.on('close', () => {
      this.ended = true;
      this.poke();
    });
    stream.on('error', () => {
      this.ended = true;
      this.poke();
    });
  }

  /** Fails the reader from outside (the plugin exited, the operation was cancelled). */
  fail(e: PluginIpcError): void {
    this.failure ??= e;
    this.poke();
  }

  /**
   * The next stanza. Rejects with `timeout` when nothing complete arrived within `idleMs`,
   * `eof` when the plugin closed its output first, `garbage`/`oversized` for what breaks the
   * framing or the limits.
   */
  async next(idleMs: number): Promise<IpcStanza> {
    const deadline = Date.now() + idleMs;
    for (;;) {
      if (this.failure) throw this.failure;
      const s = this.parse();
      if (s !== undefined) return s;
      if (this.ended) throw new PluginIpcError('eof', this.buf.length ? 'closed its output in the middle of a message' : 'closed its output before finishing');
      const left = deadline - Date.now();
      if (left <= 0) throw new PluginIpcError('timeout', `did not answer within ${Math.round(idleMs / 1000)} s`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }

  private poke(): void {
    this.wake?.();
  }

  private fatal(kind: 'garbage' | 'oversized', message: string): never {
    const e = new PluginIpcError(kind, message);
    this.failure = e;
    throw e;
  }

  /** A complete stanza at the front of the buffer (consumed), or undefined if there is none yet. */
  private parse(): IpcStanza | undefined {
    const first = this.line(0);
    if (first === undefined) return undefined;
    if (!first.text.startsWith('-> ')) this.fatal('garbage', 'wrote something that is not a protocol message');
    const args = first.text.slice(3).split(' ');
    if (!args.every((a) => ARG.test(a))) this.fatal('garbage', 'wrote a malformed message line');
    let pos = first.next;
    let body = '';
    for (;;) {
      const l = this.line(pos);
      if (l === undefined) {
        if (body.length * 0.75 > this.limits.maxBody) this.fatal('oversized', `sent a message larger than ${this.limits.maxBody} bytes`);
        return undefined;
      }
      if (l.text.length > COLUMNS) this.fatal('garbage', 'wrote a body line longer than 64 columns');
      body += l.text;
      pos = l.next;
      if (body.length * 0.75 > this.limits.maxBody) this.fatal('oversized', `sent a message larger than ${this.limits.maxBody} bytes`);
      if (l.text.length < COLUMNS) break;
    }
    const decoded = decodeRaw(body);
    if (decoded === null) this.fatal('garbage', 'wrote a body that is not canonical base64');
    this.buf = this.buf.subarray(pos);
    const [type, ...rest] = args as [string, ...string[]];
    return { type, args: rest, body: Uint8Array.from(decoded) };
  }

  /** The line starting at `from` without its LF, and where the next one starts. */
  private line(from: number): { text: string; next: number } | undefined {
    const nl = this.buf.indexOf(0x0a, from);
    if (nl < 0) {
      if (this.buf.length - from > this.limits.maxLine) this.fatal('oversized', `wrote a line longer than ${this.limits.maxLine} bytes`);
      return undefined;
    }
    if (nl - from > this.limits.maxLine) this.fatal('oversized', `wrote a line longer than ${this.limits.maxLine} bytes`);
    return { text: this.buf.toString('latin1', from, nl), next: nl + 1 };
  }
}

/** Writes stanzas to a plugin's stdin; rejects with `closed` once the plugin stopped reading. */
export function writeStanza(stream: Writable, type: string, args: readonly string[] = [], body?: Uint8Array): Promise<void> {
  const bytes = encodeStanza(type, args, body);
  return new Promise((resolve, reject) => {
    if (stream.destroyed || stream.writableEnded) {
      reject(new PluginIpcError('closed', 'stopped reading its input'));
      return;
    }
    stream.write(bytes, (e) => {
      bytes.fill(0); // it may hold a file key or a secret the user typed
      if (e) reject(new PluginIpcError('closed', 'stopped reading its input'));
      else resolve();
    });
  });
}
