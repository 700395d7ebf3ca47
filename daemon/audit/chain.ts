// The audit log's checks, as pure functions of its lines and its head: the chain from record to
// record, the log's end against the head, the findings recorded so far, and a head the user
// saved elsewhere. log.ts reads and writes the files.
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import type { AuditHead, AuditRecordView } from '../protocol';
import { errnoCode } from '../util/errors';

export const GENESIS = '0'.repeat(64);

/** The event of a record that says the head and the log disagreed when the log was next written. */
export const AUDIT_FINDING = 'audit.finding';

/** A record as stored: the view, and the SHA-256 (hex) of the previous line (64 zeros for the first). */
export interface AuditRecord extends AuditRecordView {
  prev: string;
}

/** Where a chain ends: the last record's seq and the SHA-256 of its line. */
export interface ChainEnd {
  seq: number;
  hash: string;
  /** The last line is not a record (its seq is then its place). */
  unreadable?: boolean;
}

/**
 * The head file: the chain's end, and while an append is being written, the end it will reach
 * (`next`). A log that ends at either agrees with it.
 */
export interface Head {
  seq: number;
  hash: string;
  next?: { seq: number; hash: string };
}

export type HeadState = { kind: 'missing' } | { kind: 'bad'; reason: string } | { kind: 'ok'; head: Head };

export interface VerifyProblem {
  seq?: number;
  line: number;
  problem: string;
}

export function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

/** A line as a record, or null when it is not one (not JSON, not an object, no number seq or hash prev). */
export function parseRecord(line: string): AuditRecord | null {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return null;
  const r = v as Partial<AuditRecord>;
  if (!Number.isSafeInteger(r.seq) || (r.seq as number) < 1 || typeof r.prev !== 'string' || typeof r.event !== 'string') return null;
  return r as AuditRecord;
}

const HASH = /^[0-9a-f]{64}$/;

function isEnd(v: unknown): v is { seq: number; hash: string } {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as { seq?: unknown; hash?: unknown };
  return Number.isSafeInteger(o.seq) && (o.seq as number) >= 0 && typeof o.hash === 'string' && HASH.test(o.hash);
}

/** Reads the head file. Anything but a well-formed head is `bad`, with a reason: never "no check". */
export async function readHead(file: string): Promise<HeadState> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (e) {
    const code = errnoCode(e);
    if (code === 'ENOENT') return { kind: 'missing' };
    return { kind: 'bad', reason: code === 'EISDIR' ? 'it is a directory' : `cannot read it (${code ?? 'error'})` };
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return { kind: 'bad', reason: 'it is not JSON' };
  }
  if (!isEnd(v)) return { kind: 'bad', reason: 'it holds no valid seq and hash' };
  const next = (v as { next?: unknown }).next;
  if (next !== undefined && !isEnd(next)) return { kind: 'bad', reason: 'its next end is malformed' };
  return { kind: 'ok', head: { seq: v.seq, hash: v.hash, ...(next ? { next: { seq: next.seq, hash: next.hash } } : {}) } };
}

/**
 * How the log's end disagrees with its head (empty: it agrees). `end` null: no log, or an
 * empty one.
 */
export function compareEnds(head: HeadState, end: ChainEnd | null, headName: string, logName: string): string[] {
  if (head.kind === 'missing') return end === null ? [] : [`the head file ${headName} is missing (the log ends at record ${end.seq})`];
  if (head.kind === 'bad') return [`the head file ${headName} is unreadable: ${head.reason} (the log ends at record ${end?.seq ?? 0})`];
  const h = head.head;
  const e = end ?? { seq: 0, hash: GENESIS };
  const ends = [{ seq: h.seq, hash: h.hash }, ...(h.next ? [h.next] : [])];
  if (ends.some((x) => x.seq === e.seq && x.hash === e.hash)) return [];
  if (end === null) return [`the log ${logName} is missing or empty, but the head says it held ${h.seq} record(s)`];
  const last = Math.max(...ends.map((x) => x.seq));
  if (e.seq < h.seq) return [`record(s) ${e.seq + 1}..${h.seq} were removed from the end of the log`];
  if (e.seq > last) return [`record(s) ${last + 1}..${e.seq} were added after the last one the head records (${last})`];
  if (ends.some((x) => x.seq === e.seq)) return [`record ${e.seq} was edited after it was written (its hash is not the head's)`];
  return [`record(s) ${e.seq + 1}..${last} were removed from the end of the log`];
}

/**
 * Every problem of a log: breaks in the chain (edited, deleted, reordered, unreadable records),
 * its end against the head, the findings recorded in it, and, when given, a head saved elsewhere.
 */
export function checkChain(lines: readonly string[], head: HeadState, headName: string, logName: string, saved?: AuditHead): VerifyProblem[] {
  const problems: VerifyProblem[] = [];
  const recs = lines.map(parseRecord);
  const seqs = new Set<number>();
  for (const r of recs) if (r) seqs.add(r.seq);
  let prevHash = GENESIS;
  let prevSeq = 0;
  let expectSeq = 1;
  for (const [i, line] of lines.entries()) {
    const n = i + 1;
    const rec = recs[i];
    if (!rec) {
      problems.push({ line: n, problem: `line ${n} is not a valid record (edited or corrupted)` });
      prevHash = sha256(line);
      prevSeq = expectSeq;
      expectSeq++;
      continue;
    }
    if (rec.seq !== expectSeq) {
      let what: string;
      if (rec.seq < expectSeq || seqs.has(expectSeq)) what = `record ${rec.seq} is out of order at line ${n} (records were reordered or duplicated)`;
      else what = `record(s) ${expectSeq}..${rec.seq - 1} are missing before line ${n} (deleted)`;
      problems.push({ seq: rec.seq, line: n, problem: what });
    } else if (prevSeq === rec.seq - 1 && rec.prev !== prevHash) {
      problems.push({ seq: rec.seq - 1, line: n - 1, problem: `record ${rec.seq - 1} (line ${n - 1}) was edited: record ${rec.seq} holds a different hash for it` });
    }
    if (rec.event === AUDIT_FINDING) {
      problems.push({ seq: rec.seq, line: n, problem: `record ${rec.seq} (line ${n}, ${rec.ts}): found when the log was next written: ${rec.detail ?? 'the head and the log disagreed'}` });
    }
    prevHash = sha256(line);
    prevSeq = rec.seq;
    expectSeq = Math.max(expectSeq, prevSeq + 1);
  }
  const end: ChainEnd | null = lines.length ? { seq: prevSeq, hash: prevHash } : null;
  for (const problem of compareEnds(head, end, headName, logName)) problems.push({ line: lines.length, problem });
  if (saved) {
    const at = recs.findIndex((r) => r?.seq === saved.seq);
    if (saved.seq === 0) {
      if (saved.hash !== GENESIS) problems.push({ line: 0, problem: 'the saved head is not a head of this log (seq 0 has no hash)' });
    } else if (at < 0) {
      problems.push({
        seq: saved.seq,
        line: lines.length,
        problem: end && end.seq < saved.seq ? `the log ends at record ${end.seq}, before record ${saved.seq} of the head you saved: records were removed` : `record ${saved.seq} of the head you saved is not in the log`,
      });
    } else if (sha256(lines[at]!) !== saved.hash) {
      problems.push({ seq: saved.seq, line: at + 1, problem: `record ${saved.seq} (line ${at + 1}) is not the one of the head you saved: the log was rewritten` });
    }
  }
  return problems;
}
