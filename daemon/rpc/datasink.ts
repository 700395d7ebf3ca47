import { Writable } from 'node:stream';
import { AgeDataNotification, ErrorCode, type AgeDataParams } from '../protocol';
import type { CallContext } from './context';
import { KeywardError } from '../util/errors';

/**
 * Where plaintext goes when the client asked for no output file: `age/data` notifications on
 * the caller's connection, a chunk at a time, each already authenticated.
 */
export function dataSink(call: CallContext): Writable {
  const notify = call.notify;
  if (!notify) throw new KeywardError(ErrorCode.InvalidInput, 'no output file given', 'give an output path with -o');
  const stream = call.requestId ?? '0';
  return new Writable({
    write(chunk: Buffer, _enc, cb) {
      const params: AgeDataParams = { stream, data: chunk.toString('base64') };
      notify(AgeDataNotification, params).then(() => cb(), cb);
    },
  });
}

