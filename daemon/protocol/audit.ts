// The audit/* methods: the hash-chained audit log's records, the chain's check, and its head, to
// keep elsewhere and check against (`keyward audit head`, `keyward audit verify --head`).
// Declared here, spread into `methods` in index.ts; served by daemon/audit/handlers.ts.
import { z } from 'zod';
import type { AuditRecordView } from './shapes';

/** The end of the audit chain: the last record's seq and the SHA-256 (hex) of its line. */
export interface AuditHead {
  seq: number;
  hash: string;
}

export const AuditHeadSchema = z.strictObject({
  seq: z.number().int().min(0),
  hash: z.string().regex(/^[0-9a-f]{64}$/, 'a SHA-256 in hex'),
});

export interface AuditShowResult {
  records: AuditRecordView[];
}

export interface AuditVerifyResult {
  ok: boolean;
  records: number;
  problems: { seq?: number; line: number; problem: string }[];
}

export interface AuditHeadResult extends AuditHead {
  records: number;
}

export const auditMethods = {
  auditShow: {
    name: 'audit/show',
    params: z.strictObject({ limit: z.number().int().min(1).max(100000).optional() }),
    result: {} as AuditShowResult,
  },
  auditVerify: {
    name: 'audit/verify',
    /** `head`: a head saved elsewhere (audit/head), which the log must still hold unchanged. */
    params: z.strictObject({ head: AuditHeadSchema.optional() }),
    result: {} as AuditVerifyResult,
  },
  /** The chain's end now; refused (IllegalState) while the head and the log disagree. */
  auditHead: {
    name: 'audit/head',
    params: z.strictObject({}),
    result: {} as AuditHeadResult,
  },
} as const;
