import * as path from 'node:path';
import { promises as fsp } from 'node:fs';
import { writeFileAtomic } from '../util/atomic';
import { errnoCode, ioError } from '../util/errors';
import type { FileSig } from './content';

/**
 * What the watcher last encrypted, per plaintext path: the plaintext's signature and SHA-256
 * and the signature of the `.age` it wrote. It lets a restarted daemon (or a touched but
 * unchanged file) skip re-encryption without decrypting anything. Never plaintext, never a
 * key. `KEYWARD_HOME/watch-state.json`, 0600, written atomically:
 *
 *     { "version": 1, "artifacts": { "/abs/model.pt": { "plain": {size, mtimeNs, ino},
 *       "sha256": "...", "age": {size, mtimeNs, ino}, "at": "ISO date" } } }
 */
export interface ArtifactState {
  plain: FileSig;
  sha256: string;
  age: FileSig;
  at: string;
}

interface StateFile {
  version: 1;
  artifacts: Record<string, ArtifactState>;
}

export class ArtifactStates {
  private data: Map<string, ArtifactState> | null = null;
  private tail: Promise<unknown> = Promise.resolve();

  constructor(readonly file: string) {}

  static in(home: string): ArtifactStates {
    return new ArtifactStates(path.join(home, 'watch-state.json'));
  }

  async get(p: string): Promise<ArtifactState | undefined> {
    return (await this.load()).get(p);
  }

  set(p: string, s: ArtifactState): Promise<void> {
    return this.mutate((m) => m.set(p, s));
  }

  /** Forgets every path under `root` (when a workspace is unregistered). */
  forgetUnder(root: string): Promise<void> {
    const prefix = root.endsWith(path.sep) ? root : root + path.sep;
    return this.mutate((m) => {
      for (const k of [...m.keys()]) if (k.startsWith(prefix)) m.delete(k);
    });
  }

  private mutate(fn: (m: Map<string, ArtifactState>) => void): Promise<void> {
    const run = this.tail.then(async () => {
      const m = await this.load();
      fn(m);
      const out: StateFile = { version: 1, artifacts: Object.fromEntries(m) };
      await writeFileAtomic(this.file, JSON.stringify(out) + '\n', 0o600);
    });
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async load(): Promise<Map<string, ArtifactState>> {
    if (this.data) return this.data;
    let parsed: Partial<StateFile> = {};
    try {
      parsed = JSON.parse(await fsp.readFile(this.file, 'utf8')) as Partial<StateFile>;
    } catch (e) {
      if (errnoCode(e) !== 'ENOENT' && !(e instanceof SyntaxError)) throw ioError(e, 'read', this.file);
      // missing or unreadable: it is a cache; everything is checked again
    }
    this.data ??= new Map(parsed.version === 1 && parsed.artifacts ? Object.entries(parsed.artifacts) : []);
    return this.data;
  }
}
