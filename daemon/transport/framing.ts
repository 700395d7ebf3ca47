import type * as net from 'node:net';
import { AbstractMessageReader, Disposable, type DataCallback, type Message, type MessageReader } from 'vscode-jsonrpc/node';

/**
 * Reads vscode-jsonrpc's framing (`Content-Length: N\r\n\r\n`, then N bytes of UTF-8 JSON) from
 * a socket, within limits. Written by hand because vscode-jsonrpc's own reader has none: it
 * buffers any N a peer announces (six unauthenticated connections sending 400 MiB each took
 * the daemon to 2.5 GB), and keeps a re-arming timer for a partial message that outlives
 * dispose(), holding the buffer and the process. Here:
 *
 * - the headers may take `MAX_HEADER_BYTES`, the body `limit()` bytes (asked again for every
 *   message, so it can grow once a client has authenticated);
 * - a frame over a limit, a header without a decimal Content-Length, or a body that is not a
 *   JSON object fails the connection (the socket is destroyed: a peer that sends that is
 *   broken or hostile, and resynchronising on a byte stream is guesswork);
 * - nothing but the bytes of the frame being read is held, and no timer is kept: a slow peer
 *   is the caller's business (the daemon's authentication deadline), and dispose() or the
 *   socket's close frees everything.
 */
export class BoundedMessageReader extends AbstractMessageReader implements MessageReader {
  /** Bytes received and not yet part of a delivered message. */
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** The body length of the frame being read, once its headers are in; -1 before. */
  private bodyLength = -1;
  private callback: DataCallback | undefined;
  private failed = false;
  private listening = false;
  private readonly onData = (b: Buffer) => this.receive(b);

  /**
   * @param limit the largest body accepted, asked for each message
   * @param admit sees each message before the connection does; false drops it (the daemon's
   *   gate for unauthenticated connections)
   */
  constructor(
    private readonly socket: net.Socket,
    private readonly limit: () => number,
    private readonly admit: (m: Message) => boolean = () => true,
  ) {
    super();
  }

  /**
   * Delivers each message to `callback`. Called again, it hands the stream over to the new
   * callback (the daemon reads the authentication itself, then gives the rest to a connection).
   */
  listen(callback: DataCallback): Disposable {
    this.callback = callback;
    if (!this.listening) {
      this.listening = true;
      this.socket.on('data', this.onData);
      this.socket.on('error', (e) => this.fireError(e));
      this.socket.once('close', () => {
        this.release();
        this.fireClose();
      });
    }
    return Disposable.create(() => this.release());
  }

  override dispose(): void {
    this.release();
    super.dispose();
  }

  private release(): void {
    this.socket.off('data', this.onData);
    this.callback = undefined;
    this.chunks = [];
    this.buffered = 0;
  }

  private receive(data: Buffer): void {
    if (this.failed || !this.callback) return;
    this.chunks.push(data);
    this.buffered += data.length;
    for (;;) {
      if (this.bodyLength < 0) {
        const all = this.take(this.buffered, false);
        const end = all.indexOf('\r\n\r\n');
        if (end < 0 || end > MAX_HEADER_BYTES) {
          if (end > MAX_HEADER_BYTES || this.buffered > MAX_HEADER_BYTES) this.fail('the message headers are too long');
          return;
        }
        const length = contentLength(all.subarray(0, end).toString('latin1'));
        if (length === undefined) return this.fail('a message without a valid Content-Length header');
        if (length > this.limit()) return this.fail(`a message of ${length} bytes is over the limit of ${this.limit()}`);
        this.bodyLength = length;
        this.take(end + 4, true);
      }
      if (this.buffered < this.bodyLength) return;
      const body = this.take(this.bodyLength, true);
      this.bodyLength = -1;
      let message: unknown;
      try {
        message = JSON.parse(body.toString('utf8'));
      } catch {
        return this.fail('a message that is not JSON');
      }
      if (typeof message !== 'object' || message === null || Array.isArray(message)) return this.fail('a message that is not a JSON object');
      if (this.admit(message as Message)) this.callback?.(message as Message);
      if (this.failed || !this.callback || this.buffered === 0) return;
    }
  }

  /** The first `n` buffered bytes, as one buffer; removed from the buffer if `consume`. */
  private take(n: number, consume: boolean): Buffer {
    const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.buffered);
    if (!consume) {
      this.chunks = [all];
      return all;
    }
    const rest = all.subarray(n);
    this.chunks = rest.length ? [rest] : [];
    this.buffered = rest.length;
    return all.subarray(0, n);
  }

  private fail(why: string): void {
    this.failed = true;
    this.release();
    this.fireError(new Error(why));
    this.socket.destroy();
  }
}

/** Room for `Content-Length` and a `Content-Type`; vscode-jsonrpc's writer sends ~25 bytes. */
export const MAX_HEADER_BYTES = 1024;

/** The Content-Length of a header block: a decimal number, one such header; undefined if not. */
function contentLength(headers: string): number | undefined {
  let length: number | undefined;
  for (const line of headers.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) return undefined;
    if (line.slice(0, colon).trim().toLowerCase() !== 'content-length') continue;
    const value = line.slice(colon + 1).trim();
    if (length !== undefined || !/^\d{1,15}$/.test(value)) return undefined;
    length = Number(value);
  }
  return length;
}
