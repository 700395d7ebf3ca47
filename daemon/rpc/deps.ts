// What handler factories may be given. Service.open (daemon/service.ts) builds one Deps; each
// area's factory names the fields it needs (`Pick<Deps, 'keystore' | 'audit'>`) and receives
// only those, never the Service.
import type { ArtifactUnwrap } from '../artifacts/unwrap';
import type { JobManager } from '../jobs/manager';
import type { Keystore } from '../keystore/keystore';
import type { SopsKmsClient } from '../sops/keys';
import type { AuditSink } from './audited';

export interface Deps {
  /** KEYWARD_HOME: the registry, the audit log, trust.json, job journals. */
  home: string;
  /** The keystore as it is now: `keystore/use` replaces it when the backend changes. */
  keystore: () => Keystore;
  /** Appends a record to the audit log. */
  audit: AuditSink;
  /** The background jobs (rewrap, rotate, sops updatekeys, team sync, ...). */
  jobs: Pick<JobManager, 'start' | 'list' | 'get' | 'wait' | 'cancel'>;
  /** Opens an age file's key: the keystore, then the team's service identities. */
  unwrap: ArtifactUnwrap;
  /** The KMS client for sops `kms` master keys, when one is configured. */
  kms: () => SopsKmsClient | undefined;
}
