// The artifacts/* RPC handlers (daemon/protocol/artifacts.ts): rewrap and rotate, encrypt and
// decrypt as jobs, status under a folder, and the description of one file.
import { parseRecipients } from '../age';
import type { Handlers } from '../rpc/context';
import type { Deps } from '../rpc/deps';
import { describeArtifact } from './describe';
import { artifactsStatus } from './status';
import type { DecryptJobParams, EncryptJobParams } from './transfer';

export interface ArtifactDeps extends Pick<Deps, 'keystore' | 'jobs'> {
  /** The registered workspace containing a path, if any (its policy applies to artifacts/status). */
  rootFor: (abs: string) => string | undefined;
}

export function artifactHandlers(d: ArtifactDeps): Handlers {
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

    artifactsStatus: (p) => artifactsStatus({ keystore: d.keystore(), rootFor: d.rootFor }, p.path),
  };
}
