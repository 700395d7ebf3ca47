// Methods of the audit log's outside anchor: its head, to keep elsewhere and check against
// (`keyward audit head`, `keyward audit verify --head`). Declared here, spread into `methods`
// in index.ts.
import { z } from 'zod';

/** The end of the audit chain: the last record's seq and the SHA-256 (hex) of its line. */
export interface AuditHead {
  seq: number;
  hash: string;
}

export const AuditHeadSchema = z.strictObject({
  seq: z.number().int().min(0),
  hash: z.string().regex(/^[0-9a-f]{64}$/, 'a SHA-256 in hex'),
});

export const auditMethods = {
  /** The chain's end now; refused (IllegalState) while the head and the log disagree. */
  auditHead: {
    name: 'audit/head',
    params: z.strictObject({}),
    result: {} as AuditHead & { records: number },
  },
} as const;
