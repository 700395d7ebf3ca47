// `npm start` as a newcomer runs it: on a machine with no Secret Service on the session bus (the
// demo then makes a private keyring), it builds, packages and serves VS Code with Keyward on a
// demo workspace and prints the editor's URL; a browser opens it and the extension starts its
// daemon; then SIGTERM to npm (what a supervisor, or Ctrl-C's signal to npm, does) stops
// everything: no code-server, no daemon, no keyring session left. The extension used to start
// the daemon again half a second after the script stopped it, and that daemon stayed.
import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { BrowserContext } from 'playwright-core';
import { stopProcessesIn } from '../helpers/tools';
import { findTools, freePort, waitFor } from './harness';

const ROOT = path.resolve(__dirname, '../..');

/** Pids of processes (not this one) whose environment names `dir` in any variable. */
async function processesNaming(dir: string): Promise<{ pid: number; cmd: string }[]> {
  const found: { pid: number; cmd: string }[] = [];
  for (const e of await fsp.readdir('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      const environ = await fsp.readFile(`/proc/${e}/environ`, 'latin1');
      if (!environ.split('\0').some((v) => v.includes(`=${dir}`))) continue;
      const cmd = (await fsp.readFile(`/proc/${e}/cmdline`, 'latin1')).split('\0').join(' ').trim();
      const stat = await fsp.readFile(`/proc/${e}/stat`, 'latin1');
      if (/\) Z /.test(stat)) continue; // a zombie waiting for its parent holds nothing
      found.push({ pid: Number(e), cmd });
    } catch {
      // gone, or not ours
    }
  }
  return found;
}

/** Whether `pid` runs (a zombie, dead but not yet reaped by its parent, does not). */
async function running(pid: number): Promise<boolean> {
  try {
    return !/\) Z /.test(await fsp.readFile(`/proc/${pid}/stat`, 'latin1'));
  } catch {
    return false;
  }
}

describe('npm start: a working editor, and nothing left running after SIGTERM', function () {
  this.timeout(600_000);
  let dev: string;
  let profile: string;
  let npm: ChildProcess | undefined;
  let browser: BrowserContext | undefined;
  let output = '';

  before(function () {
    const { missing } = findTools();
    if (missing.length) {
      if (process.env.CI === 'true' || process.env.CI === '1') throw new Error(`missing ${missing.join(', ')}, and CI=true forbids skipping: run npm test, which installs them`);
      this.skip();
    }
  });

  after(async () => {
    await browser?.close().catch(() => undefined);
    if (npm?.pid && npm.exitCode === null) {
      try {
        process.kill(-npm.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    if (dev) {
      for (const p of await processesNaming(dev)) {
        try {
          process.kill(p.pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
      await stopProcessesIn(dev);
      await fsp.rm(dev, { recursive: true, force: true });
    }
    if (profile) await fsp.rm(profile, { recursive: true, force: true });
  });

  it('serves the editor, the extension starts its daemon, and SIGTERM to npm leaves no process behind', async () => {
    dev = await fsp.mkdtemp(path.join(os.tmpdir(), 'keyward-start-'));
    const port = await freePort();
    const env: NodeJS.ProcessEnv = { ...process.env, KEYWARD_DEV_DIR: dev, PORT: String(port) };
    // No Secret Service on the session bus: the fresh-machine path, with a private keyring.
    delete env.DBUS_SESSION_BUS_ADDRESS;
    delete env.GNOME_KEYRING_CONTROL;
    delete env.NODE_OPTIONS; // mocha's tsx loader
    delete env.KEYWARD_HOME;
    npm = spawn('npm', ['start'], { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (b: Buffer) => (output = (output + b.toString()).slice(-20_000));
    npm.stdout!.on('data', keep);
    npm.stderr!.on('data', keep);
    const exited = new Promise<number | null>((r) => npm!.once('exit', (code) => r(code)));

    const url = await waitFor('the editor URL from npm start', 420_000, () => {
      if (npm!.exitCode !== null) throw new Error(`npm start exited ${npm!.exitCode}: ${output.slice(-3000)}`);
      return Promise.resolve(/Keyward in VS Code \(code-server\): (http:\/\/127\.0\.0\.1:\d+\/\?folder=\S+)/.exec(output)?.[1]);
    });
    assert.ok(url.startsWith(`http://127.0.0.1:${port}/`), url);
    const res = await fetch(url);
    assert.equal(res.status, 200);

    const { chromium } = await import('playwright-core');
    const tools = findTools().tools!;
    // The browser is the user's, outside the demo's state: it stays when npm start stops.
    profile = await fsp.mkdtemp(path.join(os.tmpdir(), 'keyward-start-browser-'));
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: tools.chromium,
      headless: true,
      env: { ...process.env, XDG_CONFIG_HOME: path.join(profile, 'xdg') },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    const page = browser.pages()[0] ?? (await browser.newPage());
    await page.goto(url);
    await page.waitForSelector('.monaco-workbench', { timeout: 120_000 });
    // The extension (in code-server's extension host) starts the demo's daemon.
    const daemonOf = async () => (await processesNaming(dev)).find((p) => /dist\/daemon\.js/.test(p.cmd));
    const daemon = await waitFor('the daemon the extension starts', 120_000, daemonOf);
    assert.ok(await running(daemon.pid));

    process.kill(npm.pid!, 'SIGTERM');
    const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 60_000))]);
    assert.notEqual(code, 'timeout', `npm start did not stop within 60 s of SIGTERM: ${output.slice(-2000)}`);
    // Stopping is done when npm has exited; a second later still nothing may run (the extension
    // restarted the daemon ~0.5 s after the script stopped it).
    await new Promise((r) => setTimeout(r, 1500));
    const left = await processesNaming(dev);
    assert.deepEqual(left, [], `left running after npm start stopped:\n${left.map((p) => `${p.pid} ${p.cmd}`).join('\n')}`);
    assert.equal(await running(daemon.pid), false);
  });
});
