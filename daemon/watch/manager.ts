import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { AuditEvent } from '../audit/log';
import type { Keystore } from '../keystore/keystore';
import { ErrorCode } from '../protocol';
import { WorkspaceEventNotification, type WorkspaceEventParams, type WorkspaceInfo } from '../protocol/workspace';
import { writeFileAtomic } from '../util/atomic';
import { KeywardError, errnoCode, ioError, isKeywardError } from '../util/errors';
import { POLICY_FILE, Policy } from '../policy/protection';
import { protectRecipients, requireTrusted, untrusted } from '../trust/sets';
import type { ProtectContext } from './protect';
import { ArtifactStates } from './state';
import { Limiter, WorkspaceWatcher } from './watcher';

// The daemon's registered workspaces: one WorkspaceWatcher each, persisted in
// `KEYWARD_HOME/workspaces.json` (0600, written atomically) so a restarted daemon watches
// them again:
//
//     { "version": 1, "workspaces": [ { "root": "/abs/path", "registeredAt": "ISO date" } ] }
//
// Clients that registered with events on receive `workspace/event` notifications; a client
// whose connection is gone is dropped at the first failed send.

const MAX_WORKSPACES = 64;
const MAX_SUBSCRIBERS = 32;
const MAX_CONCURRENT_ENCRYPTIONS = 2;

type Notify = (method: string, params: unknown) => Promise<void>;

interface Persisted {
  version: 1;
  workspaces: { root: string; registeredAt: string }[];
}

/** What the watcher needs of the daemon (Service.open gives it). */
export interface WatchDeps {
  /** KEYWARD_HOME: workspaces.json, watch-state.json, trust.json. */
  home: string;
  /** The keystore as it is now (replaced when the backend changes). */
  keystore: () => Keystore;
  audit: (e: AuditEvent) => Promise<void>;
}

export class WatchManager {
  private readonly watchers = new Map<string, WorkspaceWatcher>();
  private readonly subscribers = new Map<string, Notify[]>();
  private readonly limiter = new Limiter(MAX_CONCURRENT_ENCRYPTIONS);
  private statesCache: ArtifactStates | null = null;
  private ctxCache: ProtectContext | null = null;
  private tail: Promise<unknown> = Promise.resolve();

  constructor(private readonly d: WatchDeps) {}

  private get states(): ArtifactStates {
    return (this.statesCache ??= ArtifactStates.in(this.d.home));
  }

  private get ctx(): ProtectContext {
    return (this.ctxCache ??= {
      keystore: this.d.keystore,
      record: this.d.audit,
      states: this.states,
      emit: (ev) => this.emit(ev),
      untrusted: (source, recipients) => untrusted(this.d.home, this.d.keystore(), source, recipients),
    });
  }

  private get file(): string {
    return path.join(this.d.home, 'workspaces.json');
  }

  /**
   * Watches `root` (idempotent: a second call rescans and retries failed files). Throws
   * InvalidInput for a root that cannot be a workspace or an invalid `.keyward.yaml`.
   */
  register(root: string, notify: Notify | undefined, client: string): Promise<WorkspaceInfo> {
    return this.serial(async () => {
      const real = await this.checkRoot(root);
      await this.requireTrustedPolicy(real);
      let w = this.watchers.get(real);
      if (w) {
        w.rescan();
      } else {
        this.refuseOverlap(real);
        if (this.watchers.size >= MAX_WORKSPACES) {
          throw new KeywardError(ErrorCode.IllegalState, `already watching ${MAX_WORKSPACES} workspaces`, 'unregister one first (keyward workspace remove PATH)');
        }
        w = new WorkspaceWatcher(real, new Date().toISOString(), this.ctx, this.limiter);
        await w.start(true);
        this.watchers.set(real, w);
        await this.persist(real, w.registeredAt);
        await this.d.audit({ event: 'workspace.register', outcome: 'ok', path: real, client });
      }
      if (notify) {
        const subs = this.subscribers.get(real) ?? [];
        subs.push(notify);
        if (subs.length > MAX_SUBSCRIBERS) subs.shift();
        this.subscribers.set(real, subs);
      }
      return w.info();
    });
  }

  unregister(root: string, client: string): Promise<boolean> {
    return this.serial(async () => {
      const real = await fsp.realpath(root).catch(() => path.resolve(root));
      const keys = [...new Set([real, root])];
      let removed = false;
      for (const key of keys) {
        const w = this.watchers.get(key);
        if (!w) continue;
        this.watchers.delete(key);
        this.subscribers.delete(key);
        await w.stop();
        removed = true;
      }
      const before = await this.readPersisted();
      const after = before.filter((w) => !keys.includes(w.root));
      if (after.length !== before.length) {
        await this.writePersisted(after);
        removed = true;
      }
      if (!removed) return false;
      for (const key of keys) await this.states.forgetUnder(key);
      await this.d.audit({ event: 'workspace.unregister', outcome: 'ok', path: real, client });
      return true;
    });
  }

