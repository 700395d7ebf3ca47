// Long daemon jobs (rotate, rewrap, updatekeys) in a cancellable progress notification. The
// job runs in the daemon, survives this window, and is cancelled through `jobs/cancel`.
import * as path from 'node:path';
import * as vscode from 'vscode';
import { ErrorCode, JobProgressNotification, type JobInfo } from '../daemon/protocol';
import type { DaemonConnection } from './client/connection';
import { DaemonError } from './client/errors';
import { waitingMessage } from './plugins/prompts';

export interface JobOutcome {
  job: JobInfo;
  cancelled: boolean;
}

/**
 * Starts a job with `start` and follows it to its end, reporting progress. Resolves with the
 * final JobInfo; rejects only when the job could not be started or followed.
 */
export function runJob(conn: DaemonConnection, title: string, start: () => Promise<JobInfo>, log: vscode.LogOutputChannel): Promise<JobOutcome> {
  return Promise.resolve(
    vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title, cancellable: true }, async (progress, token) => {
      const job = await start();
      log.info(`job ${job.id} (${job.kind}) started: ${job.filesTotal} files`);
      let reported = 0;
      const report = (j: JobInfo): void => {
        const fraction = j.bytesTotal > 0 ? j.bytesDone / j.bytesTotal : j.filesTotal > 0 ? (j.filesDone + j.filesFailed + j.filesSkipped) / j.filesTotal : 0;
        const pct = Math.min(100, Math.round(fraction * 100));
        const current = j.current.length ? ` · ${j.current.map((f) => path.basename(f)).join(', ')}` : '';
        // An age plugin waiting for a touch or a PIN on its device says so here (src/plugins/prompts.ts).
        const waiting = waitingMessage(j);
        progress.report({ increment: pct - reported, message: `${j.filesDone}/${j.filesTotal} files${waiting ? ` · ${waiting}` : current}` });
        reported = pct;
      };
      report(job);
      const sub = conn.onNotification(JobProgressNotification, (p) => {
        const j = p as JobInfo;
        if (j.id === job.id) report(j);
      });
      const cancel = token.onCancellationRequested(() => {
        log.info(`job ${job.id}: cancel requested`);
        conn.call('jobsCancel', { id: job.id }).catch((e: unknown) => log.warn(`jobs/cancel ${job.id}: ${(e as Error).message}`));
      });
      try {
        let final = job;
        if (job.state === 'running' && job.id !== 'none') {
          // The job goes on in the daemon whatever happens to this connection: follow it again after a reconnect.
          for (let attempt = 0; ; attempt++) {
            try {
              final = await conn.call('jobsWait', { id: job.id }, { timeoutMs: 0 });
              break;
            } catch (e) {
              if (!(e instanceof DaemonError) || e.code !== ErrorCode.DaemonUnavailable || attempt >= 3) throw e;
              log.warn(`job ${job.id}: lost the daemon while waiting; following it again`);
              await new Promise((r) => setTimeout(r, 1_000));
            }
          }
        }
        report(final);
        log.info(`job ${final.id} ${final.state}: ${final.filesDone} done, ${final.filesFailed} failed, ${final.filesSkipped} skipped`);
        return { job: final, cancelled: final.state === 'cancelled' };
      } finally {
        sub.dispose();
        cancel.dispose();
      }
    }),
  );
}

/** One sentence about how a job ended, for a notification. */
export function jobSummary(what: string, j: JobInfo): { text: string; ok: boolean } {
  const parts = [`${j.filesDone} of ${j.filesTotal} file${j.filesTotal === 1 ? '' : 's'} done`];
  if (j.filesSkipped) parts.push(`${j.filesSkipped} skipped`);
  if (j.filesFailed) parts.push(`${j.filesFailed} failed`);
  const first = j.errors[0];
  const why = first ? ` First failure: ${path.basename(first.file)}: ${first.error}.` : '';
  switch (j.state) {
    case 'done':
      return { text: `${what}: ${parts.join(', ')}.${why}`, ok: j.filesFailed === 0 };
    case 'cancelled':
      return { text: `${what} cancelled: ${parts.join(', ')}. Files not yet done are unchanged.`, ok: true };
    case 'interrupted':
      return { text: `${what} was interrupted (the daemon stopped): ${parts.join(', ')}. It resumes when the daemon restarts.`, ok: false };
    default:
      return { text: `${what} failed: ${parts.join(', ')}.${why}`, ok: false };
  }
}
