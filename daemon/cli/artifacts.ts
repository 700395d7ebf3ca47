import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import type { AgeDataParams, JobInfo } from '../protocol';
import { AgeDataNotification, JobProgressNotification } from '../protocol/constants';
import { ErrorCode, ExitCode } from '../protocol/errors';
import { KeywardError } from '../util/errors';
import { collect, globals, isConnectionLost, print, streamingToStdout, withBackend } from './context';
import type { Backend } from './backend';
import { isKeywardTemp } from '../util/temps';

/** `keyward rewrap`, `keyward rotate`, `keyward jobs ...` and `keyward decrypt --range`. */
export function registerArtifactCommands(program: Command): void {
  program
    .command('rewrap <files...>')
    .description('change who can decrypt age files by rewriting their headers only (same file key, payload untouched)')
    .option('--add <recipient>', 'add an age1.../age1pq1... recipient (repeatable)', collect, [])
    .option('--add-key <name>', 'add a keystore key, NAME or NAME@vN (repeatable)', collect, [])
    .option('--remove <recipient>', 'remove a recipient (repeatable)', collect, [])
    .option('--remove-key <name>', 'remove a keystore key (repeatable)', collect, [])
    .option('--set <recipient>', 'replace the recipients with these (repeatable; for files Keyward did not write)', collect, [])
    .option('--set-key <name>', 'replace the recipients with these keys (repeatable)', collect, [])
    .option('--rotate', 'after removing recipients, also make a new file key (they may have kept the old one)')
    .option('--detach', 'start the job and return its id')
    .action(
      async (
        patterns: string[],
        o: { add: string[]; addKey: string[]; remove: string[]; removeKey: string[]; set: string[]; setKey: string[]; rotate?: boolean; detach?: boolean },
      ) => {
        const files = await expand(patterns);
        const removing = o.remove.length + o.removeKey.length > 0;
        if (removing && !o.rotate) {
          process.stderr.write(
            'keyward: warning: a removed recipient may have kept the file key of each file; to lock them out for good, rotate: add --rotate\n',
          );
        }
        await runJob(o.detach ?? false, async (b) => {
          const job = await b.call('artifactsRewrap', {
            files,
            ...(o.add.length ? { add: o.add } : {}),
            ...(o.addKey.length ? { addKeys: o.addKey } : {}),
            ...(o.remove.length ? { remove: o.remove } : {}),
            ...(o.removeKey.length ? { removeKeys: o.removeKey } : {}),
            ...(o.set.length ? { setRecipients: o.set } : {}),
            ...(o.setKey.length ? { setKeys: o.setKey } : {}),
          });
          if (!o.rotate || !removing) return job;
          const done = await follow(b, job);
          if (done.state !== 'done') return done;
          return b.call('artifactsRotate', { files });
        });
      },
    );

  program
    .command('rotate <files...>')
    .description('make a new file key for age files and re-encrypt their payloads (as a resumable job)')
    .option('-r, --recipient <recipient>', 'new recipients (default: the current ones)', collect, [])
    .option('-k, --key <name>', 'new recipient keys (default: the current ones)', collect, [])
    .option('--detach', 'start the job and return its id')
    .action(async (patterns: string[], o: { recipient: string[]; key: string[]; detach?: boolean }) => {
      const files = await expand(patterns);
      await runJob(o.detach ?? false, (b) =>
        b.call('artifactsRotate', { files, ...(o.recipient.length ? { recipients: o.recipient } : {}), ...(o.key.length ? { keys: o.key } : {}) }),
      );
    });

  const jobs = program.command('jobs').description('background jobs of the daemon (rewrap, rotate)');
  jobs
    .command('list')
    .description('jobs of this daemon run')
    .action(async () => {
      const r = await withBackend((b) => b.call('jobsList', {}));
      print(r.jobs.map(formatJob).join('\n') || 'no jobs', r.jobs);
    });
  jobs
    .command('wait <id>')
    .description('follow a job until it ends')
    .action(async (id: string) => {
      await runJob(false, (b) => b.call('jobsGet', { id }));
    });
  jobs
    .command('cancel <id>')
    .description('cancel a job: files not yet switched keep their old form')
    .action(async (id: string) => {
      const r = await withBackend((b) => b.call('jobsCancel', { id }));
      print(formatJob(r), r);
    });
}

/**
 * `keys rotate NAME --rewrap PATH...`: the zero-downtime order. A new version is made while
 * the old one stays active; every artifact the old version opens gets the new recipient
 * (header only); then the old recipient is removed from them; then the old version is
 * deactivated (it can still decrypt anything missed). Each step is a resumable job.
 */
