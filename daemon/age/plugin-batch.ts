import { createHash } from 'node:crypto';
import type { Stanza } from './header';
import type { PluginBatch } from './plugin-context';

// One plugin session for many files of a job. identity-v1 takes the stanzas of many files at
// once: "This state machine unwraps multiple file keys from multiple age-encrypted files. It
// enables amortization of identity-specific costs (such as requesting a PIN or passphrase from
// the user) across multiple file decryptions" (c2sp.org/age-plugin). A job opens its files one
// by one, each through the keystore; without this, each file would start its plugin anew, and a
// hardware key asks its PIN once per session: once per file.
//
// So the first file a plugin identity is asked to open starts a session with the stanzas of the
// job's next files too (those no key of the keystore opens without a plugin: `upcoming`), up to
// MAX_BATCH files; the keys found wait here for their files' turn, each checked by its caller
// against its header MAC as any unwrapped key. A session-wide failure (the PIN refused, the
// device gone) is the answer for every file of that session: asked once, not once per file.
// Wrapping (recipient-v1) is not batched: its first phase carries the file keys themselves
// (`wrap-file-key; FILE_KEY`), so a session for a job would need every file's new key, or every
// file opened, before the first one is written; the recipients of hardware plugins wrap without a
// PIN or touch in any case.

/** The most files in one session (their keys wait in memory until the job ends). */
export const MAX_BATCH = 1024;

type Outcome = { key?: Uint8Array; error?: Error };
type Session = (files: readonly (readonly Stanza[])[]) => Promise<Outcome[]>;

export class UnwrapBatch implements PluginBatch {
  /** By plugin and identities: by stanzas' fingerprint, what the session gave. */
  private readonly found = new Map<string, Map<string, Outcome>>();
  private readonly running = new Map<string, Promise<void>>();
  private disposed = false;

  /** `upcoming`: the stanzas of the job's files still to come that may need a plugin (the current ones first). */
  constructor(private readonly upcoming: () => Promise<(readonly Stanza[])[]>) {}

  async unwrap(name: string, identities: readonly string[], stanzas: readonly Stanza[], session: Session): Promise<Uint8Array | undefined> {
    const who = [name, ...identities].join('\n');
    const fp = fingerprint(stanzas);
    for (let attempt = 0; attempt < 2; attempt++) {
      const o = this.found.get(who)?.get(fp);
      if (o) return take(o);
      const pending = this.running.get(who);
      if (pending) {
        await pending.catch(() => undefined);
        continue;
      }
      const run = this.fetch(who, fp, stanzas, session);
      this.running.set(who, run);
      try {
        await run;
      } finally {
        this.running.delete(who);
      }
    }
    const o = this.found.get(who)?.get(fp);
    if (o) return take(o);
    // Not in any batch (a header read while the batch was being made): on its own.
    const [alone] = await session([stanzas]);
    return take(alone ?? {});
  }

  /** Forgets every key it holds (the job is over). */
  dispose(): void {
    this.disposed = true;
    for (const m of this.found.values()) for (const o of m.values()) o.key?.fill(0);
    this.found.clear();
  }

  private async fetch(who: string, fp: string, stanzas: readonly Stanza[], session: Session): Promise<void> {
    let known = this.found.get(who);
    if (!known) this.found.set(who, (known = new Map<string, Outcome>()));
    const files: (readonly Stanza[])[] = [stanzas];
    const fps = [fp];
    for (const s of await this.upcoming().catch(() => [])) {
      if (files.length >= MAX_BATCH) break;
      const f = fingerprint(s);
      if (known.has(f) || fps.includes(f)) continue;
      files.push(s);
      fps.push(f);
    }
    let outcomes: Outcome[];
    try {
      outcomes = await session(files);
    } catch (e) {
      outcomes = files.map(() => ({ error: e as Error }));
    }
    if (this.disposed) {
      for (const o of outcomes) o.key?.fill(0);
      return;
    }
    fps.forEach((f, i) => known.set(f, outcomes[i] ?? {}));
  }
}

/** A copy of the key (the caller wipes what it gets), or the file's error. */
function take(o: Outcome): Uint8Array | undefined {
  if (o.error) throw o.error;
  return o.key ? Uint8Array.from(o.key) : undefined;
}

/** Identifies a file's stanzas: equal for the same header read twice. */
export function fingerprint(stanzas: readonly Stanza[]): string {
  const h = createHash('sha256');
  for (const s of stanzas) h.update(`${[s.type, ...s.args].join(' ')} ${s.body.length}\n`).update(s.body);
  return h.digest('hex');
}
