import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { encryptArtifact } from '../artifacts/encrypt';
import type { AuditEvent } from '../audit/log';
import type { Keystore } from '../keystore/keystore';
import { POLICY_FILE, type PolicyMatch } from '../policy/protection';
import type { WorkspaceEventParams } from '../protocol/workspace';
import { errnoCode, failureDetail, ioError, isKeywardError } from '../util/errors';
import { hashAgeContent, hashFile, mtimeMs, readHashed, regularFileSig, sameSig, type FileSig } from './content';
import { ensureIgnored } from './gitignore';
import type { ArtifactStates } from './state';

// Protecting one settled file: decide whether its `.age` is current, encrypt if not, then keep
// (and git-ignore) or remove the plaintext as the policy says. The watcher decides *when*;
// this decides *what*. Every encryption, removal, refusal and failure is audited (paths and
// outcomes only) and reported to the workspace's clients.

export interface ProtectContext {
  /** The keystore of the moment (`keystore/use` can replace it). */
  keystore(): Keystore;
  record(e: AuditEvent): Promise<void>;
  states: ArtifactStates;
  emit(ev: WorkspaceEventParams): void;
  /** Of `recipients` named by the config file `source`, those the user has not agreed to (daemon/trust). */
  untrusted(source: string, recipients: readonly string[]): Promise<string[]>;
}

export interface ProtectJob {
  root: string;
  /** The plaintext file. */
  abs: string;
  /** Its POSIX path relative to the root (for messages and .gitignore). */
  rel: string;
  match: PolicyMatch;
  /** The signature the file had when it was found stable; anything else means "still changing". */
  settled: FileSig;
  /** Aborted when the file changes again or the watcher stops. */
  signal: AbortSignal;
}

/**
 * `encrypted`, `removed`, `unchanged`: done. `flagged`: left unencrypted on purpose (said why).
 * `error`: failed (said why). `changed`: the file changed under us; try again once it settles.
 * `gone`: the file is no longer there (or no longer a regular file).
 */
export type ProtectOutcome = 'encrypted' | 'removed' | 'unchanged' | 'flagged' | 'error' | 'changed' | 'gone';

export async function protectFile(ctx: ProtectContext, job: ProtectJob): Promise<ProtectOutcome> {
  const run = new Run(ctx, job);
  try {
    return await run.go();
  } catch (e) {
    if (job.signal.aborted) return 'changed';
    return run.fail('protect', e);
  }
}

class Run {
  private readonly agePath: string;

  constructor(
    private readonly ctx: ProtectContext,
    private readonly job: ProtectJob,
  ) {
    this.agePath = job.abs + '.age';
  }

  private get name(): string {
    return this.job.rel;
  }

  async go(): Promise<ProtectOutcome> {
    const { job } = this;
    const sig = await regularFileSig(job.abs);
    if (!sig) return 'gone';
    if (!sameSig(sig, job.settled)) return 'changed';

    if (job.match.recipients.length === 0) {
      return this.flag('no recipients in policy', `add recipients to .keyward.yaml (a key name or age1...) so that ${this.name} can be encrypted`);
    }
    let recipients: { recipient: string; ref?: string }[];
    try {
      recipients = resolveRecipients(this.ctx.keystore(), job.match.recipients);
    } catch (e) {
      if (!isKeywardError(e)) throw e;
      return this.flag(`cannot encrypt to the policy's recipients: ${e.message}`, e.hint ?? 'fix the recipients in .keyward.yaml');
    }

    // Recipients named by the repository's .keyward.yaml (not your keys) need your consent.
    const missing = await this.ctx.untrusted(path.join(job.root, POLICY_FILE), recipients.map((r) => r.recipient));
    if (missing.length > 0) {
      return this.flag(
        `.keyward.yaml names ${missing.length} recipient(s) you have not agreed to encrypt to (a new or changed set)`,
        `check who they are and agree: keyward trust add ${job.root} (VS Code asks in a dialog); nothing was encrypted`,
      );
    }

    // Is the existing .age already this content?
    let overwrite = false;
    const ageSig = await this.ageSig();
    if (ageSig === 'not-a-file') {
      const message = `${this.name}.age exists and is not a regular file; not overwritten`;
      await this.ctx.record({ event: 'watch.encrypt', outcome: 'refused', path: this.agePath, detail: message });
      return this.report('error', message, 'move it away; the plaintext is untouched');
    }
    if (ageSig) {
      const known = await this.ctx.states.get(job.abs);
      const ours = known !== undefined && sameSig(known.age, ageSig);
      let plainHash: string | null = ours && sameSig(known.plain, sig) ? known.sha256 : null;
      let ageHash: string | null = ours ? known.sha256 : null;
      let ageRef: string | undefined;
      if (!ours) {
        // A .age we did not write, or that changed since (git pull, keyward decrypt/encrypt).
        try {
          const h = await hashAgeContent(this.agePath, this.ctx.keystore());
          ageHash = h.sha256;
          ageRef = h.ref;
        } catch (e) {
          if (!isKeywardError(e)) throw e;
          ageHash = null; // cannot tell what it holds
        }
      }
      if (ageHash !== null && plainHash === null) {
        plainHash = await hashFile(job.abs, sig);
        if (plainHash === null) return 'changed';
      }
      if (ageHash !== null && plainHash === ageHash) {
        await this.ctx.states.set(job.abs, { plain: sig, sha256: plainHash, age: ageSig, at: new Date().toISOString() });
        return this.afterEncrypted(plainHash, sig, ageRef, false);
      }
      if (!ours && mtimeMs(sig) <= mtimeMs(ageSig)) {
        const why = ageHash === null ? 'none of your keys opens it' : 'it holds other content';
        return this.flag(
          `${this.name}.age is newer than the plaintext and ${why}: not overwritten`,
          `decrypt ${this.name}.age to update your copy, or delete it to encrypt the plaintext again`,
        );
      }
      overwrite = true;
    }
    return this.encrypt(sig, recipients, overwrite);
  }

