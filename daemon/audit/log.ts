import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { AuditRecordView } from '../protocol';
import { writeFileAtomic } from '../util/atomic';
import { errnoCode } from '../util/errors';

/** What callers report: a record without its place in the chain. Never a secret, a plaintext value or a passphrase. */
export type AuditEvent = Omit<AuditRecordView, 'seq' | 'ts'>;

interface AuditRecord extends AuditRecordView {
  /** SHA-256 (hex) of the previous record's line; 64 zeros for the first. */
  prev: string;
}

interface Head {
  seq: number;
  hash: string;
}

const GENESIS = '0'.repeat(64);

export interface VerifyProblem {
  seq?: number;
  line: number;
  problem: string;
}

/**
 * Append-only, hash-chained JSONL: each record carries the SHA-256 of the previous line, so
 * an edited, deleted or reordered record breaks the chain at a place `verify` can name. A
 * head file (`audit.head`: last seq and hash) also catches records cut from the end. This
 * detects tampering with the log as stored; an attacker who can rewrite the whole chain and
 * the head undetected needs an outside anchor (ship the head elsewhere), as with any such log.
 */
export class AuditLog {
  private tail: Promise<unknown> = Promise.resolve();
  private head: Head | null = null;

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
      await this.write(group.map((g) => g.e));
      for (const g of group) g.resolve();
    } catch (err) {
      for (const g of group) g.reject(err);
    }
  }

  private async write(events: readonly AuditEvent[]): Promise<void> {
    let head = this.head ?? (await this.readHeadFromLog());
    const lines: string[] = [];
    for (const e of events) {
      const rec: AuditRecord = {
        seq: head.seq + 1,
        ts: new Date().toISOString(),
        event: e.event,
        outcome: e.outcome,
        ...(e.key !== undefined ? { key: e.key } : {}),
        ...(e.path !== undefined ? { path: e.path } : {}),
        ...(e.detail !== undefined ? { detail: e.detail } : {}),
        ...(e.client !== undefined ? { client: e.client } : {}),
        prev: head.hash,
      };
      const line = JSON.stringify(rec);
      lines.push(line);
      head = { seq: rec.seq, hash: sha256(line) };
    }
    await fsp.mkdir(path.dirname(this.file), { recursive: true, mode: 0o700 });
    const h = await fsp.open(this.file, 'a', 0o600);
    try {
      await h.write(lines.map((l) => l + '\n').join(''));
      await h.sync();
    } finally {
      await h.close();
    }
    this.head = head;
    await writeFileAtomic(this.headFile, JSON.stringify(this.head) + '\n', 0o600);
  }

  /** The chain's end as the log itself has it (the head file is for verify, not for trust). */
  private async readHeadFromLog(): Promise<Head> {
    const lines = await this.lines();
    const last = lines[lines.length - 1];
    if (last === undefined) return { seq: 0, hash: GENESIS };
    let seq = lines.length;
    try {
      seq = (JSON.parse(last) as AuditRecord).seq;
    } catch {
      // a broken last line: keep appending after it; verify will report it
    }
    return { seq, hash: sha256(last) };
  }

  async show(limit?: number): Promise<AuditRecordView[]> {
    const out: AuditRecordView[] = [];
    for (const line of await this.lines()) {
      try {
        const { prev: _prev, ...view } = JSON.parse(line) as AuditRecord;
        out.push(view);
      } catch {
        // unreadable lines are verify's business
      }
    }
    return limit ? out.slice(-limit) : out;
  }

  async verify(): Promise<{ ok: boolean; records: number; problems: VerifyProblem[] }> {
    await this.tail;
    const lines = await this.lines();
    const problems: VerifyProblem[] = [];
    const seqs = new Set<number>();
    for (const line of lines) {
      try {
        seqs.add((JSON.parse(line) as AuditRecord).seq);
      } catch {
        // reported below
      }
    }
    let prevHash = GENESIS;
    let prevSeq = 0;
    let expectSeq = 1;
    for (const [i, line] of lines.entries()) {
      const n = i + 1;
      let rec: AuditRecord;
      try {
        rec = JSON.parse(line) as AuditRecord;
      } catch {
        problems.push({ line: n, problem: `line ${n} is not a valid record (edited or corrupted)` });
        prevHash = sha256(line);
        prevSeq = expectSeq;
        expectSeq++;
        continue;
      }
      if (typeof rec.seq !== 'number' || typeof rec.prev !== 'string') {
        problems.push({ line: n, problem: `line ${n} is missing its seq or prev hash (edited)` });
      } else if (rec.seq !== expectSeq) {
        let what: string;
        if (rec.seq < expectSeq || seqs.has(expectSeq)) what = `record ${rec.seq} is out of order at line ${n} (records were reordered or duplicated)`;
        else what = `record(s) ${expectSeq}..${rec.seq - 1} are missing before line ${n} (deleted)`;
        problems.push({ seq: rec.seq, line: n, problem: what });
      } else if (prevSeq === rec.seq - 1 && rec.prev !== prevHash) {
        problems.push({ seq: rec.seq - 1, line: n - 1, problem: `record ${rec.seq - 1} (line ${n - 1}) was edited: record ${rec.seq} holds a different hash for it` });
      }
      prevHash = sha256(line);
      prevSeq = typeof rec.seq === 'number' ? rec.seq : expectSeq;
      expectSeq = Math.max(expectSeq, prevSeq + 1);
    }
    const head = await this.readHeadFile();
    if (head) {
      const last = lines.length;
      if (head.seq > expectSeq - 1) {
        problems.push({ line: last, problem: `record(s) ${expectSeq}..${head.seq} were removed from the end of the log` });
      } else if (head.seq === expectSeq - 1 && head.hash !== prevHash) {
        problems.push({ seq: head.seq, line: last, problem: `record ${head.seq} (line ${last}) was edited after it was written` });
      }
    } else if (lines.length > 0) {
      problems.push({ line: 0, problem: `the head file ${path.basename(this.headFile)} is missing` });
    }
    return { ok: problems.length === 0, records: lines.length, problems };
  }

  private async readHeadFile(): Promise<Head | null> {
    try {
      return JSON.parse(await fsp.readFile(this.headFile, 'utf8')) as Head;
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return null;
      return { seq: -1, hash: '' };
    }
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

function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}
