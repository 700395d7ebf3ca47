import { spawnSync } from 'node:child_process';

// A command on a real terminal: a Python pty (the standard library's) forks it, waits for each
// expected text in its output and types the answer, and returns everything the terminal showed.
// For prompts that must behave as on a terminal (masked input, y/N questions), which a pipe
// cannot test.
const DRIVER = `
import json, os, pty, sys, select
steps = json.loads(sys.argv[1])
pid, fd = pty.fork()
if pid == 0:
    os.execvpe(sys.argv[2], sys.argv[2:], os.environ)
out = b''
seen = 0
while True:
    r, _, _ = select.select([fd], [], [], 60)
    if not r: break
    try: data = os.read(fd, 4096)
    except OSError: break
    if not data: break
    out += data
    while steps and steps[0]['expect'].encode() in out[seen:]:
        seen = out.index(steps[0]['expect'].encode(), seen) + len(steps[0]['expect'])
        step = steps.pop(0)
        if step.get('touch'): open(step['touch'], 'w').close()
        os.write(fd, step.get('send', '').encode())
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode('utf8', 'replace'))
sys.exit(os.waitstatus_to_exitcode(status))
`;

export interface PtyStep {
  /** Text to wait for in the output (after the previous step's). */
  expect: string;
  /** What to type then (e.g. `y\r`). */
  send?: string;
  /** A file to create then (a fake plugin's "touch"). */
  touch?: string;
}

/** Runs `argv` on a pseudo-terminal, answering `steps` in order; the terminal's output (stdout and stderr mixed). */
export function runInPty(argv: readonly string[], steps: readonly PtyStep[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): { code: number; output: string } {
  const r = spawnSync('python3', ['-c', DRIVER, JSON.stringify(steps), ...argv], { env: opts.env ?? process.env, cwd: opts.cwd, encoding: 'utf8', timeout: 90_000 });
  if (r.error) throw r.error;
  return { code: r.status ?? -1, output: r.stdout + r.stderr };
}