  private async encrypt(sig: FileSig, recipients: { recipient: string; ref?: string }[], overwrite: boolean): Promise<ProtectOutcome> {
    const { job } = this;
    const changed = new AbortController();
    const signal = AbortSignal.any([job.signal, changed.signal]);
    const hash = createHash('sha256');
    const refs = recipients.flatMap((r) => (r.ref ? [r.ref] : []));
    // Progress for clients (the editor's status bar): at the start, then at most twice a second.
    const progress = (bytesDone: number) => this.ctx.emit({ root: job.root, path: job.abs, kind: 'encrypting', message: `encrypting ${this.name}`, bytesDone, bytesTotal: sig.size });
    let lastProgress = Date.now();
    progress(0);
    try {
      await encryptArtifact({
        input: readHashed(job.abs, sig, hash, () => changed.abort()),
        output: this.agePath,
        recipients: recipients.map((r) => r.recipient),
        keys: refs,
        overwrite,
        signal,
        onProgress: (done) => {
          if (Date.now() - lastProgress < 500) return;
          lastProgress = Date.now();
          progress(done);
        },
      });
    } catch (e) {
      if (signal.aborted) return 'changed'; // nothing was committed: encryptFile checks the signal before its rename
      await this.ctx.record({ event: 'watch.encrypt', outcome: 'failed', path: this.agePath, detail: failureDetail(e), ...(refs.length ? { key: refs.join(',') } : {}) });
      return this.reportFailure('encrypt', e);
    }
    const sha256 = hash.digest('hex');
    const ageSig = await regularFileSig(this.agePath);
    if (ageSig) await this.ctx.states.set(job.abs, { plain: sig, sha256, age: ageSig, at: new Date().toISOString() });
    await this.ctx.record({
      event: 'watch.encrypt',
      outcome: 'ok',
      path: this.agePath,
      detail: `${recipients.length} recipient(s)${overwrite ? ', replaced the older .age' : ''}`,
      ...(refs.length ? { key: refs.join(',') } : {}),
    });
    this.ctx.emit({ root: job.root, path: job.abs, kind: 'encrypted', message: `${this.name} encrypted to ${this.name}.age (${recipients.length} recipient(s))` });
    const after = await this.afterEncrypted(sha256, sig, undefined, true);
    return after === 'unchanged' ? 'encrypted' : after;
  }

