// "Audit the outcome of this call": one helper for every handler that records what it did,
// whether it worked or not, so that a failure's record says the same kind of thing everywhere.
import type { AuditEvent } from '../audit/log';
import { failureDetail } from '../util/errors';

/** Appends one record to the audit log. */
export type AuditSink = (e: AuditEvent) => Promise<void>;

/** The record's fields that do not depend on the outcome. */
export interface AuditedCall {
  event: string;
  client?: string;
  path?: string;
  /** Recorded on success; on failure, the failure's words follow it (`detail: why`). */
  detail?: string;
}

export interface AuditedOutcome<T> {
  /** Fields the success record adds or replaces (the key used, a detail computed from the result). */
  ok?: (r: T) => Partial<AuditEvent>;
  /** Fields the failure record adds or replaces (`outcome: 'refused'`, the key used so far). */
  failed?: (e: unknown) => Partial<AuditEvent>;
}

/**
 * Runs `f` and records its outcome: `ok`, or `failed` with the failure's words (util/errors.ts,
 * failureDetail),
 * then returns its result or rethrows its error. The record is on disk before the call returns.
 */
export async function audited<T>(audit: AuditSink, call: AuditedCall, f: () => Promise<T>, outcome: AuditedOutcome<T> = {}): Promise<T> {
  const where = { ...(call.path !== undefined ? { path: call.path } : {}), ...(call.client !== undefined ? { client: call.client } : {}) };
  try {
    const r = await f();
    await audit({ event: call.event, outcome: 'ok', ...where, ...(call.detail !== undefined ? { detail: call.detail } : {}), ...outcome.ok?.(r) });
    return r;
  } catch (e) {
    const why = failureDetail(e);
    await audit({ event: call.event, outcome: 'failed', ...where, detail: call.detail !== undefined ? `${call.detail}: ${why}` : why, ...outcome.failed?.(e) });
    throw e;
  }
}
