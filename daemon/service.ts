import * as path from 'node:path';
import { AuditLog, type AuditEvent } from './audit/log';
import type { SecretBackend } from './keystore/backend';
import { FileBackend } from './keystore/file';
import { KeychainBackend } from './keystore/keychain';
import { Keystore } from './keystore/keystore';
import { Registry } from './keystore/registry';
import { ensurePrivateDir } from './util/paths';
import type { Handlers } from './rpc/context';
import type { Deps } from './rpc/deps';
import { JobManager } from './jobs/manager';
import { rewrapOp, rotateOp } from './artifacts/ops';
import { decryptOp, encryptOp } from './artifacts/transfer';
import { addKeysOp, rotateSopsOp, updateKeysOp } from './sops/ops';
import { artifactUnwrap } from './artifacts/unwrap';
import { serviceIdentities } from './team/identity';
import { TEAM_SYNC_JOB, teamSyncOp } from './team/sync';
import { sopsSyncOps } from './team/sopssync';
import { sharedVault, sopsKmsClient } from './kms';
import { KEK_REWRAP_JOB, kekRewrapOp } from './team/kek';
import { requireTrusted } from './trust/sets';
import { WatchManager } from './watch/manager';
import { daemonHandlers } from './server/handlers';
import { keysHandlers, keystoreHandlers } from './keystore/handlers';
import { ageHandlers } from './age/handlers';
import { scanHandlers } from './scan/handlers';
import { artifactHandlers } from './artifacts/handlers';
import { jobHandlers } from './jobs/handlers';
import { workspaceHandlers } from './watch/handlers';
import { sopsHandlers } from './sops/handlers';
import { teamHandlers } from './team/handlers';
import { trustHandlers } from './trust/handlers';
import { runtimeHandlers } from './runtime/handlers';
import { execHandlers } from './exec/handlers';
import { auditHandlers } from './audit/handlers';

export interface ServiceOptions {
  home: string;
  /** Overrides the backend the registry names (tests run the daemon with memory keys). */
  backend?: SecretBackend;
  socket?: string;
}

/**
 * Keyward's operations, independent of transport: the daemon serves them over its socket,
 * and `keyward --no-daemon` calls them in-process. Both paths validate params first.
 *
 * This class only assembles the daemon: Service.open builds the parts (registry, keystore,
 * audit log, jobs, watcher) and gives each area's handler factory the few of them it needs.
 */
export class Service {
  /** Run when the daemon (or an in-process run) stops: watchers, jobs, the audit log (last). */
  private readonly disposers: (() => Promise<void>)[] = [];

  private constructor(
    readonly home: string,
    private readonly current: { keystore: Keystore },
    readonly audit: AuditLog,
    readonly jobs: JobManager,
    /** The registered workspaces' watchers; the daemon resumes them at start (in-process runs do not). */
    readonly watch: WatchManager,
    readonly handlers: Handlers,
  ) {
    this.disposers.push(() => audit.close(), () => jobs.dispose(), () => watch.dispose());
  }

  /** The keystore as it is now (`keystore/use` replaces it when the backend changes). */
  get keystore(): Keystore {
    return this.current.keystore;
  }

  static async open(opts: ServiceOptions): Promise<Service> {
    const home = opts.home;
    await ensurePrivateDir(home);
    const registry = await Registry.load(home);
    const log = new AuditLog(path.join(home, 'audit.jsonl'));
    const audit = (e: AuditEvent) => log.append(e);
    const backend = opts.backend ?? backendFor(registry.backend, home);
    const current = { keystore: new Keystore(registry, backend, audit) };
    const keystore = () => current.keystore;
    const kms = () => sopsKmsClient();
    // Opening an age file's key: the keystore first, then the team's service identities (KMS or Vault).
    const unwrap = artifactUnwrap(keystore, serviceIdentities({ audit }));

    const teamSops = sopsSyncOps(kms);
    const jobs = new JobManager(
      home,
      {
        rewrap: rewrapOp(keystore),
        rotate: rotateOp(keystore),
        'sops-updatekeys': updateKeysOp(keystore, kms, (source, recipients) => requireTrusted(home, keystore(), source, recipients)),
        'sops-rotate': rotateSopsOp(keystore, kms),
        'sops-addkeys': addKeysOp(keystore, kms),
        [TEAM_SYNC_JOB]: teamSyncOp(keystore, { audit, sops: () => teamSops }),
        [KEK_REWRAP_JOB]: kekRewrapOp(sharedVault),
        encrypt: encryptOp(),
        decrypt: decryptOp(unwrap),
      },
      audit,
    );
    const deps: Deps = { home, keystore, audit, jobs, unwrap, kms };
    const watch = new WatchManager(deps);
    const handlers: Handlers = {
      ...daemonHandlers({ home, keystore, startedAt: new Date(), ...(opts.socket !== undefined ? { socket: opts.socket } : {}) }),
      ...keysHandlers(deps),
      ...keystoreHandlers({
        keystore,
        audit,
        registry,
        ...(opts.backend === undefined ? { useBackend: (kind: Registry['backend']) => (current.keystore = new Keystore(registry, backendFor(kind, home), audit)) } : {}),
      }),
      ...ageHandlers(deps),
      ...scanHandlers(),
      ...artifactHandlers({ ...deps, rootFor: (abs) => watch.rootFor(abs) }),
      ...jobHandlers(deps),
      ...workspaceHandlers(watch),
      ...sopsHandlers(deps),
      ...teamHandlers(deps),
      ...trustHandlers(deps),
      ...runtimeHandlers(deps),
      ...execHandlers(deps),
      ...auditHandlers(log),
    };
    const svc = new Service(home, current, log, jobs, watch, handlers);
    // The file keystore can be unlocked without a prompt, for scripts and CI.
    const pass = process.env.KEYWARD_KEYSTORE_PASSPHRASE;
    if (backend.kind === 'file' && pass) await current.keystore.unlock(pass);
    return svc;
  }

  /** Records an event in the audit log (also used by the server for refused connections). */
  record(e: AuditEvent): Promise<void> {
    return this.audit.append(e);
  }

  async dispose(): Promise<void> {
    for (const d of this.disposers.splice(0).reverse()) await d().catch(() => undefined);
  }
}

function backendFor(kind: Registry['backend'], home: string): SecretBackend {
  return kind === 'file' ? new FileBackend(path.join(home, 'keystore.age')) : new KeychainBackend();
}