  /** Watched workspaces, and registered ones that are not watched now (folder missing, start failed). */
  async list(): Promise<WorkspaceInfo[]> {
    const out = [...this.watchers.values()].map((w) => w.info());
    for (const w of await this.readPersisted()) {
      if (this.watchers.has(w.root)) continue;
      out.push({ root: w.root, registeredAt: w.registeredAt, state: 'error', error: 'not watched: the folder is missing or could not be watched; register it again', pending: 0 });
    }
    return out;
  }

  /** The registered workspace that contains `abs`, if any. */
  rootFor(abs: string): string | undefined {
    let best: string | undefined;
    for (const r of this.watchers.keys()) {
      if ((abs === r || abs.startsWith(r + path.sep)) && (best === undefined || r.length > best.length)) best = r;
    }
    return best;
  }

  /**
   * Starts watching the workspaces registered before (the daemon calls this once at start).
   * A workspace whose folder is gone is skipped (and kept in the list); one with an invalid
   * policy is watched in an error state until the file is fixed.
   */
  resume(): Promise<void> {
    return this.serial(async () => {
      for (const w of await this.readPersisted()) {
        if (this.watchers.has(w.root)) continue;
        try {
          const st = await fsp.stat(w.root);
          if (!st.isDirectory()) continue;
          const watcher = new WorkspaceWatcher(w.root, w.registeredAt, this.ctx, this.limiter);
          await watcher.start(false);
          this.watchers.set(w.root, watcher);
        } catch (e) {
          await this.d.audit({ event: 'workspace.resume', outcome: 'failed', path: w.root, detail: isKeywardError(e) ? e.message : (errnoCode(e) ?? 'error') });
        }
      }
    });
  }

  async dispose(): Promise<void> {
    const all = [...this.watchers.values()];
    this.watchers.clear();
    this.subscribers.clear();
    await Promise.allSettled(all.map((w) => w.stop()));
  }

  // ---- internals ---------------------------------------------------------------------------

  private emit(ev: WorkspaceEventParams): void {
    const subs = this.subscribers.get(ev.root);
    if (!subs) return;
    for (const n of [...subs]) {
      const drop = () => {
        const i = subs.indexOf(n);
        if (i >= 0) subs.splice(i, 1);
      };
      try {
        n(WorkspaceEventNotification, ev).catch(drop);
      } catch {
        drop();
      }
    }
  }

  private async checkRoot(root: string): Promise<string> {
    let real: string;
    try {
      real = await fsp.realpath(root);
      if (!(await fsp.stat(real)).isDirectory()) throw new KeywardError(ErrorCode.InvalidInput, `not a directory: ${root}`, 'register the folder of your project');
    } catch (e) {
      if (e instanceof KeywardError) throw e;
      throw ioError(e, 'watch', root);
    }
    if (path.dirname(real) === real) throw new KeywardError(ErrorCode.InvalidInput, 'refusing to watch a file system root', 'register the folder of your project');
    const home = await fsp.realpath(this.d.home).catch(() => path.resolve(this.d.home));
    if (real === home || real.startsWith(home + path.sep) || home.startsWith(real + path.sep)) {
      throw new KeywardError(ErrorCode.InvalidInput, `refusing to watch a folder that holds or is inside Keyward's own state (${home})`, 'register the folder of your project');
    }
    return real;
  }

  /** Registering asks for consent to the recipients the folder's .keyward.yaml names (not yours). */
  private async requireTrustedPolicy(real: string): Promise<void> {
    const policy = await Policy.load(real);
    if (policy.source.kind !== 'file') return;
    await requireTrusted(this.d.home, this.d.keystore(), path.join(real, POLICY_FILE), protectRecipients(policy));
  }

  private refuseOverlap(real: string): void {
    for (const r of this.watchers.keys()) {
      if (real.startsWith(r + path.sep)) {
        throw new KeywardError(ErrorCode.AlreadyExists, `${real} is already watched as part of ${r}`, 'one workspace per tree: the outer one applies its .keyward.yaml');
      }
      if (r.startsWith(real + path.sep)) {
        throw new KeywardError(ErrorCode.IllegalState, `${real} contains the watched workspace ${r}`, `unregister ${r} first`);
      }
    }
  }

  private async persist(root: string, registeredAt: string): Promise<void> {
    const list = (await this.readPersisted()).filter((w) => w.root !== root);
    list.push({ root, registeredAt });
    await this.writePersisted(list);
  }

  private async writePersisted(workspaces: Persisted['workspaces']): Promise<void> {
    const data: Persisted = { version: 1, workspaces };
    await writeFileAtomic(this.file, JSON.stringify(data, null, 2) + '\n', 0o600);
  }

  private async readPersisted(): Promise<Persisted['workspaces']> {
    try {
      const v = JSON.parse(await fsp.readFile(this.file, 'utf8')) as Partial<Persisted>;
      if (v.version !== 1 || !Array.isArray(v.workspaces)) return [];
      return v.workspaces.filter((w) => typeof w.root === 'string' && path.isAbsolute(w.root) && typeof w.registeredAt === 'string');
    } catch (e) {
      if (errnoCode(e) === 'ENOENT' || e instanceof SyntaxError) return [];
      throw ioError(e, 'read', this.file);
    }
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn);
    this.tail = run.catch(() => undefined);
    return run;
  }
}
