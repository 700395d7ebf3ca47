import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { ErrorCode, type MethodKey, type ResultOf, type ValidParamsOf } from './protocol';
import { decryptFile, decryptToWritable, inspect, pluginIdentityWithoutData, readHeader, unwrapWithPluginIdentities, type ParsedHeader } from './age';
import { encryptArtifact } from './artifacts/encrypt';
import { pluginTarget, targetsOfKeys } from './artifacts/targets';
import { AuditLog, type AuditEvent } from './audit/log';
import type { SecretBackend } from './keystore/backend';
import { FileBackend } from './keystore/file';
import { KeychainBackend } from './keystore/keychain';
import { Keystore } from './keystore/keystore';
import { Registry } from './keystore/registry';
import { KeywardError, ioError } from './util/errors';
import { ensurePrivateDir } from './util/paths';
import { VERSION } from './version';
import { dataSink } from './datasink';
import { scanHandlers } from './scan/handlers';
import { artifactHandlers } from './artifacts/handlers';
import { rewrapOp, rotateOp } from './artifacts/ops';
import { decryptOp, encryptOp } from './artifacts/transfer';
import { JobManager } from './jobs/manager';
import type { SopsKmsClient } from './sops/keys';
import { addKeysOp, rotateSopsOp, updateKeysOp } from './sops/ops';
import { unwrapArtifactKey } from './team/unwrap';
import { TEAM_SYNC_JOB, teamSyncOp } from './team/sync';
import { sopsSyncOps } from './team/sopssync';
import { sharedVault, sopsKmsClient } from './kms';
import { KEK_REWRAP_JOB, kekRewrapOp } from './team/kek';
import { workspaceHandlers } from './watch/handlers';
import { sopsHandlers } from './sops/handlers';
import { teamHandlers } from './team/handlers';
import { trustHandlers } from './trust/handlers';
import { requireTrusted } from './trust/sets';
import { runtimeHandlers } from './runtime/handlers';
import { execHandlers } from './exec/handlers';
import { auditHandlers } from './audit/handlers';

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
}

type Handler<K extends MethodKey> = (p: ValidParamsOf<K>, call: CallContext) => Promise<ResultOf<K>>;
export type Handlers = { [K in MethodKey]?: Handler<K> };

export interface ServiceOptions {
  home: string;
  /** Overrides the backend the registry names (tests run the daemon with memory keys). */
  backend?: SecretBackend;
  socket?: string;
}

/**
 * Keyward's operations, independent of transport: the daemon serves them over its socket,
 * and `keyward --no-daemon` calls them in-process. Both paths validate params first.
 */
export class Service {
  readonly startedAt = new Date();
  readonly jobs: JobManager;
  /** The KMS client for sops `kms` master keys: AWS KMS from the daemon's AWS environment (the SDK loads on first use). */
  sopsKms: () => SopsKmsClient | undefined = () => sopsKmsClient();

  private constructor(
    readonly home: string,
    readonly registry: Registry,
    public keystore: Keystore,
    readonly audit: AuditLog,
    private readonly socket: string | undefined,
    private readonly backendOverridden: boolean,
  ) {
    const ks = (): Keystore => this.keystore;
    const kms = (): SopsKmsClient | undefined => this.sopsKms();
    const teamSops = sopsSyncOps(kms);
    this.jobs = new JobManager(
      home,
      {
        rewrap: rewrapOp(ks),
        rotate: rotateOp(ks),
        'sops-updatekeys': updateKeysOp(ks, kms, (source, recipients) => requireTrusted(home, ks(), source, recipients)),
        'sops-rotate': rotateSopsOp(ks, kms),
        'sops-addkeys': addKeysOp(ks, kms),
        [TEAM_SYNC_JOB]: teamSyncOp(ks, { audit: (e) => this.audit.append(e), sops: () => teamSops }),
        [KEK_REWRAP_JOB]: kekRewrapOp(sharedVault),
        encrypt: encryptOp(),
        decrypt: decryptOp((header, file) => unwrapArtifactKey(ks(), header, file, { audit: (e) => this.audit.append(e) })),
      },
      (e) => this.audit.append(e),
    );
    this.disposers.push(() => this.jobs.dispose());
  }

