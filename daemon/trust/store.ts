// The recipient sets the user agreed to, per config file of a repository:
// `KEYWARD_HOME/trust.json` (0600, written atomically).
//
//     { "version": 1, "sources": { "/abs/repo/.sops.yaml": { "recipients": ["age1..."], "agreedAt": "ISO" } } }
//
// A cloned repository's `.keyward.yaml` or `.sops.yaml` can name anyone's recipient; the
// watcher and `sops encrypt` would then encrypt your files to them. So recipients that come
// from a repository's files, other than your own keys, are used only when they are in the set
// agreed to for that very file (./sets.ts decides; the CLI prompts, VS Code shows a dialog).
// Keyed by the file's real path: another clone, or another `.sops.yaml` in a subfolder, is
// asked about on its own.
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../util/atomic';
import { errnoCode, ioError } from '../util/errors';

export interface AgreedSet {
  recipients: string[];
  agreedAt: string;
}

interface TrustFile {
  version: 1;
  sources: Record<string, AgreedSet>;
}

const stores = new Map<string, TrustStore>();

export class TrustStore {
  private tail: Promise<unknown> = Promise.resolve();

  private constructor(private readonly file: string) {}

  /** The store of a KEYWARD_HOME (one object per home, so writes are serialised). */
  static in(home: string): TrustStore {
    const file = path.join(path.resolve(home), 'trust.json');
    let s = stores.get(file);
    if (!s) stores.set(file, (s = new TrustStore(file)));
    return s;
  }

  async agreed(source: string): Promise<AgreedSet | undefined> {
    return (await this.read()).sources[source];
  }

  async list(): Promise<{ source: string; recipients: string[]; agreedAt: string }[]> {
    return Object.entries((await this.read()).sources).map(([source, s]) => ({ source, ...s }));
  }

  grant(source: string, recipients: readonly string[]): Promise<AgreedSet> {
    return this.update((t) => {
      const set = { recipients: [...new Set(recipients)].sort(), agreedAt: new Date().toISOString() };
      t.sources[source] = set;
      return set;
    });
  }

  /** Adds `recipients` to the set agreed for `source`, if there is one (false when there is none). */
  extend(source: string, recipients: readonly string[]): Promise<boolean> {
    return this.update((t) => {
      const set = t.sources[source];
      if (!set) return false;
      t.sources[source] = { recipients: [...new Set([...set.recipients, ...recipients])].sort(), agreedAt: set.agreedAt };
      return true;
    });
  }

  revoke(source: string): Promise<boolean> {
    return this.update((t) => {
      if (!(source in t.sources)) return false;
      delete t.sources[source];
      return true;
    });
  }

  private update<T>(fn: (t: TrustFile) => T): Promise<T> {
    const run = this.tail.then(async () => {
      const t = await this.read();
      const out = fn(t);
      await writeFileAtomic(this.file, JSON.stringify(t, null, 2) + '\n', 0o600);
      return out;
    });
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async read(): Promise<TrustFile> {
    let text: string;
    try {
      text = await fsp.readFile(this.file, 'utf8');
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return { version: 1, sources: {} };
      throw ioError(e, 'read', this.file);
    }
    try {
      const v = JSON.parse(text) as Partial<TrustFile>;
      if (v.version === 1 && v.sources && typeof v.sources === 'object') {
        const sources: Record<string, AgreedSet> = {};
        for (const [k, s] of Object.entries(v.sources)) {
          if (Array.isArray(s?.recipients) && s.recipients.every((r) => typeof r === 'string')) sources[k] = { recipients: s.recipients, agreedAt: String(s.agreedAt ?? '') };
        }
        return { version: 1, sources };
      }
    } catch {
      // unreadable: nothing is trusted (asked again), never the other way round
    }
    return { version: 1, sources: {} };
  }
}
