import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { ErrorCode, type JobInfo, type JobState } from '../protocol';
import { currentPluginSession, withPluginSession, type Stanza } from '../age';
import { MAX_BATCH, UnwrapBatch } from '../age/plugin-batch';
import type { AuditEvent } from '../audit/log';
import { KeywardError, isKeywardError } from '../util/errors';
import { Journal, type FileEvent, type JobSpec } from './journal';

/**
 * One kind of per-file work (rewrap, rotate). The contract that makes jobs crash-safe:
 * `stage` does the slow part without touching the original (a temp file beside it, or a new
 * header kept in memory) and returns what `commit` needs, which is journaled; `commit` is
 * one atomic step (a rename, or a same-size header write) and idempotent, so that redoing it
 * after a crash is harmless. A file is therefore always in its old or its new complete form.
 */
export interface FileOp<P> {
  stage(file: string, params: P, ctx: StageContext): Promise<{ data: unknown } | { skip: string }>;
  /** `key`: the key version used (audited with the file), when the work opened the file. */
  commit(file: string, data: unknown): Promise<{ bytes: number; detail?: string; key?: string }>;
  /** Removes what a stage left behind when it is not going to be committed. */
  discard(file: string, ctx: { jobId: string; params: P }): Promise<void>;
  /** Default number of files worked on at once. */
  concurrency: number;
  /**
   * The stanzas of a file that only a plugin identity may open (none of the keystore's other
   * keys does), or null: the job's plugin unwraps are batched over those (age/plugin-batch.ts).
   */
  pluginStanzas?(file: string, params: P): Promise<readonly Stanza[] | null>;
}

export interface StageContext {
  jobId: string;
  signal: AbortSignal;
  onBytes(n: number): void;
}

type Listener = (info: JobInfo) => void;

interface Running {
  spec: JobSpec;
  state: JobState;
  abort: AbortController;
  filesDone: number;
  filesFailed: number;
  filesSkipped: number;
  bytesDone: number;
  bytesTotal: number;
  errors: { file: string; error: string }[];
  skipped: { file: string; reason: string }[];
  startedAt: string;
  endedAt?: string;
  current: Set<string>;
  listeners: Set<Listener>;
  done: Promise<void>;
  cancelRequested: boolean;
  /** Plugins waiting (a touch, a PIN on the device): how many of the job's exchanges, since when. */
  waiting: Map<string, { count: number; since: string }>;
  /** The job's files not yet finished, current ones first. */
  upcoming: () => string[];
  lastEmit: number;
}

const PROGRESS_INTERVAL_MS = 200;

