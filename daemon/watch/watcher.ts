import * as path from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import { DEFAULT_SETTLE_MS, NEVER_DIRS, POLICY_FILE, Policy, relativePath } from '../policy/protection';
import type { WorkspaceInfo } from '../protocol/workspace';
import { errnoCode, failureDetail, isKeywardError } from '../util/errors';
import { regularFileSig, sameSig, type FileSig } from './content';
import { protectFile, type ProtectContext, type ProtectOutcome } from './protect';
import { isKeywardTemp } from '../util/temps';

// One registered workspace: chokidar reports that something happened to a file; whether the
// file is done changing is decided here, by its own stat signature (size, mtime in ns, inode):
// a file is encrypted once that signature has stayed the same for the policy's settle_ms.
// Every event pushes the check back, and the check itself re-reads the signature, so a file a
// training job is still writing (growing, or rewritten in place at the same size) is never
// taken half-way, even if an event is lost. chokidar's own awaitWriteFinish is not used: it
// compares sizes only and polls every file it holds back.
//
// While a file is being encrypted, a change to it aborts the encryption before the `.age` is
// replaced (encryptFile checks its signal before the rename), and the file waits to settle again.

const READY_TIMEOUT_MS = 30_000;
const POLICY_RELOAD_DEBOUNCE_MS = 100;

/** At most `max` encryptions at once, across workspaces (they are disk- and CPU-bound). */
export class Limiter {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly max: number) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.max) await new Promise<void>((r) => this.waiting.push(r));
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}

interface Entry {
  timer: NodeJS.Timeout | null;
  /** The last signature seen, and when it was first seen. */
  sig: FileSig | null;
  sigAt: number;
  running: AbortController | null;
  /** The signature the running job encrypts. */
  runningSig: FileSig | null;
  /** An event arrived while the job ran: look again afterwards. */
  dirty: boolean;
}

export class WorkspaceWatcher {
  private fsw: FSWatcher | null = null;
  private policy: Policy | null = null;
  private policyError: string | null = null;
  private watchError: string | null = null;
  private readonly entries = new Map<string, Entry>();
  private readonly jobs = new Set<Promise<void>>();
  private policyTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  private ready = false;

  constructor(
    readonly root: string,
    readonly registeredAt: string,
    private readonly ctx: ProtectContext,
    private readonly limiter: Limiter,
  ) {}

