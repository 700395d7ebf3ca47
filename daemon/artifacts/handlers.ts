import { JobProgressNotification, type JobInfo } from '../protocol';
import { decryptRange, parseRecipients } from '../age';
import { dataSink } from '../datasink';
import type { Handlers, Service } from '../service';
import { unwrapArtifactKey } from '../team/unwrap';
import { describeArtifact } from './describe';
import type { DecryptJobParams, EncryptJobParams } from './transfer';

/** Model artifacts (rewrap, rotate, range reads) and the jobs that change them. */
export function artifactHandlers(svc: Service): Handlers {
  return {
    artifactsRewrap: (p, call) => svc.jobs.start('rewrap', p.files, p, call.client),

    artifactsRotate: (p, call) => svc.jobs.start('rotate', p.files, p, call.client),

    artifactsEncrypt: (p, call) => {
      // Keys become recipients now, so that the job (and its journal) holds public recipients only.
      const fromKeys = svc.keystore.recipientsFor(p.keys);
      const recipients = [...new Set([...p.recipients, ...fromKeys.map((k) => k.recipient)])];
      parseRecipients(recipients); // a bad recipient fails the call, not every file
      const params: EncryptJobParams = {
        recipients,
        keys: svc.keystore.refsForRecipients(recipients),
        ...(p.outputs ? { outputs: p.outputs } : {}),
        ...(p.armor ? { armor: true } : {}),
        ...(p.overwrite ? { overwrite: true } : {}),
      };
      return svc.jobs.start('encrypt', p.files, params, call.client);
    },

    artifactsDecrypt: (p, call) => {
      const params: DecryptJobParams = { ...(p.outputs ? { outputs: p.outputs } : {}), ...(p.overwrite ? { overwrite: true } : {}) };
      return svc.jobs.start('decrypt', p.files, params, call.client);
    },

    artifactsDescribe: (p) => describeArtifact(p.path, svc.keystore),

    ageDecryptRange: async (p, call) => {
      let used = '';
      const unwrap = async (h: { raw: Uint8Array }) => {
        const r = await unwrapArtifactKey(svc.keystore, h.raw, p.input, { audit: (e) => svc.record(e) });
        used = r.ref;
        return r.fileKey;
      };
      try {
        let bytesOut: number;
        if (p.output !== undefined) {
          bytesOut = (await decryptRange({ input: p.input, start: p.start, end: p.end, unwrap, output: p.output, overwrite: p.overwrite ?? false })).bytesOut;
        } else {
          bytesOut = (await decryptRange({ input: p.input, start: p.start, end: p.end, unwrap, output: dataSink(call) })).bytesOut;
        }
        await svc.record({ event: 'age.decrypt-range', outcome: 'ok', key: used, path: p.input, client: call.client, detail: `bytes ${p.start}-${p.start + bytesOut}` });
        return { bytesOut, key: used, ...(p.output !== undefined ? { output: p.output } : {}) };
      } catch (e) {
        await svc.record({ event: 'age.decrypt-range', outcome: 'failed', path: p.input, client: call.client });
        throw e;
      }
    },

    jobsList: () => Promise.resolve({ jobs: svc.jobs.list() }),
    jobsGet: (p) => svc.jobs.get(p.id),
    jobsCancel: (p) => svc.jobs.cancel(p.id),
    jobsWait: (p, call) =>
      svc.jobs.wait(p.id, (info: JobInfo) => {
        void call.notify?.(JobProgressNotification, info).catch(() => undefined);
      }),
  };
}
