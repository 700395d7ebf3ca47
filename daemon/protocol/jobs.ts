// The jobs/* methods: long work (rewrap, rotate, encrypt, sops updatekeys, team sync, ...) runs
// as a job, with progress, cancel, and resumption after a crash. The methods that start jobs
// belong to their areas (artifacts/rewrap, sops/updatekeys, team/sync, ...) and answer with the
// JobInfo declared here. Declared here, spread into `methods` in index.ts; served by
// daemon/jobs/handlers.ts.
import { z } from 'zod';

export const JobStates = ['running', 'done', 'failed', 'cancelled', 'interrupted'] as const;
export type JobState = (typeof JobStates)[number];

export interface JobInfo {
  id: string;
  kind: string;
  state: JobState;
  filesTotal: number;
  filesDone: number;
  filesFailed: number;
  filesSkipped: number;
  bytesTotal: number;
  bytesDone: number;
  /** Files being worked on now. */
  current: string[];
  /** Per-file failures (the first 50): paths and short reasons, never secrets. */
  errors: { file: string; error: string }[];
  /** Files left as they were, and why (the first 50): "keys already match .sops.yaml", ... */
  skipped?: { file: string; reason: string }[];
  /**
   * Age plugins the job is waiting on now, silent for a while: a touch, a PIN on the device, a
   * confirmation on a hardware wallet (absent when none).
   */
  waiting?: { plugin: string; since: string }[];
  createdAt: string;
  endedAt?: string;
}

export interface JobsListResult {
  jobs: JobInfo[];
}

const JobId = z.string().regex(/^[0-9]{14}-[0-9a-f]{6}$/, 'a job id looks like 20260101120000-abc123');

export const jobMethods = {
  jobsList: {
    name: 'jobs/list',
    params: z.strictObject({}),
    result: {} as JobsListResult,
  },
  jobsGet: {
    name: 'jobs/get',
    params: z.strictObject({ id: JobId }),
    result: {} as JobInfo,
  },
  /** Resolves when the job ends; meanwhile the caller receives `jobs/progress` notifications. */
  jobsWait: {
    name: 'jobs/wait',
    params: z.strictObject({ id: JobId }),
    result: {} as JobInfo,
  },
  jobsCancel: {
    name: 'jobs/cancel',
    params: z.strictObject({ id: JobId }),
    result: {} as JobInfo,
  },
} as const;

/** Notification from the daemon to a client waiting on a job. Params: JobInfo. */
export const JobProgressNotification = 'jobs/progress';
