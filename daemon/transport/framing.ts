import type * as net from 'node:net';
import { AbstractMessageReader, Disposable, type DataCallback, type Message, type MessageReader } from 'vscode-jsonrpc/node';
import { FrameDecoder } from './frames';

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
  private readonly decoder: FrameDecoder;
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
    limit: () => number,
    private readonly admit: (m: Message) => boolean = () => true,
  ) {
    super();
    this.decoder = new FrameDecoder(limit);
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
    this.decoder.clear();
  }

  private receive(data: Buffer): void {
    if (this.failed || !this.callback) return;
    const broken = this.decoder.push(data, (m) => {
      if (this.admit(m as Message)) this.callback?.(m as Message);
      return !this.failed && this.callback !== undefined;
    });
    if (broken !== undefined) this.fail(broken);
  }

  private fail(why: string): void {
    this.failed = true;
    this.release();
    this.fireError(new Error(why));
    this.socket.destroy();
  }
}