  static async open(opts: ServiceOptions): Promise<Service> {
    await ensurePrivateDir(opts.home);
    const registry = await Registry.load(opts.home);
    const audit = new AuditLog(path.join(opts.home, 'audit.jsonl'));
    const backend = opts.backend ?? backendFor(registry.backend, opts.home);
    const keystore = new Keystore(registry, backend, (e) => audit.append(e));
    const svc = new Service(opts.home, registry, keystore, audit, opts.socket, opts.backend !== undefined);
    // The file keystore can be unlocked without a prompt, for scripts and CI.
    const pass = process.env.KEYWARD_KEYSTORE_PASSPHRASE;
    if (backend.kind === 'file' && pass) await keystore.unlock(pass);
    return svc;
  }

  /** Records an event in the audit log (also used by the server for refused connections). */
  record(e: AuditEvent): Promise<void> {
    return this.audit.append(e);
  }

  /** Run when the daemon (or an in-process run) stops: watchers, jobs. */
  readonly disposers: (() => Promise<void>)[] = [];

  async dispose(): Promise<void> {
    for (const d of this.disposers.splice(0).reverse()) await d().catch(() => undefined);
  }

  readonly handlers: Handlers = {
    ...scanHandlers(this),
    ...artifactHandlers(this),
    ...workspaceHandlers(this),
    ...sopsHandlers(this),
    ...teamHandlers(this),
    ...trustHandlers({ home: () => this.home, keystore: () => this.keystore, record: (e) => this.record(e) }),
    ...runtimeHandlers({ keystore: () => this.keystore, audit: (e) => this.record(e) }),
    ...execHandlers({ keystore: () => this.keystore, kms: () => this.sopsKms(), audit: (e) => this.record(e) }),
    ...auditHandlers(() => this.audit),

    status: async () => ({
      pid: process.pid,
      version: VERSION,
      home: this.home,
      socket: this.socket ?? '(in-process)',
      startedAt: this.startedAt.toISOString(),
      keystore: await this.keystore.status(),
      keys: this.keystore.count(),
    }),

    keystoreUse: async (p, call) => {
      if (this.keystore.count() > 0 && p.backend !== this.registry.backend) {
        throw new KeywardError(
          ErrorCode.IllegalState,
          `this keystore already holds keys in the ${this.registry.backend} backend`,
          'export and re-import the keys into a new KEYWARD_HOME to change backends',
        );
      }
      if (!this.backendOverridden && p.backend !== this.registry.backend) {
        await this.registry.update((d) => {
          d.backend = p.backend;
        });
        this.keystore = new Keystore(this.registry, backendFor(p.backend, this.home), (e) => this.audit.append(e));
        await this.audit.append({ event: 'keystore.use', outcome: 'ok', detail: p.backend, client: call.client });
      }
      return { keystore: await this.keystore.status() };
    },

    keystoreUnlock: async (p, call) => {
      try {
        await this.keystore.unlock(p.passphrase);
      } catch (e) {
        await this.audit.append({ event: 'keystore.unlock', outcome: 'refused', client: call.client });
        throw e;
      }
      await this.audit.append({ event: 'keystore.unlock', outcome: 'ok', client: call.client });
      return { keystore: await this.keystore.status() };
    },

    keysList: (p) => Promise.resolve({ keys: this.keystore.list(p.includeDestroyed ?? false) }),

    keysGenerate: async (p) => ({
      key: await this.keystore.generate(p.name, {
        ...(p.pq !== undefined ? { pq: p.pq } : {}),
        ...(p.cryptoperiodDays !== undefined ? { cryptoperiodDays: p.cryptoperiodDays } : {}),
        ...(p.preActivation !== undefined ? { preActivation: p.preActivation } : {}),
      }),
    }),

    keysImport: async (p) => {
      let text = p.text;
      if (p.path !== undefined) {
        try {
          text = await fsp.readFile(p.path, 'utf8');
        } catch (e) {
          throw ioError(e, 'read identity file', p.path);
        }
      }
      return {
        imported: await this.keystore.import(p.name, text ?? '', p.cryptoperiodDays !== undefined ? { cryptoperiodDays: p.cryptoperiodDays } : {}),
      };
    },

    keysExport: (p) => this.keystore.export(p.ref, p.secret ?? false),

    keysRotate: (p) =>
      this.keystore.rotate(p.name, {
        ...(p.cryptoperiodDays !== undefined ? { cryptoperiodDays: p.cryptoperiodDays } : {}),
        ...(p.keepPrevious ? { keepPrevious: true } : {}),
      }),

    keysSetState: async (p) => ({ key: await this.keystore.setState(p.ref, p.state, p.reason) }),

    keysDestroy: async (p) => ({ key: await this.keystore.destroy(p.ref) }),

    ageEncrypt: async (p, call) => {
      // Keys without a recipient and -j NAME: plugin identities, wrapped to and recorded (artifacts/targets.ts).
      const targets = await targetsOfKeys(this.keystore, p.keys);
      const fromKeys = [...targets.recipients.map((k) => k.ref), ...targets.identities.map((t) => t.key)];
      const recipients = [...new Set([...p.recipients, ...targets.recipients.map((k) => k.recipient)])];
      const identities = [...targets.identities, ...p.plugins.map(pluginTarget)];
      try {
        const r = await encryptArtifact({
          input: p.input,
          output: p.output,
          recipients,
          identities,
          keys: this.keystore.refsForRecipients(recipients),
          armor: p.armor ?? false,
          overwrite: p.overwrite ?? false,
        });
        await this.audit.append({
          event: 'age.encrypt',
          outcome: 'ok',
          path: p.output,
          client: call.client,
          ...(fromKeys.length ? { key: fromKeys.join(',') } : {}),
          detail: `${recipients.length + identities.length} recipient(s)${p.plugins.length ? `, plugin(s) ${p.plugins.join(', ')}` : ''}`,
        });
        return { output: p.output, bytesIn: r.bytesIn, bytesOut: r.bytesOut, recipients };
      } catch (e) {
        await this.audit.append({ event: 'age.encrypt', outcome: 'failed', path: p.output, client: call.client, detail: errorSummary(e) });
        throw e;
      }
    },

    ageDecrypt: async (p, call) => {
      let used = '';
      const unwrap = p.plugins
        ? // -j NAME (as age -d -j): those plugins only, not the keystore.
          async (h: ParsedHeader): Promise<Uint8Array> => {
            const key = await unwrapWithPluginIdentities(p.plugins!.map(pluginIdentityWithoutData))(h);
            used = `plugin:${p.plugins!.join(',')}`;
            return key;
          }
        : async (h: ParsedHeader): Promise<Uint8Array> => {
            // The keystore first; then team service identities (KMS-wrapped, opened once a process).
            const r = await unwrapArtifactKey(this.keystore, h.raw, p.input, { audit: (e) => this.record(e) });
            used = r.ref;
            return r.fileKey;
          };
      try {
        let bytesOut: number;
        if (p.output !== undefined) {
          bytesOut = (await decryptFile({ input: p.input, output: p.output, unwrap, overwrite: p.overwrite ?? false })).bytesOut;
        } else {
          bytesOut = (await decryptToWritable({ input: p.input, output: dataSink(call), unwrap })).bytesOut;
        }
        await this.audit.append({ event: 'age.decrypt', outcome: 'ok', key: used, path: p.input, client: call.client });
        return { ...(p.output !== undefined ? { output: p.output } : {}), bytesOut, key: used };
      } catch (e) {
        await this.audit.append({ event: 'age.decrypt', outcome: 'failed', path: p.input, client: call.client, detail: errorSummary(e), ...(used ? { key: used } : {}) });
        throw e;
      }
    },

    ageInspect: async (p) => {
      const info = await inspect(p.input);
      let keys: string[] = [];
      try {
        const h = await readHeader(p.input);
        keys = (await this.keystore.openers(h.raw)).map((o) => o.ref);
      } catch {
        keys = [];
      }
      return { armored: info.armored, stanzas: info.stanzas, headerSize: info.headerSize, payloadSize: info.payloadSize, keys };
    },
  };
}

function backendFor(kind: Registry['backend'], home: string): SecretBackend {
  return kind === 'file' ? new FileBackend(path.join(home, 'keystore.age')) : new KeychainBackend();
}

/** A failure's message for the audit log: our own messages hold no secrets; others are reduced to a class. */
function errorSummary(e: unknown): string {
  if (e instanceof KeywardError) return e.message;
  return 'internal error';
}
