// Runs the extension-host suites (host/*.suite.ts) with mocha inside the real extension host of
// code-server: they are bundled with esbuild (vscode and mocha external), and a browser window
// opens with the smoke-test driver's payload (extensionDevelopmentPath = the repository, which
// must be built; extensionTestsPath = the bundle). The log and exit code come back through the
// page's codeAutomationLog / codeAutomationExit hooks.
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { format } from 'node:util';
import { build } from 'esbuild';
import type { EditorSandbox } from './harness';
import { OUTPUT } from './harness';

export async function bundleHostSuites(root: string): Promise<string> {
  const outdir = path.join(OUTPUT, 'host');
  await fsp.mkdir(outdir, { recursive: true });
  await build({
    entryPoints: { index: path.join(root, 'test/editor/host/index.ts'), suites: path.join(root, 'test/editor/host/suites.ts') },
    outdir,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    sourcemap: 'inline',
    external: ['vscode', 'mocha'],
    logLevel: 'warning',
  });
  return path.join(outdir, 'index.js');
}

export async function runHostSuites(sb: EditorSandbox, root: string, timeoutMs = 240_000): Promise<{ code: number; output: string }> {
  const index = await bundleHostSuites(root);
  const ctx = sb.browser ?? (await sb.launchBrowser());
  const page = await ctx.newPage();
  let output = '';
  let finish!: (code: number) => void;
  const exited = new Promise<number>((r) => (finish = r));
  await page.exposeFunction('codeAutomationLog', (type: string, args: unknown[]) => {
    const line = format(...(Array.isArray(args) ? args : [args]));
    // A suite asks for typing into the input box it is about to open (plugins.suite.ts): a masked one.
    const typing = /^keyward-host-test: type-secret (.*)$/.exec(line);
    if (typing) {
      const box = page.locator('.quick-input-widget input[type="password"]');
      void box
        .waitFor({ state: 'visible', timeout: 30_000 })
        .then(() => box.fill(typing[1]!))
        .then(() => box.press('Enter'))
        .catch((e: unknown) => (output += `(could not type into the input box: ${String(e)})\n`));
      return;
    }
    if (type === 'error' || type === 'warn' || type === 'log' || type === 'info') output += line + '\n';
  });
  await page.exposeFunction('codeAutomationExit', (code: number) => finish(code));
  const authority = `127.0.0.1:${sb.port}`;
  const payload = JSON.stringify([
    ['extensionDevelopmentPath', `vscode-remote://${authority}${root}`],
    ['extensionTestsPath', `vscode-remote://${authority}${index}`],
    ['skipWelcome', 'true'],
  ]);
  await page.goto(`http://${authority}/?folder=${encodeURIComponent(sb.workspace)}&payload=${encodeURIComponent(payload)}`);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<number>((r) => (timer = setTimeout(() => r(-1), timeoutMs)));
  try {
    const code = await Promise.race([exited, timeout]);
    if (code === -1) output += `\n(the extension-host suites did not finish within ${timeoutMs / 1000} s)\n`;
    return { code, output };
  } finally {
    clearTimeout(timer);
    await page.close().catch(() => undefined);
  }
}
