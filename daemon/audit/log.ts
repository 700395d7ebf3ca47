import { close as closeFd, constants as fsc, fstat, open as openFd, promises as fsp, write as writeFd } from 'node:fs';
import { promisify } from 'node:util';
import * as path from 'node:path';
import type { AuditHead, AuditRecordView } from '../protocol';
import { syncDir } from '../util/atomic';
import { errnoCode, ioError } from '../util/errors';
import { AUDIT_FINDING, checkChain, compareEnds, GENESIS, parseRecord, readHead, sha256, type ChainEnd, type Head, type VerifyProblem } from './chain';

/** What callers report: a record without its place in the chain. Never a secret, a plaintext value or a passphrase. */
export type AuditEvent = Omit<AuditRecordView, 'seq' | 'ts'>;

export type { VerifyProblem } from './chain';

/**
 * File descriptors, not FileHandles, for the log and head kept open: an AuditLog dropped without
 * close() (a test's) leaves its descriptors to the process's exit; a FileHandle would be closed
 * by the garbage collector, which Node warns about.
 */
const fd = { open: promisify(openFd), write: promisify(writeFd), fstat: promisify(fstat), close: promisify(closeFd) };

/** The head file's size: room for a head and the end it announces (about 230 bytes). */
const HEAD_SIZE = 256;

/**
 * Append-only, hash-chained JSONL: each record carries the SHA-256 of the previous line, so
 * an edited, deleted or reordered record breaks the chain at a place `verify` can name. The
 * head file (`audit.head`: the last record's seq and hash) catches records cut from the end,
 * an edited last record, and records added after it.
 *
 * The head is never repaired from the log. A process that appends first compares the head
 * with the log's end (at its first record, and whenever the log changed under it); where they
 * disagree, it records that as an `audit.finding` record before its own, and chains on from
 * the log as it is: the finding, and the head's value at the time, stay in the log, and every
 * later `verify` reports them. The head is written twice per append, first announcing the end
 * the append will reach (`next`), then that end, so a crash between the two writes reads as
 * what it is, not as tampering.
 *
 * What this cannot catch: someone who rewrites the log and the head together. Against that,
 * keep the head's value elsewhere (`keyward audit head`) and check against it
 * (`keyward audit verify --head`).
 */
export class AuditLog {
  private tail: Promise<unknown> = Promise.resolve();
  /** The chain's end as this process last wrote or checked it, with the log file it was in. */
  private end: { chain: ChainEnd; size: number; ino: number } | null = null;

  constructor(readonly file: string) {}

  get headFile(): string {
    return path.join(path.dirname(this.file), path.basename(this.file, '.jsonl') + '.head');
  }

  /**
   * Appends one record; resolves once it is on disk. Appends are serialised so the chain never
   * forks, and grouped: records that arrive while a write is in flight go out together in the
   * next one (one write, one fsync, one head update), as databases group their commits. A job
   * over thousands of files would otherwise spend most of its time in fsync.
   */
  append(e: AuditEvent): Promise<void> {
    const done = new Promise<void>((resolve, reject) => this.pending.push({ e, resolve, reject }));
    // The first record of a new group schedules its write after the one in flight.
    if (this.pending.length === 1) this.tail = this.tail.then(() => this.flush());
    return done;
  }

  private readonly pending: { e: AuditEvent; resolve: () => void; reject: (err: unknown) => void }[] = [];

  private async flush(): Promise<void> {
    const group = this.pending.splice(0);
    try {
      // The callers go on once their records are on disk; the head's second write follows
      // (a reject after that is a no-op: the record is stored, and the next append checks the head).
      await this.write(
        group.map((g) => g.e),
        () => {
          for (const g of group) g.resolve();
        },
      );
    } catch (err) {
      for (const g of group) g.reject(err);
    }
  }

