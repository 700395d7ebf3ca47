// What the views show, loaded from the daemon: the encrypted artifacts of every workspace
// folder (model files from `artifacts/status`, secret configs from sops files found in the
// folder and `sops/info`), and the keys. Reloaded on demand and when files change; the views
// only render it.
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { ErrorCode, type ArtifactDescription, type ArtifactStatus, type KeyInfo, type KeyVersionInfo, type PolicyWarning, type SopsFileInfo, type SopsKeyPlan } from '../daemon/protocol';
import type { DaemonConnection } from './client/connection';
import { describeError, isDaemonError } from './client/errors';
import { isSopsText, SOPS_CANDIDATE_GLOB } from './sops/detect';

export interface ModelArtifact {
  kind: 'model';
  folder: vscode.WorkspaceFolder;
  status: ArtifactStatus;
  /** Modification time of the encrypted file: when it was last written (rotated or rewrapped). */
  mtime?: Date;
  /** Warnings found by the extension: keys due for rotation, the team policy out of step. */
  notes: string[];
}

export interface SecretConfig {
  kind: 'sops';
  folder: vscode.WorkspaceFolder;
  path: string;
  info?: SopsFileInfo;
  /** Master keys `.sops.yaml` wants added or removed. */
  plan?: SopsKeyPlan;
  /** Why `info` is missing (the daemon cannot read sops files yet, a malformed file, ...). */
  error?: string;
  warnings: string[];
}

export interface FolderInventory {
  folder: vscode.WorkspaceFolder;
  models: ModelArtifact[];
  secrets: SecretConfig[];
  policyWarnings: PolicyWarning[];
  policyError?: string;
  truncated: boolean;
  error?: string;
}

export interface Inventory {
  /** Whether the daemon answered (false: every list below is empty). */
  connected: boolean;
  folders: FolderInventory[];
  keys: KeyInfo[];
  keysError?: string;
  loadedAt: Date;
}

const MAX_SOPS_CANDIDATES = 5000;
const MAX_SOPS_BYTES = 4 * 1024 * 1024;

export class InventoryStore implements vscode.Disposable {
  private data: Inventory | undefined;
  private loading: Promise<Inventory> | undefined;
  private again = false;
  /** MAC results seen when files were opened decrypted (path -> verified). */
  private readonly macSeen = new Map<string, boolean>();
  private readonly teamCache = new Map<string, { at: number; files: Map<string, string> }>();
  private forceTeam = false;
  /** artifacts/describe results by path, valid while the file's size and mtime are the same. */
  private readonly described = new Map<string, { sig: string; d: Promise<ArtifactDescription> }>();
  private readonly emitter = new vscode.EventEmitter<Inventory>();
  readonly onDidChange = this.emitter.event;

