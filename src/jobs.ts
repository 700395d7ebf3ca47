// Long daemon jobs (encrypt, decrypt, rotate, rewrap, sops updates) in a cancellable progress
// notification: percent and bytes for work measured in bytes, files otherwise. The job runs in the
// daemon and survives this window; Cancel sends `jobs/cancel`, which stops the work and removes
// what it had written, and the notification then says "Cancelling…" until the daemon confirms.
import * as path from 'node:path';
import * as vscode from 'vscode';
import { ErrorCode, JobProgressNotification, type JobInfo } from '../daemon/protocol';
import type { DaemonConnection } from './client/connection';
import { DaemonError } from './client/errors';
import { count, displayPath, formatBytes } from './format';

/** More than the extension host's throttle of progress reports (100 ms). */
const PROGRESS_FLUSH_MS = 150;
import { waitingMessage } from './plugins/prompts';

export interface JobOutcome {
  job: JobInfo;
  cancelled: boolean;
}

/** What the progress line says about a job: `42% · 430 MiB of 1.0 GiB · big.ckpt`. */
export function progressText(j: JobInfo): { pct: number | undefined; text: string } {
  const current = j.current.length ? ` · ${j.current.map((f) => path.basename(f)).join(', ')}` : '';
  const ended = j.filesDone + j.filesFailed + j.filesSkipped;
  const files = j.filesTotal > 1 ? ` · ${ended} of ${count(j.filesTotal, 'file')}` : '';
  if (j.bytesTotal > 0) {
    const pct = Math.min(100, Math.floor((j.bytesDone / j.bytesTotal) * 100));
    return { pct, text: `${pct}% · ${formatBytes(j.bytesDone)} of ${formatBytes(j.bytesTotal)}${files}${current}` };
  }
  if (j.bytesDone > 0) return { pct: undefined, text: `${formatBytes(j.bytesDone)}${files}${current}` };
  const pct = j.filesTotal > 0 ? Math.floor((ended / j.filesTotal) * 100) : undefined;
  return { pct, text: `${ended} of ${count(j.filesTotal, 'file')}${current}` };
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
      let cancelling = false;
      const report = (j: JobInfo): void => {
        const { pct, text } = progressText(j);
        // An age plugin waiting for a touch or a PIN on its device says so (src/plugins/prompts.ts).
        const waiting = waitingMessage(j);
        const shown = waiting ? `${text} · ${waiting}` : text;
        const message = cancelling && j.state === 'running' ? `Cancelling… (${shown})` : shown;
        const increment = pct !== undefined ? Math.max(0, pct - reported) : 0;
        progress.report({ increment, message });
        if (pct !== undefined) reported = Math.max(reported, pct);
      };
      report(job);
      const sub = conn.onNotification(JobProgressNotification, (p) => {
        const j = p as JobInfo;
        if (j.id === job.id) report(j);
      });
      const cancel = token.onCancellationRequested(() => {
        log.info(`job ${job.id}: cancel requested`);
        cancelling = true;
        progress.report({ message: 'Cancelling…' });
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
        // The last word in the notification is the end state, never a stale "0 of 4". VS Code
        // forwards progress reports at most every 100 ms and drops the one pending when the task
        // ends: give the last one time to get there.
        report(final);
        await new Promise((r) => setTimeout(r, PROGRESS_FLUSH_MS));
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
  const parts = [`${j.filesDone} of ${count(j.filesTotal, 'file')} done`];
  if (j.filesSkipped) parts.push(`${j.filesSkipped} skipped`);
  if (j.filesFailed) parts.push(`${j.filesFailed} failed`);
  const first = j.errors[0];
  const why = first ? ` First failure: ${displayPath(first.file)}: ${first.error}.` : '';
  const skips = skippedText(j);
  switch (j.state) {
    case 'done':
      return { text: `${what}: ${parts.join(', ')}.${skips}${why}`, ok: j.filesFailed === 0 };
    case 'cancelled':
      return { text: `${what}: Cancelled. ${parts.join(', ')}; the rest is as it was, and nothing half-written was kept.`, ok: true };
    case 'interrupted':
      return { text: `${what} was interrupted (the daemon stopped): ${parts.join(', ')}. It resumes when the daemon restarts.`, ok: false };
    default:
      return { text: `${what} failed: ${parts.join(', ')}.${skips}${why}`, ok: false };
  }
}

/** Why files were skipped: the reasons, each with its files (the first few). */
function skippedText(j: JobInfo): string {
  if (!j.skipped?.length) return '';
  const byReason = new Map<string, string[]>();
  for (const s of j.skipped) byReason.set(s.reason, [...(byReason.get(s.reason) ?? []), displayPath(s.file)]);
  const parts = [...byReason].slice(0, 3).map(([reason, files]) => `${files.slice(0, 3).join(', ')}${files.length > 3 ? ` and ${files.length - 3} more` : ''}: ${reason}`);
  return ` Skipped ${parts.join('; ')}.`;
}