  /** Appends `events`; `stored` is called once they are on disk, before the head says so. */
  private async write(events: readonly AuditEvent[], stored: () => void): Promise<void> {
    const { from, findings, newline } = await this.where();
    let end = from;
    const lines: string[] = [];
    for (const e of [...findings, ...events]) {
      const rec = {
        seq: end.seq + 1,
        ts: new Date().toISOString(),
        event: e.event,
        outcome: e.outcome,
        ...(e.key !== undefined ? { key: e.key } : {}),
        ...(e.path !== undefined ? { path: e.path } : {}),
        ...(e.detail !== undefined ? { detail: e.detail } : {}),
        ...(e.client !== undefined ? { client: e.client } : {}),
        prev: end.hash,
      };
      const line = JSON.stringify(rec);
      lines.push(line);
      end = { seq: rec.seq, hash: sha256(line) };
    }
    // 1. The head announces where this append will end; 2. the append; 3. the head says it did.
    try {
      await this.writeHead({ seq: from.seq, hash: from.hash, next: end });
      const log = await this.logFd();
      // One write, synced as it is made (O_SYNC: fsync's guarantee, without a call of its own).
      await fd.write(log, (newline ? '\n' : '') + lines.map((l) => l + '\n').join(''));
      const st = await fd.fstat(log);
      // Stored: a crash from here on leaves the head announcing this end (`next`), which reads
      // as the crash it was. The head's last write is not waited for by the callers (one synced
      // write less in every audited request), but is by the next append and by verify/head,
      // which wait for the writes in flight (`tail`).
      stored();
      await this.writeHead(end);
      this.end = { chain: end, size: st.size, ino: st.ino };
    } catch (e) {
      // The next append opens both again, and reads the log's end afresh.
      this.end = null;
      for (const which of ['log', 'head'] as const) await this.recheck(which, null);
      throw e;
    }
  }

  /**
   * The log and the head, kept open between appends (opening and closing each for every record
   * cost most of an append's file operations), and reopened when the file at the path is no
   * longer the one held: where() stats both paths first, at every append.
   */
  private log: { fd: number; ino: number } | null = null;
  private head: { fd: number; ino: number } | null = null;

  private async logFd(): Promise<number> {
    if (this.log) return this.log.fd;
    await fsp.mkdir(path.dirname(this.file), { recursive: true, mode: 0o700 });
    const log = await fd.open(this.file, fsc.O_WRONLY | fsc.O_APPEND | fsc.O_CREAT | fsc.O_SYNC, 0o600);
    this.log = { fd: log, ino: (await fd.fstat(log)).ino };
    return log;
  }

  /** Drops a kept handle whose path now names another file (or none). */
  private async recheck(which: 'log' | 'head', st: { ino: number } | null): Promise<void> {
    const held = this[which];
    if (!held || (st && st.ino === held.ino)) return;
    this[which] = null;
    await fd.close(held.fd).catch(() => undefined);
  }

  /** Closes the kept handles (a daemon stopping; a test). */
  async close(): Promise<void> {
    await this.tail;
    for (const which of ['log', 'head'] as const) await this.recheck(which, null);
  }

  /**
   * Where the next record chains from, and the findings to record first. The log is read only
   * when this process has not seen its end yet, or the file changed since it last wrote it
   * (another process appended, or someone cut, replaced or removed it).
   */
  private async where(): Promise<{ from: ChainEnd; findings: AuditEvent[]; newline: boolean }> {
    const [st, headSt] = await Promise.all([fsp.stat(this.file).catch(() => null), this.head ? fsp.stat(this.headFile).catch(() => null) : null]);
    await this.recheck('log', st);
    if (this.head) await this.recheck('head', headSt);
    if (this.end !== null) {
      if (st && st.size === this.end.size && st.ino === this.end.ino) return { from: this.end.chain, findings: [], newline: false };
    }
    const tail = await readTail(this.file);
    const head = await readHead(this.headFile);
    const problems = compareEnds(head, tail.end, path.basename(this.headFile), path.basename(this.file));
    // The head's value goes into the finding: the head file itself moves on with the chain.
    const held = head.kind === 'ok' ? `; the head held ${JSON.stringify(head.head)}` : '';
    const findings = problems.map((problem) => ({ event: AUDIT_FINDING, outcome: 'failed' as const, detail: problem + held }));
    return { from: tail.end ?? { seq: 0, hash: GENESIS }, findings, newline: tail.torn };
  }

