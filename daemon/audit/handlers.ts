import { ErrorCode } from '../protocol';
import type { Handlers } from '../service';
import { KeywardError } from '../util/errors';
import type { AuditLog } from './log';

/**
 * The audit log: records, the chain check (optionally against a saved head), and its head.
 * `audit` is asked for at each call (the service's handlers are built before its fields are set).
 */
export function auditHandlers(audit: () => AuditLog): Handlers {
  return {
    auditShow: async (p) => ({ records: await audit().show(p.limit) }),

    auditVerify: (p) => audit().verify(p.head),

    auditHead: async () => {
      try {
        return await audit().currentHead();
      } catch (e) {
        const problems = (e as { auditProblems?: string[] }).auditProblems;
        if (!problems) throw e;
        throw new KeywardError(ErrorCode.IllegalState, `the audit log and its head disagree: ${problems.join('; ')}`, 'run keyward audit verify; a head to keep is one of a log that verifies');
      }
    },
  };
}
