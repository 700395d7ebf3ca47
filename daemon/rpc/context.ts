// What a handler is: a function of a method's validated params and of the call it serves,
// returning the method's result (daemon/protocol/). The daemon's server and `keyward
// --no-daemon` both call handlers through this shape; neither is known to the handlers.
import type { MethodKey, ResultOf, ValidParamsOf } from '../protocol';

/** What a handler knows of the call it serves. */
export interface CallContext {
  /** The client's self-declared name (`cli`, `vscode`), for the audit log. */
  client: string;
  /** Sends a notification to the calling client (streamed output). */
  notify?: (method: string, params: unknown) => Promise<void>;
  /** The request id, as a string, to tag streamed output with. */
  requestId?: string;
  /** Sends a request to the calling client (an age plugin's question, see daemon/plugins/session.ts). */
  request?: (method: string, params: unknown) => Promise<unknown>;
  /**
   * Aborted when the client's connection closes (it was killed, or hung up). A handler that
   * writes an output passes it on: the work stops, its temp file goes, and no output appears
   * for a client that is no longer there to be told.
   */
  signal?: AbortSignal;
}

export type Handler<K extends MethodKey> = (p: ValidParamsOf<K>, call: CallContext) => Promise<ResultOf<K>>;

/** Handlers by method key: each area's factory returns those of its methods (daemon/<area>/handlers.ts). */
export type Handlers = { [K in MethodKey]?: Handler<K> };