  /**
   * Writes the head in place, padded to a fixed size, and syncs its data: one write of one
   * block, so each of the two head writes of an append costs one fdatasync, not a temp file,
   * a rename and two syncs. (A head torn by a power cut reads as unreadable: a finding, never
   * a pass.)
   */
  private async writeHead(h: Head): Promise<void> {
    const text = JSON.stringify(h);
    const buf = Buffer.alloc(Math.max(HEAD_SIZE, text.length + 1), 0x20);
    buf.write(text);
    buf[buf.length - 1] = 0x0a;
    let head = this.head?.fd;
    if (head === undefined) {
      let created = false;
      // O_DSYNC: the write is on disk when it returns (fdatasync's guarantee, in the same call).
      try {
        head = await fd.open(this.headFile, fsc.O_RDWR | fsc.O_DSYNC);
      } catch (e) {
        if (errnoCode(e) !== 'ENOENT') throw ioError(e, 'write the audit head', this.headFile);
        head = await fd.open(this.headFile, fsc.O_RDWR | fsc.O_CREAT | fsc.O_EXCL | fsc.O_DSYNC, 0o600).catch((err: unknown) => {
          throw ioError(err, 'write the audit head', this.headFile);
        });
        created = true;
      }
      this.head = { fd: head, ino: (await fd.fstat(head)).ino };
      if (created) await syncDir(path.dirname(this.headFile));
    }
    await fd.write(head, buf, 0, buf.length, 0);
  }

  async show(limit?: number): Promise<AuditRecordView[]> {
    const out: AuditRecordView[] = [];
    for (const line of await this.lines()) {
      const rec = parseRecord(line);
      if (!rec) continue; // unreadable lines are verify's business
      const { prev: _prev, ...view } = rec;
      out.push(view);
    }
    return limit ? out.slice(-limit) : out;
  }

  /**
   * Checks the whole chain, the head, the findings recorded so far, and, when given, a head the
   * user saved elsewhere (the outside anchor): that record must still be in the log, unchanged.
   */
  async verify(saved?: AuditHead): Promise<{ ok: boolean; records: number; problems: VerifyProblem[] }> {
    await this.tail;
    const lines = await this.lines();
    const head = await readHead(this.headFile);
    const problems = checkChain(lines, head, path.basename(this.headFile), path.basename(this.file), saved);
    return { ok: problems.length === 0, records: lines.length, problems };
  }

  /**
   * The chain's end, to keep elsewhere and check against later (`verify(saved)`). Refused while
   * the head and the log disagree: that end is not one to trust.
   */
  async currentHead(): Promise<AuditHead & { records: number }> {
    await this.tail;
    const tail = await readTail(this.file);
    const head = await readHead(this.headFile);
    const problems = compareEnds(head, tail.end, path.basename(this.headFile), path.basename(this.file));
    if (problems.length) throw Object.assign(new Error(problems.join('; ')), { auditProblems: problems });
    const end = tail.end ?? { seq: 0, hash: GENESIS };
    return { seq: end.seq, hash: end.hash, records: end.seq };
  }

  private async lines(): Promise<string[]> {
    let text: string;
    try {
      text = await fsp.readFile(this.file, 'utf8');
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return [];
      throw e;
    }
    return text.split('\n').filter((l) => l !== '');
  }
}

/**
 * The log's last record, read from the end of the file (a log grows for years; its start is not
 * needed to append). `end` is null for a missing or empty log. `torn`: the file does not end
 * with a newline (a write cut short), so an append starts a new line.
 */
async function readTail(file: string): Promise<{ end: ChainEnd | null; torn: boolean }> {
  let h: fsp.FileHandle;
  try {
    h = await fsp.open(file, 'r');
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return { end: null, torn: false };
    throw e;
  }
  try {
    const size = (await h.stat()).size;
    if (size === 0) return { end: null, torn: false };
    // Back from the end until a whole last line is in the buffer.
    for (let want = 64 * 1024; ; want *= 4) {
      const start = Math.max(0, size - want);
      const buf = Buffer.alloc(size - start);
      await h.read(buf, 0, buf.length, start);
      const torn = buf[buf.length - 1] !== 0x0a;
      const text = buf.toString('utf8').replace(/\n+$/, '');
      const nl = text.lastIndexOf('\n');
      if (nl < 0 && start > 0) continue;
      const last = text.slice(nl + 1);
      if (last === '') return { end: null, torn: false };
      const rec = parseRecord(last);
      if (rec) return { end: { seq: rec.seq, hash: sha256(last) }, torn };
      // Not a record: its seq is its place (the count of lines), as verify counts it.
      const all = (await fsp.readFile(file, 'utf8')).split('\n').filter((l) => l !== '');
      return { end: { seq: all.length, hash: sha256(last), unreadable: true }, torn };
    }
  } finally {
    await h.close();
  }
}
