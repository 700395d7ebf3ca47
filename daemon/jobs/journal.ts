import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { errnoCode } from '../util/errors';

/**
 * A job's journal: append-only JSONL under KEYWARD_HOME/jobs/, one fsync'd line per step, so
 * that a crash (kill -9, power loss) at any point leaves enough to finish the job on restart.
 * Line 1 is the job itself; every later line is an event. It holds paths, phases and public
 * headers (stanzas and MACs), never a key or plaintext.
 */
export interface JobSpec<P = unknown> {
  id: string;
  kind: string;
  createdAt: string;
  client: string;
  files: string[];
  params: P;
}

export type FileEvent =
  | { f: number; phase: 'staged'; data: unknown }
  | { f: number; phase: 'done'; bytes: number; detail?: string }
  | { f: number; phase: 'failed'; error: string }
  | { f: number; phase: 'skipped'; detail: string };

export type JobEvent = FileEvent | { phase: 'cancelled' } | { phase: 'finished' };

export interface Replayed<P> {
  spec: JobSpec<P>;
  /** The last event of each file, by index. */
  files: Map<number, FileEvent>;
  ended: 'cancelled' | 'finished' | null;
}

export class Journal {
  private tail: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly file: string,
    private readonly handle: fsp.FileHandle,
  ) {}

  static dir(home: string): string {
    return path.join(home, 'jobs');
  }

  static async create<P>(home: string, spec: JobSpec<P>): Promise<Journal> {
    const dir = Journal.dir(home);
    await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
    const file = path.join(dir, `${spec.id}.jsonl`);
    const h = await fsp.open(file, 'wx', 0o600);
    const j = new Journal(file, h);
    await j.writeLine(spec);
    return j;
  }

  /** Opens an existing journal to append to it (resume). */
  static async reopen(file: string): Promise<Journal> {
    return new Journal(file, await fsp.open(file, 'a', 0o600));
  }

  append(e: JobEvent): Promise<void> {
    const run = this.tail.then(() => this.writeLine(e));
    this.tail = run.catch(() => undefined);
    return run;
  }

  async close(): Promise<void> {
    await this.tail;
    await this.handle.close();
  }

  private async writeLine(v: unknown): Promise<void> {
    await this.handle.write(JSON.stringify(v) + '\n');
    await this.handle.sync();
  }

  /**
   * Reads a journal back. A torn last line (the crash came mid-write) is ignored: the step
   * it described had not been recorded, so it is redone.
   */
  static async replay<P>(file: string): Promise<Replayed<P>> {
    const text = await fsp.readFile(file, 'utf8');
    const lines = text.split('\n');
    const first = lines.shift();
    if (!first) throw new Error('empty job journal');
    const spec = JSON.parse(first) as JobSpec<P>;
    const files = new Map<number, FileEvent>();
    let ended: Replayed<P>['ended'] = null;
    for (const line of lines) {
      if (!line) continue;
      let e: JobEvent;
      try {
        e = JSON.parse(line) as JobEvent;
      } catch {
        break;
      }
      if ('f' in e) files.set(e.f, e);
      else ended = e.phase;
    }
    return { spec, files, ended };
  }

  static async list(home: string): Promise<string[]> {
    try {
      return (await fsp.readdir(Journal.dir(home))).filter((f) => f.endsWith('.jsonl')).map((f) => path.join(Journal.dir(home), f));
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return [];
      throw e;
    }
  }
}
