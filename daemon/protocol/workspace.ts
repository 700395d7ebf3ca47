// The workspace/* methods: workspaces, the protection policy (`.keyward.yaml`) and the watcher
// that encrypts protected files on save. Declared here, spread into `methods` in index.ts;
// served by daemon/watch/handlers.ts.
import { z } from 'zod';
import { AbsPath } from './shapes';

export type PlaintextMode = 'keep' | 'remove';

/** One `protect:` rule of a policy, as the daemon understood it. */
export interface PolicyRuleView {
  glob: string;
  plaintext: PlaintextMode;
  /** Key names (`team`, `team@v2`) and age recipients; empty: nothing to encrypt to. */
  recipients: string[];
  /** Whether `recipients` come from the rule itself or from the policy's default list. */
  recipientsFrom: 'rule' | 'default';
}

export interface PolicyView {
  /** `file`: read from `.keyward.yaml`; `defaults`: there is no such file. */
  source: 'file' | 'defaults';
  /** The policy file, when `source` is `file`. */
  file?: string;
  recipients: string[];
  rules: PolicyRuleView[];
  /** How long a file must be unchanged (size and mtime) before it is encrypted. */
  settleMs: number;
}

export interface WorkspaceInfo {
  /** The registered root (resolved, symlinks followed). */
  root: string;
  registeredAt: string;
  /** `watching`; `error`: the watcher or the policy failed (see `error`). */
  state: 'watching' | 'error';
  /** The policy in force; absent when the policy file is invalid and none was loaded before. */
  policy?: PolicyView;
  /** Why the policy or the watcher failed (names the line of `.keyward.yaml`); never a secret. */
  error?: string;
  /** Files waiting to settle or being encrypted now. */
  pending: number;
}

export interface WorkspaceRegisterResult {
  workspace: WorkspaceInfo;
}

export interface WorkspaceUnregisterResult {
  removed: boolean;
}

export interface WorkspaceListResult {
  workspaces: WorkspaceInfo[];
}

export const workspaceMethods = {
  /**
   * Watches a folder: protected files (by its `.keyward.yaml`, else the defaults) are
   * encrypted to `FILE.age` once they stop changing. Persists across daemon restarts.
   * Idempotent; registering again rescans the folder (and retries files that failed). The
   * calling connection receives `workspace/event` notifications. Refused with InvalidInput
   * when `.keyward.yaml` is invalid (the message names the line).
   */
  workspaceRegister: {
    name: 'workspace/register',
    params: z.strictObject({
      root: AbsPath,
      /** Send `workspace/event` notifications to this connection (default true). */
      events: z.boolean().optional(),
    }),
    result: {} as WorkspaceRegisterResult,
  },
  /** Stops watching a folder and forgets it. Files already encrypted are left as they are. */
  workspaceUnregister: {
    name: 'workspace/unregister',
    params: z.strictObject({ root: AbsPath }),
    result: {} as WorkspaceUnregisterResult,
  },
  workspaceList: {
    name: 'workspace/list',
    params: z.strictObject({}),
    result: {} as WorkspaceListResult,
  },
} as const;

/** Notification from the daemon to clients that registered a workspace with events on. */
export const WorkspaceEventNotification = 'workspace/event';
export interface WorkspaceEventParams {
  root: string;
  /** The plaintext file concerned (or `.keyward.yaml` for policy errors). */
  path: string;
  /**
   * `encrypting`: the watcher started (or goes on) encrypting `path`; `encrypted`: `path.age` was written; `removed`: the plaintext was deleted after its
   * encrypted copy verified; `flagged`: a protected file was left unencrypted (the message
   * says why: no recipients, a newer `.age` exists, ...); `error`: something failed.
   */
  kind: 'encrypting' | 'encrypted' | 'removed' | 'flagged' | 'error';
  message: string;
  /** `encrypting`: plaintext bytes encrypted so far, of `bytesTotal` (sent when it starts, then about every half second). */
  bytesDone?: number;
  bytesTotal?: number;
}
