// Methods of model artifacts and the background jobs that change them (rewrap, rotate).
// Declared here, spread into `methods` in index.ts.
import { z } from 'zod';
import { AbsPath, KeyRef, RecipientString } from './shapes';

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

const Files = z.array(AbsPath).min(1).max(100_000);
const Recipients = z.array(RecipientString).max(256).optional();
const Keys = z.array(KeyRef).max(256).optional();
const JobId = z.string().regex(/^[0-9]{14}-[0-9a-f]{6}$/, 'a job id looks like 20260101120000-abc123');

export const jobMethods = {
  /**
   * Changes who can unwrap each file's key by rewriting the header only (same file key,
   * payload untouched). Runs as a job; the result is the job as it started.
   */
  artifactsRewrap: {
    name: 'artifacts/rewrap',
    params: z
      .strictObject({
        files: Files,
        add: Recipients,
        addKeys: Keys,
        remove: Recipients,
        removeKeys: Keys,
        /** Replaces the recipient set (needed for files whose recipients Keyward does not know). */
        setRecipients: Recipients,
        setKeys: Keys,
        /** Only files one of these key versions opens; others are skipped (identity rotation). */
        onlyIfOpenedBy: Keys,
      })
      .refine(
        (p) => [p.add, p.addKeys, p.remove, p.removeKeys, p.setRecipients, p.setKeys].some((x) => x !== undefined && x.length > 0),
        'give recipients to add, remove or set',
      ),
    result: {} as JobInfo,
  },
  /** Makes a new file key for each file and re-encrypts its payload; recipients as given or as before. */
  artifactsRotate: {
    name: 'artifacts/rotate',
    params: z.strictObject({ files: Files, recipients: Recipients, keys: Keys }),
    result: {} as JobInfo,
  },
  /** Decrypts only the chunks covering [start, end) of a binary age file. */
  ageDecryptRange: {
    name: 'age/decryptRange',
    params: z
      .strictObject({
        input: AbsPath,
        start: z.number().int().min(0),
        end: z.number().int().min(0),
        /** A file to write; absent means stream back as `age/data` notifications. */
        output: AbsPath.optional(),
        overwrite: z.boolean().optional(),
      })
      .refine((p) => p.end >= p.start, 'end must not be before start'),
    result: {} as { bytesOut: number; key: string; output?: string },
  },
  jobsList: {
    name: 'jobs/list',
    params: z.strictObject({}),
    result: {} as { jobs: JobInfo[] },
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