  constructor(
    private readonly conn: DaemonConnection,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  get current(): Inventory | undefined {
    return this.data;
  }

  /** Whether the last load reached the daemon. */
  get connected(): boolean | undefined {
    return this.data ? this.data.connected : undefined;
  }

  /** Reloads (coalescing concurrent requests) and resolves with the fresh inventory. */
  refresh(): Promise<Inventory> {
    if (this.loading) {
      this.again = true;
      return this.loading;
    }
    this.loading = (async () => {
      let inv: Inventory;
      do {
        this.again = false;
        inv = await this.load();
        this.forceTeam = false;
      } while (this.again);
      return inv;
    })().finally(() => (this.loading = undefined));
    return this.loading;
  }

  /** The views ask for data: load once if nothing is loaded yet. */
  async ensure(): Promise<Inventory> {
    return this.data ?? this.refresh();
  }

  /** The daemon went away: the views show their "not connected" welcome until it is back. */
  markDisconnected(): void {
    if (this.data?.connected === false) return;
    this.data = { connected: false, folders: [], keys: [], loadedAt: new Date() };
    this.emitter.fire(this.data);
  }

  recordMac(file: string, verified: boolean): void {
    if (this.macSeen.get(file) === verified) return;
    this.macSeen.set(file, verified);
    void this.refresh();
  }

  /**
   * What a file is encrypted to, named, with its data key fingerprint (artifacts/describe),
   * cached until the file changes. Rejects when the daemon cannot describe it.
   */
  async describe(file: string): Promise<ArtifactDescription> {
    const st = await fsp.stat(file);
    const sig = `${st.size}:${st.mtimeMs}:${this.data?.loadedAt.getTime() ?? 0}`;
    const hit = this.described.get(file);
    if (hit && hit.sig === sig) return hit.d;
    const d = this.conn.call('artifactsDescribe', { path: file }, { timeoutMs: 60_000 });
    this.described.set(file, { sig, d });
    d.catch(() => this.described.delete(file));
    return d;
  }

  findKeyVersion(ref: string): KeyVersionInfo | undefined {
    for (const k of this.data?.keys ?? []) for (const v of k.versions) if (v.ref === ref) return v;
    return undefined;
  }

  dispose(): void {
    this.emitter.dispose();
  }

  private async load(): Promise<Inventory> {
    const started = Date.now();
    let keys: KeyInfo[] = [];
    let keysError: string | undefined;
    try {
      keys = (await this.conn.call('keysList', {})).keys;
    } catch (e) {
      keysError = describeError(e);
      if (isDaemonError(e, ErrorCode.DaemonUnavailable)) {
        const inv: Inventory = { connected: false, folders: [], keys: [], keysError, loadedAt: new Date() };
        this.data = inv;
        this.emitter.fire(inv);
        return inv;
      }
    }
    const folders: FolderInventory[] = [];
    for (const folder of vscode.workspace.workspaceFolders ?? []) {
      if (folder.uri.scheme !== 'file') continue;
      folders.push(await this.loadFolder(folder, keys));
    }
    const inv: Inventory = { connected: true, folders, keys, loadedAt: new Date(), ...(keysError ? { keysError } : {}) };
    this.data = inv;
    this.log.debug(`inventory loaded in ${Date.now() - started} ms: ${folders.reduce((n, f) => n + f.models.length, 0)} models, ${folders.reduce((n, f) => n + f.secrets.length, 0)} secret configs, ${keys.length} keys`);
    this.emitter.fire(inv);
    return inv;
  }

  private async loadFolder(folder: vscode.WorkspaceFolder, keys: KeyInfo[]): Promise<FolderInventory> {
    const out: FolderInventory = { folder, models: [], secrets: [], policyWarnings: [], truncated: false };
    const team = await this.teamPlan(folder.uri.fsPath);
    try {
      const st = await this.conn.call('artifactsStatus', { path: folder.uri.fsPath }, { timeoutMs: 60_000 });
      out.policyWarnings = st.policyWarnings;
      if (st.policyError) out.policyError = st.policyError;
      out.truncated = st.truncated;
      for (const a of st.artifacts) {
        const m: ModelArtifact = { kind: 'model', folder, status: a, notes: [] };
        for (const ref of a.keys) {
          const v = keys.flatMap((k) => k.versions).find((x) => x.ref === ref);
          if (v?.rotation === 'due' && v.state === 'active') m.notes.push(`rotation due: ${ref} is past its cryptoperiod`);
        }
        const plan = team?.get(a.path);
        if (plan) m.notes.push(plan);
        if (a.encrypted) {
          try {
            m.mtime = (await fsp.stat(a.path)).mtime;
          } catch {
            // gone since: the next refresh drops it
          }
        }
        out.models.push(m);
      }
    } catch (e) {
      out.error = describeError(e);
      return out;
    }
    out.secrets = await this.loadSecrets(folder, keys);
    for (const sc of out.secrets) {
      const plan = team?.get(sc.path);
      if (plan) sc.warnings.push(plan);
    }
    return out;
  }

  /**
   * Files out of step with the team policy (`team:` in .keyward.yaml), by path, as a warning.
   * The plan may read the member list from AWS, so it is cached for five minutes (a manual
   * refresh or a team sync renews it); KMS keys are not described (`kms: false`).
   */
  private async teamPlan(root: string): Promise<Map<string, string> | undefined> {
    let text: string;
    try {
      text = await fsp.readFile(path.join(root, '.keyward.yaml'), 'utf8');
    } catch {
      return undefined;
    }
    if (!/^team:/m.test(text)) return undefined;
    const cached = this.teamCache.get(root);
    if (cached && Date.now() - cached.at < 5 * 60_000 && !this.forceTeam) return cached.files;
    const files = new Map<string, string>();
    try {
      const plan = await this.conn.call('teamPlan', { root, kms: false }, { timeoutMs: 60_000 });
      for (const e of plan.entries) {
        if (e.action === 'none' || e.action === 'skip') continue;
        const what = [e.add.length + e.addKms.length ? `${e.add.length + e.addKms.length} to add` : '', e.remove.length + e.dropKms.length ? `${e.remove.length + e.dropKms.length} to remove` : ''].filter(Boolean).join(', ');
        files.set(e.file, `recipients out of step with the team policy${what ? ` (${what})` : ''}: run Sync Team Recipients`);
      }
    } catch (e) {
      this.log.debug(`team/plan ${root}: ${describeError(e)}`);
    }
    this.teamCache.set(root, { at: Date.now(), files });
    return files;
  }

  /** The next refresh asks for a fresh team plan. */
  renewTeamPlan(): void {
    this.forceTeam = true;
  }

  private async loadSecrets(folder: vscode.WorkspaceFolder, keys: KeyInfo[]): Promise<SecretConfig[]> {
    const files = await findSopsFiles(folder);
    if (files.length === 0) return [];
    let plans = new Map<string, SopsKeyPlan>();
    let sopsAvailable = true;
    try {
      const r = await this.conn.call('sopsPlanKeys', { paths: files }, { timeoutMs: 60_000 });
      plans = new Map(r.plan.map((p) => [p.file, p]));
    } catch (e) {
      if (isDaemonError(e, ErrorCode.MethodNotFound)) sopsAvailable = false;
      else this.log.warn(`sops/planKeys: ${describeError(e)}`);
    }
    const byRef = new Map<string, KeyVersionInfo>();
    for (const k of keys) for (const v of k.versions) byRef.set(v.ref, v);
    const out: SecretConfig[] = [];
    for (const file of files) {
      const s: SecretConfig = { kind: 'sops', folder, path: file, warnings: [] };
      if (!sopsAvailable) {
        s.error = 'this daemon cannot read sops files yet: update Keyward and restart the daemon';
        out.push(s);
        continue;
      }
      try {
        s.info = await this.conn.call('sopsInfo', { path: file });
      } catch (e) {
        s.error = describeError(e);
        out.push(s);
        continue;
      }
      const plan = plans.get(file);
      if (plan && !plan.skipped && (plan.add.length || plan.remove.length)) {
        s.plan = plan;
        s.warnings.push(`recipients out of step with .sops.yaml: ${[plan.add.length ? `${plan.add.length} to add` : '', plan.remove.length ? `${plan.remove.length} to remove` : ''].filter(Boolean).join(', ')}`);
      }
      if (!s.info.canDecrypt) s.warnings.push('none of your keys opens it');
      if (this.macSeen.get(file) === false) s.warnings.push('MAC invalid: the file was changed outside sops');
      for (const group of s.info.keyGroups) {
        for (const k of group) {
          const v = k.ref ? byRef.get(k.ref) : undefined;
          if (!v) continue;
          if (v.rotation === 'due') s.warnings.push(`rotation due: ${v.ref} is past its cryptoperiod`);
          if (v.state === 'compromised') s.warnings.push(`encrypted to ${v.ref}, which is compromised: rotate the data key`);
          else if (v.state === 'deactivated' || v.state === 'destroyed') s.warnings.push(`encrypted to ${v.ref}, which is ${v.state}`);
        }
      }
      out.push(s);
    }
    return out;
  }
}

/** sops files of a folder: candidates by extension, confirmed by their `sops` metadata. */
export async function findSopsFiles(folder: vscode.WorkspaceFolder, token?: vscode.CancellationToken): Promise<string[]> {
  const uris = await vscode.workspace.findFiles(new vscode.RelativePattern(folder, SOPS_CANDIDATE_GLOB), '**/{node_modules,.git}/**', MAX_SOPS_CANDIDATES, token);
  const found: string[] = [];
  for (const u of uris) {
    const base = path.basename(u.fsPath);
    if (base === '.sops.yaml' || base === '.keyward.yaml' || base === '.keyward-baseline.json') continue;
    try {
      const st = await fsp.stat(u.fsPath);
      if (!st.isFile() || st.size > MAX_SOPS_BYTES) continue;
      if (isSopsText(await fsp.readFile(u.fsPath, 'utf8'), u.fsPath)) found.push(u.fsPath);
    } catch {
      // vanished or unreadable: not listed
    }
  }
  return found.sort();
}
