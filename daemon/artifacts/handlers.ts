import { JobProgressNotification, type JobInfo } from '../protocol';
import { decryptRange, parseRecipients } from '../age';
import { audited } from '../rpc/audited';
import type { Handlers } from '../rpc/context';
import { dataSink } from '../rpc/datasink';
import type { Deps } from '../rpc/deps';
import { describeArtifact } from './describe';
import type { DecryptJobParams, EncryptJobParams } from './transfer';

/** Model artifacts (rewrap, rotate, range reads) and the jobs that change them. */
export function artifactHandlers(d: Pick<Deps, 'keystore' | 'audit' | 'jobs' | 'unwrap'>): Handlers {
  return {
    artifactsRewrap: (p, call) => d.jobs.start('rewrap', p.files, p, call.client),

    artifactsRotate: (p, call) => d.jobs.start('rotate', p.files, p, call.client),

    artifactsEncrypt: (p, call) => {
      // Keys become recipients now, so that the job (and its journal) holds public recipients only.
      const fromKeys = d.keystore().recipientsFor(p.keys);
      const recipients = [...new Set([...p.recipients, ...fromKeys.map((k) => k.recipient)])];
      parseRecipients(recipients); // a bad recipient fails the call, not every file
      const params: EncryptJobParams = {
        recipients,
        keys: d.keystore().refsForRecipients(recipients),
        ...(p.outputs ? { outputs: p.outputs } : {}),
        ...(p.armor ? { armor: true } : {}),
        ...(p.overwrite ? { overwrite: true } : {}),
      };
      return d.jobs.start('encrypt', p.files, params, call.client);
    },

    artifactsDecrypt: (p, call) => {
      const params: DecryptJobParams = { ...(p.outputs ? { outputs: p.outputs } : {}), ...(p.overwrite ? { overwrite: true } : {}) };
      return d.jobs.start('decrypt', p.files, params, call.client);
    },

    artifactsDescribe: (p) => describeArtifact(p.path, d.keystore()),

    ageDecryptRange: async (p, call) => {
      let used = '';
      const unwrap = async (h: { raw: Uint8Array }) => {
        const r = await d.unwrap(h.raw, p.input);
        used = r.ref;
        return r.fileKey;
      };
      return await audited(
        d.audit,
        { event: 'age.decrypt-range', path: p.input, client: call.client },
        async () => {
          let bytesOut: number;
          if (p.output !== undefined) {
            bytesOut = (await decryptRange({ input: p.input, start: p.start, end: p.end, unwrap, output: p.output, overwrite: p.overwrite ?? false })).bytesOut;
          } else {
            bytesOut = (await decryptRange({ input: p.input, start: p.start, end: p.end, unwrap, output: dataSink(call) })).bytesOut;
          }
          return { bytesOut, key: used, ...(p.output !== undefined ? { output: p.output } : {}) };
        },
        { ok: (r) => ({ key: used, detail: `bytes ${p.start}-${p.start + r.bytesOut}` }) },
      );
    },

    jobsList: () => Promise.resolve({ jobs: d.jobs.list() }),
    jobsGet: (p) => d.jobs.get(p.id),
    jobsCancel: (p) => d.jobs.cancel(p.id),
    jobsWait: (p, call) =>
      d.jobs.wait(p.id, (info: JobInfo) => {
        void call.notify?.(JobProgressNotification, info).catch(() => undefined);
      }),
  };
}
