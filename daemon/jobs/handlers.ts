// The jobs/* RPC handlers (daemon/protocol/jobs.ts): follow, list and cancel the background
// jobs that other areas start (artifacts/rewrap, sops/updatekeys, team/sync, ...).
import { JobProgressNotification, type JobInfo } from '../protocol';
import type { Handlers } from '../rpc/context';
import type { Deps } from '../rpc/deps';

export function jobHandlers(d: Pick<Deps, 'jobs'>): Handlers {
  return {
    jobsList: () => Promise.resolve({ jobs: d.jobs.list() }),
    jobsGet: (p) => d.jobs.get(p.id),
    jobsCancel: (p) => d.jobs.cancel(p.id),
    jobsWait: (p, call) =>
      d.jobs.wait(p.id, (info: JobInfo) => {
        void call.notify?.(JobProgressNotification, info).catch(() => undefined);
      }),
  };
}