export class JobManager {
  private readonly jobs = new Map<string, Running>();
  private disposed = false;
  /** Settles once the jobs found at start are registered again (see resumeAll). */
  private resuming: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly home: string,
    private readonly ops: Record<string, FileOp<never>>,
    private readonly audit: (e: AuditEvent) => Promise<void>,
  ) {}

  /** Starts a job in the background; returns once its journal is on disk. */
  async start<P>(kind: string, files: string[], params: P, client: string): Promise<JobInfo> {
    if (!this.ops[kind]) throw new KeywardError(ErrorCode.InvalidInput, `unknown job kind: ${kind}`);
    if (files.length === 0) throw new KeywardError(ErrorCode.InvalidInput, 'no files to work on', 'check the paths or globs');
    const busy = this.filesInUse(files);
    if (busy) throw new KeywardError(ErrorCode.Busy, `${busy.file} is already part of job ${busy.job}`, 'wait for it (keyward jobs wait ID) or cancel it');
    const spec: JobSpec<P> = {
      id: `${new Date().toISOString().replace(/[-:.TZ]/g, '').slice(0, 14)}-${randomBytes(3).toString('hex')}`,
      kind,
      createdAt: new Date().toISOString(),
      client,
      files,
      params,
    };
    const journal = await Journal.create(this.home, spec);
    await this.audit({ event: `job.${kind}.start`, outcome: 'ok', client, detail: `job ${spec.id}, ${files.length} file(s)` });
    const r = this.launch(spec, journal, new Map());
    return this.info(r);
  }

  /** Picks up every job a crash or a stop left unfinished. */
  resumeAll(): Promise<string[]> {
    const run = this.doResume();
    this.resuming = run.catch(() => undefined);
    return run;
  }

  private async doResume(): Promise<string[]> {
    const resumed: string[] = [];
    for (const file of await Journal.list(this.home)) {
      let rep;
      try {
        rep = await Journal.replay(file);
      } catch {
        continue;
      }
      if (rep.ended || this.jobs.has(rep.spec.id) || !this.ops[rep.spec.kind]) continue;
      const journal = await Journal.reopen(file);
      await this.audit({ event: `job.${rep.spec.kind}.resume`, outcome: 'ok', detail: `job ${rep.spec.id}` });
      this.launch(rep.spec, journal, rep.files);
      resumed.push(rep.spec.id);
    }
    return resumed;
  }

  async get(id: string): Promise<JobInfo> {
    await this.resuming;
    const r = this.jobs.get(id);
    return r ? this.info(r) : this.ended(id);
  }

  /** A job that ended before this daemon started, as its journal tells it. */
  private async ended(id: string): Promise<JobInfo> {
    const file = path.join(Journal.dir(this.home), `${id}.jsonl`);
    let rep;
    try {
      rep = await Journal.replay(file);
    } catch {
      throw new KeywardError(ErrorCode.NotFound, `no job ${id}`, 'list jobs with keyward jobs list');
    }
    const events = [...rep.files.values()];
    const count = (phase: string) => events.filter((e) => e.phase === phase).length;
    const failed = events.flatMap((e) => (e.phase === 'failed' ? [{ file: rep.spec.files[e.f] ?? '', error: e.error }] : []));
    const skipped = events.flatMap((e) => (e.phase === 'skipped' ? [{ file: rep.spec.files[e.f] ?? '', reason: e.detail }] : []));
    const state: JobState = rep.ended === 'cancelled' ? 'cancelled' : rep.ended === null ? 'interrupted' : failed.length ? 'failed' : 'done';
    return {
      id,
      kind: rep.spec.kind,
      state,
      filesTotal: rep.spec.files.length,
      filesDone: count('done'),
      filesFailed: failed.length,
      filesSkipped: count('skipped'),
      bytesTotal: 0,
      bytesDone: 0,
      current: [],
      errors: failed.slice(0, 50),
      skipped: skipped.slice(0, 50),
      createdAt: rep.spec.createdAt,
    };
  }

  list(): JobInfo[] {
    return [...this.jobs.values()].map((r) => this.info(r));
  }

  /** Resolves with the job's final state; `listener` gets progress meanwhile. */
  async wait(id: string, listener?: Listener): Promise<JobInfo> {
    await this.resuming;
    const r = this.jobs.get(id);
    if (!r) return this.ended(id);
    if (listener) r.listeners.add(listener);
    try {
      await r.done;
    } finally {
      if (listener) r.listeners.delete(listener);
    }
    return this.info(r);
  }

  async cancel(id: string): Promise<JobInfo> {
    await this.resuming;
    const r = this.jobs.get(id);
    if (!r) throw new KeywardError(ErrorCode.NotFound, `no job ${id} in this daemon`);
    if (r.state === 'running') {
      r.cancelRequested = true;
      r.abort.abort();
    }
    return this.info(r);
  }

  /** Stops running jobs without ending them: they resume when the daemon starts again. */
  async dispose(): Promise<void> {
    this.disposed = true;
    for (const r of this.jobs.values()) r.abort.abort();
    await Promise.all([...this.jobs.values()].map((r) => r.done.catch(() => undefined)));
  }

  // ---- internals ---------------------------------------------------------------------------

  private filesInUse(files: string[]): { file: string; job: string } | undefined {
    for (const r of this.jobs.values()) {
      if (r.state !== 'running') continue;
      for (const f of files) if (r.spec.files.includes(f)) return { file: f, job: r.spec.id };
    }
    return undefined;
  }

  private launch(spec: JobSpec, journal: Journal, previous: Map<number, FileEvent>): Running {
    const r: Running = {
      spec,
      state: 'running',
      abort: new AbortController(),
      filesDone: 0,
      filesFailed: 0,
      filesSkipped: 0,
      bytesDone: 0,
      bytesTotal: 0,
      errors: [],
      skipped: [],
      startedAt: new Date().toISOString(),
      current: new Set(),
      listeners: new Set(),
      done: Promise.resolve(),
      cancelRequested: false,
      waiting: new Map(),
      upcoming: () => [],
      lastEmit: 0,
    };
    this.jobs.set(spec.id, r);
    // The job's plugin session: that of the request that started it (its prompts), with the
    // waiting state reported in the job's progress, and unwraps batched over its files.
    const op = this.ops[spec.kind] as FileOp<unknown>;
    const batch = op.pluginStanzas ? new UnwrapBatch(() => this.pluginStanzasAhead(r, op)) : undefined;
    const session = { ...currentPluginSession(), waiting: (plugin: string, on: boolean) => this.setWaiting(r, plugin, on), ...(batch ? { batch } : {}) };
    r.done = withPluginSession(session, () => this.run(r, journal, previous)).finally(() => {
      batch?.dispose();
      return journal.close().catch(() => undefined);
    });
    return r;
  }

  private setWaiting(r: Running, plugin: string, on: boolean): void {
    const w = r.waiting.get(plugin);
    if (on) r.waiting.set(plugin, { count: (w?.count ?? 0) + 1, since: w?.since ?? new Date().toISOString() });
    else if (w && w.count > 1) w.count--;
    else r.waiting.delete(plugin);
    this.emit(r, true);
  }

  /** The stanzas of the job's next files that need a plugin to open, for one batched session. */
  private async pluginStanzasAhead(r: Running, op: FileOp<unknown>): Promise<(readonly Stanza[])[]> {
    const out: (readonly Stanza[])[] = [];
    for (const f of r.upcoming()) {
      if (out.length >= MAX_BATCH) break;
      const s = await op.pluginStanzas!(f, r.spec.params).catch(() => null);
      if (s?.length) out.push(s);
    }
    return out;
  }

  /** Tells the job's listeners where it is (at most every PROGRESS_INTERVAL_MS unless `force`). */
  private emit(r: Running, force = false): void {
    const now = Date.now();
    if (!force && now - r.lastEmit < PROGRESS_INTERVAL_MS) return;
    r.lastEmit = now;
    const info = this.info(r);
    for (const l of r.listeners) l(info);
  }

  private async run(r: Running, journal: Journal, previous: Map<number, FileEvent>): Promise<void> {
    const op = this.ops[r.spec.kind] as FileOp<unknown>;
    const { spec } = r;
    for (const f of spec.files) r.bytesTotal += await fileSize(f);
    const emit = (force = false) => this.emit(r, force);

    const work: number[] = [];
    for (let i = 0; i < spec.files.length; i++) {
      const prev = previous.get(i);
      if (prev?.phase === 'done' || prev?.phase === 'skipped') {
        r.filesDone += prev.phase === 'done' ? 1 : 0;
        if (prev.phase === 'skipped') {
          r.filesSkipped++;
          r.skipped.push({ file: spec.files[i]!, reason: prev.detail });
        }
        r.bytesDone += await fileSize(spec.files[i]!);
        continue;
      }
      work.push(i);
    }

    const one = async (i: number): Promise<void> => {
      const file = spec.files[i]!;
      const prev = previous.get(i);
      r.current.add(file);
      let counted = 0;
      try {
        let data: unknown;
        if (prev?.phase === 'staged') {
          data = prev.data; // staged before a crash: the commit is idempotent, redo it
        } else {
          await op.discard(file, { jobId: spec.id, params: spec.params }); // leftovers of an attempt cut short
          const staged = await op.stage(file, spec.params, {
            jobId: spec.id,
            signal: r.abort.signal,
            onBytes: (n) => {
              counted += n;
              r.bytesDone += n;
              emit();
            },
          });
          if ('skip' in staged) {
            await journal.append({ f: i, phase: 'skipped', detail: staged.skip });
            r.filesSkipped++;
            r.skipped.push({ file, reason: staged.skip });
            return;
          }
          data = staged.data;
          await journal.append({ f: i, phase: 'staged', data });
        }
        if (r.abort.signal.aborted) {
          // Staged but not committed: on cancel, roll back; on stop, the journal resumes it.
          if (r.cancelRequested) await this.cancelled(op, file, spec);
          return;
        }
        const done = await op.commit(file, data);
        await journal.append({ f: i, phase: 'done', bytes: done.bytes, ...(done.detail ? { detail: done.detail } : {}) });
        r.filesDone++;
        await this.audit({ event: `artifact.${spec.kind}`, outcome: 'ok', path: file, detail: done.detail ?? `job ${spec.id}`, ...(done.key ? { key: done.key } : {}) });
      } catch (e) {
        if (r.abort.signal.aborted) {
          if (r.cancelRequested) await this.cancelled(op, file, spec).catch(() => undefined);
          else await op.discard(file, { jobId: spec.id, params: spec.params }).catch(() => undefined);
          return;
        }
        const msg = isKeywardError(e) ? (e.hint ? `${e.message} (${e.hint})` : e.message) : 'internal error';
        r.filesFailed++;
        r.errors.push({ file, error: msg });
        await op.discard(file, { jobId: spec.id, params: spec.params }).catch(() => undefined);
        await journal.append({ f: i, phase: 'failed', error: msg });
        await this.audit({ event: `artifact.${spec.kind}`, outcome: 'failed', path: file, detail: msg });
      } finally {
        r.current.delete(file);
        const size = await fileSize(file);
        r.bytesDone += Math.max(0, size - counted);
        emit(true);
      }
    };

    // Bounded concurrency: a fixed number of lanes pulling from the queue.
    let next = 0;
    r.upcoming = () => [...r.current, ...work.slice(next).map((i) => spec.files[i]!)];
    const lane = async () => {
      while (next < work.length && !r.abort.signal.aborted) await one(work[next++]!);
    };
    await Promise.all(Array.from({ length: Math.min(op.concurrency, work.length) }, lane));

    if (r.abort.signal.aborted && !r.cancelRequested) {
      r.state = 'interrupted'; // daemon stopping: resumes at next start
    } else {
      r.state = r.cancelRequested ? 'cancelled' : r.filesFailed ? 'failed' : 'done';
      await journal.append({ phase: r.cancelRequested ? 'cancelled' : 'finished' });
      await this.audit({
        event: `job.${spec.kind}.${r.state}`,
        outcome: r.state === 'done' ? 'ok' : r.state === 'cancelled' ? 'cancelled' : 'failed',
        detail: `job ${spec.id}: ${r.filesDone} done, ${r.filesFailed} failed, ${r.filesSkipped} skipped`,
      });
    }
    r.endedAt = new Date().toISOString();
    r.waiting.clear();
    if (!this.disposed) emit(true);
  }

  /** A file the user's cancel caught mid-way: what its work wrote is removed, and the log says so. */
  private async cancelled(op: FileOp<unknown>, file: string, spec: JobSpec): Promise<void> {
    await op.discard(file, { jobId: spec.id, params: spec.params });
    await this.audit({ event: `artifact.${spec.kind}`, outcome: 'cancelled', path: file, detail: `job ${spec.id}: cancelled before it was done; nothing of it was kept` });
  }

  private info(r: Running): JobInfo {
    return {
      id: r.spec.id,
      kind: r.spec.kind,
      state: r.state,
      filesTotal: r.spec.files.length,
      filesDone: r.filesDone,
      filesFailed: r.filesFailed,
      filesSkipped: r.filesSkipped,
      bytesTotal: r.bytesTotal,
      // A pipe's size is unknown (0): its bytes are counted as they come.
      bytesDone: r.bytesTotal > 0 ? Math.min(r.bytesDone, r.bytesTotal) : r.bytesDone,
      current: [...r.current],
      errors: r.errors.slice(0, 50),
      skipped: r.skipped.slice(0, 50),
      createdAt: r.spec.createdAt,
      ...(r.endedAt ? { endedAt: r.endedAt } : {}),
      ...(r.waiting.size ? { waiting: [...r.waiting].map(([plugin, w]) => ({ plugin, since: w.since })) } : {}),
    };
  }
}

async function fileSize(f: string): Promise<number> {
  try {
    return (await fsp.stat(f)).size;
  } catch {
    return 0;
  }
}

/** Keyward's temp names are declared in one place. */
export { jobTempPath } from '../util/temps';