export async function rotateIdentityWithArtifacts(name: string, roots: string[], cryptoperiodDays?: number): Promise<void> {
  const files = await findArtifacts(roots);
  const r = await withBackend(async (b) => {
    const rot = await b.call('keysRotate', { name, keepPrevious: true, ...(cryptoperiodDays ? { cryptoperiodDays } : {}) });
    const oldRef = rot.previous.ref;
    const newRef = rot.key.ref;
    const steps: JobInfo[] = [];
    if (files.length) {
      process.stderr.write(`keyward: adding ${newRef} to the artifacts ${oldRef} opens (${files.length} file(s) to check)\n`);
      const add = await follow(b, await b.call('artifactsRewrap', { files, addKeys: [newRef], onlyIfOpenedBy: [oldRef] }));
      steps.push(add);
      if (add.state !== 'done') {
        return { rotated: rot, steps, complete: false, reason: `adding ${newRef} did not finish (${add.state}); ${oldRef} stays active` };
      }
      process.stderr.write(`keyward: removing ${oldRef} from them\n`);
      steps.push(await follow(b, await b.call('artifactsRewrap', { files, removeKeys: [oldRef], onlyIfOpenedBy: [newRef] })));
    }
    const prev = await b.call('keysSetState', { ref: oldRef, state: 'deactivated', reason: `rotated to ${newRef}` });
    return { rotated: { key: rot.key, previous: prev.key }, steps, complete: steps.every((s) => s.state === 'done'), reason: '' };
  });
  const lines = [`${r.rotated.key.ref} active\t${r.rotated.key.recipient}`, `${r.rotated.previous.ref} ${r.rotated.previous.state}`, ...r.steps.map(formatJob)];
  if (r.reason) lines.push(r.reason);
  print(lines.join('\n'), r);
  for (const s of r.steps) for (const e of s.errors) process.stderr.write(`keyward: ${e.file}: ${e.error}\n`);
  if (!r.complete) process.exitCode = ExitCode.Failed;
}

/** Every `*.age` file under the given files or directories (respecting nothing but .git), never through a symlink out of them. */
export async function findArtifacts(roots: string[]): Promise<string[]> {
  const out = new Set<string>();
  for (const root of roots) {
    const abs = path.resolve(root);
    if (abs.endsWith('.age')) {
      const f = await inTree(abs, path.dirname(abs), true);
      if (f) out.add(f);
      continue;
    }
    const { glob } = await import('tinyglobby');
    const base = await realDir(abs);
    for (const f of await glob('**/*.age', { cwd: abs, absolute: true, onlyFiles: true, dot: true, ignore: ['**/.git/**', '**/node_modules/**'] })) {
      const real = await inTree(f, base, false);
      if (real) out.add(real);
    }
  }
  return [...out].sort();
}

/**
 * `file` as a real path when it is inside the real directory `base`; otherwise undefined, and
 * stderr says it was skipped and why. A walk or glob never leaves the tree it was given through
 * a symlink (rewrap writes headers in place: through a link it would change a file elsewhere),
 * and a file named directly must not be a symlink at all.
 */
async function inTree(file: string, base: string, named: boolean): Promise<string | undefined> {
  let real: string;
  let link = false;
  try {
    link = (await fsp.lstat(file)).isSymbolicLink();
    real = await fsp.realpath(file);
  } catch {
    return path.resolve(file); // missing: the daemon reports it
  }
  if (named) {
    if (!link) return real;
    process.stderr.write(`keyward: skipped ${file}: a symbolic link (to ${real}); name the file itself\n`);
    return undefined;
  }
  if (real !== base && !real.startsWith(base + path.sep)) {
    process.stderr.write(`keyward: skipped ${file}: a symbolic link to ${real}, outside ${base}\n`);
    return undefined;
  }
  return real;
}

async function realDir(dir: string): Promise<string> {
  return fsp.realpath(dir).catch(() => path.resolve(dir));
}

/** Decrypts a range of a binary age file (for `keyward decrypt --range`). */
export async function decryptRange(input: string, range: string, output: string | undefined, force: boolean): Promise<void> {
  const m = /^(\d+):(\d*)$/.exec(range);
  if (!m) throw new KeywardError(ErrorCode.InvalidInput, `invalid range: ${range}`, 'use START:END in plaintext bytes (END exclusive; empty END = to the end)');
  const start = Number(m[1]);
  const end = m[2] ? Number(m[2]) : Number.MAX_SAFE_INTEGER;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end < start) {
    throw new KeywardError(ErrorCode.InvalidInput, `invalid range: ${range}`, 'END must not be before START');
  }
  const run = () =>
    withBackend(async (b) => {
      if (output === undefined) {
        b.onNotification(AgeDataNotification, (p) => {
          process.stdout.write(Buffer.from((p as AgeDataParams).data, 'base64'));
        });
      }
      return b.call('ageDecryptRange', { input, start, end, ...(output ? { output } : {}), ...(force ? { overwrite: true } : {}) });
    });
  const r = await (output === undefined ? streamingToStdout(run) : run());
  if (output) print(output, r);
}