  /**
   * Loads the policy and starts watching; resolves once the initial scan is done (existing
   * files are then waiting to settle like new ones). With `strict`, an invalid policy throws
   * (InvalidInput naming its line) and nothing is started; otherwise the workspace is watched
   * in an error state until `.keyward.yaml` is fixed.
   */
  async start(strict: boolean): Promise<void> {
    try {
      this.policy = await Policy.load(this.root);
    } catch (e) {
      if (strict || !isKeywardError(e)) throw e;
      this.setPolicyError(e.message);
    }
    const fsw = watch(this.root, {
      ignoreInitial: false,
      followSymlinks: false,
      persistent: true,
      ignored: (p: string) => this.ignored(p),
    });
    this.fsw = fsw;
    fsw.on('add', (p) => this.onFile(p));
    fsw.on('change', (p) => this.onFile(p));
    fsw.on('unlink', (p) => this.onUnlink(p));
    fsw.on('error', (e: unknown) => {
      this.watchError = `watching failed: ${errnoCode(e) ?? 'error'}`;
      this.ctx.emit({ root: this.root, path: this.root, kind: 'error', message: this.watchError });
    });
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, READY_TIMEOUT_MS);
      fsw.once('ready', () => {
        clearTimeout(t);
        this.ready = true;
        resolve();
      });
    });
  }

  /** Looks at every protected file again (policy change, re-registration: retries failures too). */
  rescan(): void {
    if (!this.fsw || !this.policy) return;
    for (const [dir, names] of Object.entries(this.fsw.getWatched())) {
      for (const name of names) {
        const abs = path.resolve(this.root, dir, name);
        if (relativePath(this.root, abs) !== POLICY_FILE) this.onFile(abs);
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.policyTimer) clearTimeout(this.policyTimer);
    for (const e of this.entries.values()) {
      if (e.timer) clearTimeout(e.timer);
      e.running?.abort();
    }
    await this.fsw?.close();
    await Promise.allSettled([...this.jobs]);
    this.entries.clear();
  }

  info(): WorkspaceInfo {
    const error = this.policyError ?? this.watchError;
    return {
      root: this.root,
      registeredAt: this.registeredAt,
      state: this.policy && !this.watchError ? 'watching' : 'error',
      ...(this.policy ? { policy: this.policy.view() } : {}),
      ...(error ? { error } : {}),
      pending: this.entries.size,
    };
  }

  // ---- events ------------------------------------------------------------------------------

  private ignored(p: string): boolean {
    const rel = relativePath(this.root, p);
    if (rel === null) return false;
    const parts = rel.split('/');
    // Keyward's temps, and what is inside its private RAM directories (util/ramdir.ts), are its own.
    if (parts.some((x) => NEVER_DIRS.has(x) || isKeywardTemp(x))) return true;
    return (parts[parts.length - 1] ?? '').endsWith('.age');
  }

  private onFile(abs: string): void {
    if (this.stopped) return;
    const rel = relativePath(this.root, abs);
    if (rel === null) return;
    if (rel === POLICY_FILE) {
      // Its initial "add" is the policy start() already loaded.
      if (this.ready) this.schedulePolicyReload();
      return;
    }
    if (!this.policy?.match(rel)) return;
    let e = this.entries.get(abs);
    if (!e) {
      e = { timer: null, sig: null, sigAt: 0, running: null, runningSig: null, dirty: false };
      this.entries.set(abs, e);
    }
    if (e.running) {
      e.dirty = true;
      const job = e;
      // Abort only for a real change (an event can also be an attribute change).
      void regularFileSig(abs).then(
        (s) => {
          if (job.running && !sameSig(s, job.runningSig)) job.running.abort();
        },
        () => job.running?.abort(),
      );
      return;
    }
    this.arm(abs, e, this.settleMs());
    const entry = e;
    void regularFileSig(abs).then(
      (s) => {
        if (s && this.entries.get(abs) === entry && !sameSig(s, entry.sig)) {
          entry.sig = s;
          entry.sigAt = Date.now();
        }
      },
      () => undefined,
    );
  }

  private onUnlink(abs: string): void {
    const e = this.entries.get(abs);
    if (!e) return;
    if (e.timer) clearTimeout(e.timer);
    e.running?.abort();
    this.entries.delete(abs);
  }

  private arm(abs: string, e: Entry, ms: number): void {
    if (e.timer) clearTimeout(e.timer);
    e.timer = setTimeout(() => void this.check(abs, e), ms);
  }

  private async check(abs: string, e: Entry): Promise<void> {
    e.timer = null;
    if (this.stopped || this.entries.get(abs) !== e || e.running) return;
    let sig: FileSig | null;
    try {
      sig = await regularFileSig(abs);
    } catch {
      sig = null;
    }
    if (this.stopped || this.entries.get(abs) !== e || e.timer || e.running) return; // a newer event re-armed it
    if (!sig) {
      this.entries.delete(abs);
      return;
    }
    const settle = this.settleMs();
    if (sameSig(sig, e.sig)) {
      const left = e.sigAt + settle - Date.now();
      if (left > 0) this.arm(abs, e, left);
      else this.launch(abs, e, sig);
      return;
    }
    e.sig = sig;
    e.sigAt = Date.now();
    this.arm(abs, e, settle);
  }

  private launch(abs: string, e: Entry, sig: FileSig): void {
    const rel = relativePath(this.root, abs);
    const match = rel === null ? null : this.policy?.match(rel);
    if (rel === null || !match) {
      this.entries.delete(abs);
      return;
    }
    const ac = new AbortController();
    e.running = ac;
    e.runningSig = sig;
    e.dirty = false;
    const job = this.limiter
      .run((): Promise<ProtectOutcome> => {
        if (this.stopped || ac.signal.aborted) return Promise.resolve('changed');
        return protectFile(this.ctx, { root: this.root, abs, rel, match, settled: sig, signal: ac.signal });
      })
      .catch((): ProtectOutcome => 'error')
      .then((outcome) => {
        e.running = null;
        e.runningSig = null;
        if (this.stopped || this.entries.get(abs) !== e) return;
        if (e.dirty || outcome === 'changed') {
          e.dirty = false;
          this.arm(abs, e, this.settleMs());
        } else {
          this.entries.delete(abs);
        }
      });
    this.jobs.add(job);
    void job.finally(() => this.jobs.delete(job));
  }

  // ---- policy ------------------------------------------------------------------------------

  private settleMs(): number {
    return this.policy?.settleMs ?? DEFAULT_SETTLE_MS;
  }

  private schedulePolicyReload(): void {
    if (this.policyTimer) clearTimeout(this.policyTimer);
    this.policyTimer = setTimeout(() => {
      this.policyTimer = null;
      void this.reloadPolicy();
    }, POLICY_RELOAD_DEBOUNCE_MS);
  }

  private async reloadPolicy(): Promise<void> {
    const file = path.join(this.root, POLICY_FILE);
    try {
      const p = await Policy.load(this.root);
      if (this.stopped) return;
      this.policy = p;
      this.policyError = null;
      await this.ctx.record({ event: 'watch.policy', outcome: 'ok', path: file, detail: p.source.kind === 'file' ? 'loaded' : 'no policy file: defaults' });
      this.rescan();
    } catch (e) {
      if (this.stopped) return;
      const msg = failureDetail(e);
      await this.ctx.record({ event: 'watch.policy', outcome: 'failed', path: file, detail: msg });
      this.setPolicyError(msg);
    }
  }

  private setPolicyError(msg: string): void {
    this.policyError = msg;
    const kept = this.policy ? '; the previous policy stays in force until it is fixed' : '; nothing is encrypted until it is fixed';
    this.ctx.emit({ root: this.root, path: path.join(this.root, POLICY_FILE), kind: 'error', message: `invalid policy: ${msg}${kept}` });
  }
}
