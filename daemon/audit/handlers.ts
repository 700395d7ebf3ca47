import { ErrorCode } from '../protocol';
import type { Handlers } from '../rpc/context';
import { KeywardError } from '../util/errors';
import type { AuditLog } from './log';

/** The audit log: records, the chain check (optionally against a saved head), and its head. */
export function auditHandlers(log: AuditLog): Handlers {
  return {
    auditShow: async (p) => ({ records: await log.show(p.limit) }),

    auditVerify: (p) => log.verify(p.head),

    auditHead: async () => {
      try {
        return await log.currentHead();
      } catch (e) {
        const problems = (e as { auditProblems?: string[] }).auditProblems;
        if (!problems) throw e;
        throw new KeywardError(ErrorCode.IllegalState, `the audit log and its head disagree: ${problems.join('; ')}`, 'run keyward audit verify; a head to keep is one of a log that verifies');
      }
    },
  };
}