/**
 * Expands globs the shell left alone (quoted), and makes every path absolute and real. Files a
 * glob reaches through a symlink out of its base directory, and named files that are symlinks,
 * are skipped (said on stderr).
 */
async function expand(patterns: string[]): Promise<string[]> {
  const out = new Set<string>();
  for (const p of patterns) {
    if (/[*?[\]{}]/.test(p)) {
      const { glob, isDynamicPattern } = await import('tinyglobby');
      // Keyward's own temps (a job's, an atomic write's) are half-written: never a job's input.
      const found = (await glob(p, { absolute: true, onlyFiles: true, dot: false })).filter((f) => !isKeywardTemp(path.basename(f)));
      if (!found.length) throw new KeywardError(ErrorCode.NotFound, `no file matches ${p}`, 'check the pattern');
      // The tree a glob was given: its directories before the first wildcard.
      const parts = p.split(/[\\/]/);
      const fixed = parts.slice(0, parts.findIndex((x) => isDynamicPattern(x)));
      const base = await realDir(path.resolve(fixed.join(path.sep) || '.'));
      for (const f of found.sort()) {
        const real = await inTree(f, base, false);
        if (real) out.add(real);
      }
    } else {
      const real = await inTree(path.resolve(p), path.dirname(path.resolve(p)), true);
      if (real) out.add(real);
    }
  }
  if (out.size === 0) throw new KeywardError(ErrorCode.NotFound, 'no files left to work on', 'every path given was skipped (see above)');
  return [...out];
}

/** Starts a job and, unless detached, follows it with progress on stderr until it ends. */
export async function runJob(detach: boolean, start: (b: Backend) => Promise<JobInfo>): Promise<void> {
  const r = await withBackend(async (b) => {
    const job = await start(b);
    if (detach) return job;
    return follow(b, job);
  });
  print(detach ? r.id : formatJob(r), r);
  for (const e of r.errors) process.stderr.write(`keyward: ${e.file}: ${e.error}\n`);
  if (r.state === 'failed') process.exitCode = ExitCode.Failed;
  if (r.state === 'cancelled' || r.state === 'interrupted') process.exitCode = ExitCode.Failed;
}

export async function follow(b: Backend, job: JobInfo): Promise<JobInfo> {
  if (job.state !== 'running') return job;
  const tty = process.stderr.isTTY && !globals().json;
  let waitingShown = '';
  b.onNotification(JobProgressNotification, (p) => {
    const j = p as JobInfo;
    if (j.id !== job.id) return;
    const waiting = waitingText(j);
    if (!tty) {
      // No progress line to put it on: say once that the job waits on a device.
      if (waiting && waiting !== waitingShown) process.stderr.write(`keyward: ${j.kind} ${j.id}: ${waiting}\n`);
      waitingShown = waiting;
      return;
    }
    const pct = j.bytesTotal ? Math.floor((100 * j.bytesDone) / j.bytesTotal) : 100;
    process.stderr.write(`\r\x1b[K${j.kind} ${j.id}: ${j.filesDone + j.filesSkipped}/${j.filesTotal} files, ${pct}%${waiting ? `, ${waiting}` : ''}`);
  });
  // Ctrl-C cancels the job; files not yet switched keep their old form.
  const onSigint = () => {
    void b.call('jobsCancel', { id: job.id }).catch(() => undefined);
  };
  process.once('SIGINT', onSigint);
  try {
    return await b.call('jobsWait', { id: job.id });
  } catch (e) {
    // The job is journaled: a daemon that died mid-way resumes it when it starts again.
    if (!isConnectionLost(e)) throw e;
    throw new KeywardError(e.code, `the daemon stopped while job ${job.id} ran`, `it resumes when the daemon starts again: keyward jobs wait ${job.id}`);
  } finally {
    process.off('SIGINT', onSigint);
    if (tty) process.stderr.write('\n');
  }
}

/** What a job waits on, for its progress line: "waiting for the yubikey plugin (touch ...)", or ''. */
export function waitingText(j: JobInfo): string {
  const names = (j.waiting ?? []).map((w) => w.plugin.replace(/[^\w.+-]/g, '?'));
  if (!names.length) return '';
  return `waiting for the ${names.join(' and ')} plugin${names.length > 1 ? 's' : ''} (touch your key or confirm on the device if it asks)`;
}

export function formatJob(j: JobInfo): string {
  return `${j.kind} ${j.id}: ${j.state}, ${j.filesDone} done, ${j.filesSkipped} unchanged, ${j.filesFailed} failed of ${j.filesTotal}`;
}