  /** The .age holds `sha256`: keep the plaintext (git-ignored) or verify and remove it. */
  private async afterEncrypted(sha256: string, sig: FileSig, verifiedBy: string | undefined, fresh: boolean): Promise<ProtectOutcome> {
    const { job } = this;
    if (job.match.rule.plaintext === 'keep') {
      await this.ignore();
      return 'unchanged';
    }
    let ref = verifiedBy;
    if (fresh || ref === undefined) {
      let opened: { sha256: string; ref: string };
      try {
        opened = await hashAgeContent(this.agePath, this.ctx.keystore());
      } catch (e) {
        if (!isKeywardError(e)) throw e;
        return this.flag(
          `plaintext kept: ${this.name}.age could not be verified (${e.message})`,
          'the policy removes plaintext only after one of your keys decrypts the copy; add one of your keys to the recipients',
        );
      }
      if (opened.sha256 !== sha256) {
        await this.ctx.record({ event: 'watch.remove', outcome: 'refused', path: job.abs, key: opened.ref, detail: 'encrypted copy does not match the plaintext' });
        return this.report('error', `plaintext kept: ${this.name}.age does not decrypt to the plaintext`, 'the file may have changed while it was encrypted; it will be encrypted again when it changes');
      }
      ref = opened.ref;
    }
    if (job.signal.aborted || !sameSig(await regularFileSig(job.abs), sig)) return 'changed';
    try {
      await fsp.unlink(job.abs);
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return 'gone';
      await this.ctx.record({ event: 'watch.remove', outcome: 'failed', path: job.abs, detail: failureDetail(ioError(e, 'remove', job.abs)) });
      return this.reportFailure('remove plaintext of', ioError(e, 'remove', job.abs));
    }
    await this.ctx.record({ event: 'watch.remove', outcome: 'ok', path: job.abs, key: ref, detail: `verified ${path.basename(this.agePath)}` });
    this.ctx.emit({ root: job.root, path: job.abs, kind: 'removed', message: `${this.name} removed after ${this.name}.age verified` });
    return 'removed';
  }

  /** The plaintext stays on disk: keep it out of git. */
  private async ignore(): Promise<void> {
    try {
      await ensureIgnored(this.job.root, this.job.rel);
    } catch (e) {
      this.ctx.emit({ root: this.job.root, path: this.job.abs, kind: 'error', message: `could not add ${this.name} to .gitignore: ${failureDetail(e)}` });
    }
  }

  private async ageSig(): Promise<FileSig | null | 'not-a-file'> {
    try {
      await fsp.lstat(this.agePath);
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return null;
      throw ioError(e, 'read', this.agePath);
    }
    return (await regularFileSig(this.agePath)) ?? 'not-a-file';
  }

  /** Left unencrypted on purpose: audited, reported, and the plaintext is git-ignored. */
  private async flag(message: string, hint: string): Promise<ProtectOutcome> {
    await this.ctx.record({ event: 'watch.flag', outcome: 'refused', path: this.job.abs, detail: message });
    await this.ignore();
    this.ctx.emit({ root: this.job.root, path: this.job.abs, kind: 'flagged', message: `${this.name}: ${message}; ${hint}` });
    return 'flagged';
  }

  private report(kind: 'error', message: string, hint: string): ProtectOutcome {
    this.ctx.emit({ root: this.job.root, path: this.job.abs, kind, message: `${message}; ${hint}` });
    return kind;
  }

  private reportFailure(what: string, e: unknown): ProtectOutcome {
    const hint = isKeywardError(e) && e.hint ? e.hint : 'fix the cause, then save the file again (or register the workspace again) to retry';
    return this.report('error', `could not ${what} ${this.name}: ${failureDetail(e)}; the original is untouched`, hint);
  }

  async fail(what: string, e: unknown): Promise<ProtectOutcome> {
    await this.ctx.record({ event: 'watch.encrypt', outcome: 'failed', path: this.job.abs, detail: failureDetail(e) }).catch(() => undefined);
    return this.reportFailure(what, e);
  }
}

/**
 * The policy's recipients as age recipient strings: `age1...` as they are, key names through
 * the keystore (each must name an active key). All or nothing: encrypting to a subset would
 * lock someone out without a word.
 */
export function resolveRecipients(keystore: Keystore, entries: readonly string[]): { recipient: string; ref?: string }[] {
  const out = new Map<string, { recipient: string; ref?: string }>();
  for (const e of entries) {
    if (e.startsWith('age1')) {
      if (!out.has(e)) out.set(e, { recipient: e });
      continue;
    }
    const [k] = keystore.recipientsFor([e]);
    if (k) out.set(k.recipient, { recipient: k.recipient, ref: k.ref });
  }
  return [...out.values()];
}
