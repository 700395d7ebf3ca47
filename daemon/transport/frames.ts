// The wire's framing (`Content-Length: N\r\n\r\n`, then N bytes of UTF-8 JSON), without
// vscode-jsonrpc: the decoder behind the daemon's and the CLI's reader (framing.ts) and the
// light client (light.ts), and the one encoder of a frame.

/** Room for `Content-Length` and a `Content-Type`; vscode-jsonrpc's writer sends ~25 bytes. */
export const MAX_HEADER_BYTES = 1024;

/** One message as a frame. */
export function encodeFrame(msg: object): Buffer {
  const body = Buffer.from(JSON.stringify(msg), 'utf8');
  return Buffer.concat([Buffer.from(`Content-Length: ${body.length}\r\n\r\n`, 'ascii'), body]);
}

/**
 * Cuts a byte stream into messages, within limits: the headers may take MAX_HEADER_BYTES, the
 * body `limit()` bytes (asked for each message). `push` returns the messages completed, or the
 * reason the stream is broken (then nothing more is read: resynchronising is guesswork).
 */
export class FrameDecoder {
  /** Bytes received and not yet part of a delivered message. */
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** The body length of the frame being read, once its headers are in; -1 before. */
  private bodyLength = -1;

  constructor(private readonly limit: () => number) {}

  /** Takes `data`; calls `deliver` for each message completed while it returns true. A string: the stream is broken. */
  push(data: Buffer, deliver: (m: object) => boolean): string | undefined {
    this.chunks.push(data);
    this.buffered += data.length;
    for (;;) {
      if (this.bodyLength < 0) {
        const all = this.take(this.buffered, false);
        const end = all.indexOf('\r\n\r\n');
        if (end < 0 || end > MAX_HEADER_BYTES) {
          if (end > MAX_HEADER_BYTES || this.buffered > MAX_HEADER_BYTES) return 'the message headers are too long';
          return undefined;
        }
        const length = contentLength(all.subarray(0, end).toString('latin1'));
        if (length === undefined) return 'a message without a valid Content-Length header';
        if (length > this.limit()) return `a message of ${length} bytes is over the limit of ${this.limit()}`;
        this.bodyLength = length;
        this.take(end + 4, true);
      }
      if (this.buffered < this.bodyLength) return undefined;
      const body = this.take(this.bodyLength, true);
      this.bodyLength = -1;
      let message: unknown;
      try {
        message = JSON.parse(body.toString('utf8'));
      } catch {
        return 'a message that is not JSON';
      }
      if (typeof message !== 'object' || message === null || Array.isArray(message)) return 'a message that is not a JSON object';
      if (!deliver(message) || this.buffered === 0) return undefined;
    }
  }

  /** Drops what is buffered. */
  clear(): void {
    this.chunks = [];
    this.buffered = 0;
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
}

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
