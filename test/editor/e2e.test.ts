// The extension in a real VS Code (code-server 1.139, Chromium), end to end through the UI,
// then mocha inside the real extension host (host/*.suite.ts). Screenshots of every step go
// to test-output/editor/. Needs `npm run build` first, and the tools of
// scripts/install-deps.sh editor: skipped without them, except under CI=true.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { EditorSandbox, findTools, OUTPUT, ROOT, waitFor } from './harness';
import { runHostSuites } from './host-runner';

const UI_TIMEOUT = 60_000;

function row(page: Page, text: string): Locator {
  return page.locator('.monaco-list-row', { hasText: text }).first();
}

async function palette(page: Page, command: string): Promise<void> {
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ state: 'visible', timeout: UI_TIMEOUT });
  await input.fill(`>${command}`);
  await page.locator('.quick-input-list .monaco-list-row', { hasText: command }).first().waitFor({ timeout: UI_TIMEOUT });
  await page.keyboard.press('Enter');
}

/** Opens the Keyward view from its activity-bar icon (the palette's Show command if a click is lost). */
async function openKeywardView(page: Page): Promise<void> {
  const icon = page.locator('.activitybar li.action-item', { has: page.locator('[aria-label^="Keyward"]') }).first();
  await icon.waitFor({ state: 'visible', timeout: UI_TIMEOUT * 2 });
  const title = page.locator('.sidebar .composite.title', { hasText: 'Keyward' }).first();
  for (let attempt = 0; attempt < 3; attempt++) {
    await icon.locator('.action-label').click();
    try {
      await title.waitFor({ state: 'visible', timeout: 5_000 });
      return;
    } catch {
      // the workbench was still restoring: try again
    }
  }
  await palette(page, 'View: Show Keyward');
  await title.waitFor({ state: 'visible', timeout: UI_TIMEOUT });
}

/** Drags the side bar wider, so that descriptions show in screenshots. */
async function widenSideBar(page: Page, width: number): Promise<void> {
  const sash = page.locator('.monaco-sash.vertical.primary-sidebar-sash').first();
  const box = await sash.boundingBox();
  if (!box) return;
  const y = box.y + box.height / 2;
  await page.mouse.move(box.x + box.width / 2, y);
  await page.mouse.down();
  await page.mouse.move(width, y, { steps: 8 });
  await page.mouse.up();
}

async function notification(page: Page, text: string | RegExp, timeout = UI_TIMEOUT): Promise<string> {
  const toast = page.locator('.notification-toast', { hasText: text }).first();
  await toast.waitFor({ state: 'visible', timeout });
  return (await toast.innerText()).trim();
}

async function editorText(page: Page): Promise<string> {
  return (await page.locator('.editor-instance .monaco-editor .view-lines').first().innerText()).replace(/\u00a0/g, ' ');
}

describe('editor: Keyward in a real VS Code (code-server + Chromium)', function () {
  this.timeout(600_000);
  let sb: EditorSandbox;
  let page: Page;
  let keysFile: string;
  const timings: Record<string, number> = {};

  before(async function () {
    const { tools, missing } = findTools();
    if (!tools) {
      if (process.env.CI === 'true' || process.env.CI === '1') throw new Error(`missing ${missing.join(', ')}, and CI=true forbids skipping: run bash scripts/install-deps.sh editor`);
      this.skip();
    }
    if (!tools.sops && (process.env.CI === 'true' || process.env.CI === '1')) throw new Error('sops is missing, and CI=true forbids skipping: run npm test, which installs it');
    const t0 = Date.now();
    await fsp.rm(OUTPUT, { recursive: true, force: true });
    sb = await EditorSandbox.create(tools);
    sb.makeDemo();
    // The secret key, for checking with the reference sops (in the sandbox, outside the workspace).
    const exp = sb.cli(['keys', 'export', 'demo', '--secret']);
    assert.equal(exp.code, 0, exp.stderr);
    keysFile = sb.path('keys.txt');
    await fsp.writeFile(keysFile, exp.stdout, { mode: 0o600 });
    sb.cli(['daemon', 'stop']);
    sb.installVsix(sb.packageVsix());
    await sb.writeSettings();
    await sb.startCodeServer();
    timings.setup = Date.now() - t0;
  });

  after(async function () {
    if (page && !page.isClosed()) await sb.screenshot(page, '99-last').catch(() => undefined);
    await sb?.dispose();
    if (Object.keys(timings).length) console.log(`      editor suite timings (ms): ${JSON.stringify(timings)}`);
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed' && page && !page.isClosed()) await sb.screenshot(page, `failed-${this.currentTest.title.replace(/\W+/g, '-')}`).catch(() => undefined);
  });

  function sopsDecrypt(file: string): string {
    const r = spawnSync(sb.tools.sops!, ['decrypt', file], { env: { ...sb.env, SOPS_AGE_KEY_FILE: keysFile }, encoding: 'utf8', timeout: 30_000 });
    if (r.status !== 0) throw new Error(`sops -d ${path.basename(file)}: ${r.stderr}`);
    return r.stdout;
  }

  it('opens the Keyward view and shows the demo artifacts and key', async function () {
    const t0 = Date.now();
    page = await sb.newPage();
    await page.goto(sb.url);
    await page.locator('.monaco-workbench').waitFor({ timeout: UI_TIMEOUT });
    await openKeywardView(page);
    await widenSideBar(page, 560);
    await row(page, 'classifier.safetensors').waitFor({ timeout: UI_TIMEOUT });
    await row(page, 'tokenizer.onnx').waitFor({ timeout: UI_TIMEOUT });
    await row(page, 'app.enc.yaml').waitFor({ timeout: UI_TIMEOUT });
    await row(page, 'demo').waitFor({ timeout: UI_TIMEOUT });
    const model = await row(page, 'classifier.safetensors').innerText();
    assert.match(model, /demo@v1/);
    const status = page.locator('.statusbar-item', { hasText: 'Keyward' }).first();
    await status.waitFor({ timeout: UI_TIMEOUT });
    timings.view = Date.now() - t0;
    await sb.screenshot(page, '01-keyward-view');
  });

  it('rotates a data key from the palette, and the artifact shows its new data key', async function () {
    const t0 = Date.now();
    await row(page, 'classifier.safetensors').click();
    await page.keyboard.press('ArrowRight'); // expand
    const detail = row(page, 'Data key');
    await detail.waitFor({ timeout: UI_TIMEOUT });
    const before = (await detail.innerText()).match(/#([0-9a-f]{12})/)?.[1];
    assert.ok(before, 'the data key fingerprint is shown');

    await palette(page, 'Keyward: Rotate Data Key');
    const pick = page.locator('.quick-input-list .monaco-list-row', { hasText: 'classifier.safetensors' }).first();
    await pick.waitFor({ timeout: UI_TIMEOUT });
    await pick.click(); // toggles its checkbox
    await page.locator('.quick-input-widget .quick-input-count', { hasText: '1 Selected' }).waitFor({ timeout: UI_TIMEOUT });
    await page.keyboard.press('Enter');
    const dialog = page.locator('.monaco-dialog-box');
    await dialog.waitFor({ timeout: UI_TIMEOUT });
    await sb.screenshot(page, '02-rotate-confirm');
    await dialog.locator('.monaco-button', { hasText: 'Rotate' }).first().click();
    const done = await notification(page, /Data key rotation/, 120_000);
    assert.match(done, /1 of 1 file done/);
    const after = await waitFor('the new data key in the view', UI_TIMEOUT, async () => {
      const t = (await row(page, 'Data key').innerText()).match(/#([0-9a-f]{12})/)?.[1];
      return t && t !== before ? t : undefined;
    });
    assert.notEqual(after, before);
    timings.rotateDataKey = Date.now() - t0;
    await sb.screenshot(page, '03-data-key-rotated');
  });

  it('rotates the identity from the palette, and the artifacts move to demo@v2', async function () {
    const t0 = Date.now();
    await palette(page, 'Keyward: Rotate Identity');
    await page.locator('.quick-input-list .monaco-list-row', { hasText: 'demo' }).first().waitFor({ timeout: UI_TIMEOUT });
    await page.keyboard.press('Enter');
    const dialog = page.locator('.monaco-dialog-box');
    await dialog.waitFor({ timeout: UI_TIMEOUT });
    await dialog.locator('.monaco-button', { hasText: 'Rotate' }).first().click();
    await notification(page, /demo is now demo@v2/, 120_000);
    await waitFor('classifier.safetensors on demo@v2', UI_TIMEOUT, async () => ((await row(page, 'classifier.safetensors').innerText()).includes('demo@v2') ? true : undefined));
    await row(page, 'v2 · active').waitFor({ timeout: UI_TIMEOUT });
    timings.rotateIdentity = Date.now() - t0;
    await sb.screenshot(page, '04-identity-rotated');
  });

  it('opens a sops file decrypted, edits and saves it: re-encrypted, no plaintext anywhere', async function () {
    if (!sb.tools.sops) this.skip();
    const t0 = Date.now();
    const file = path.join(sb.workspace, 'config', 'app.enc.yaml');
    const canary = `canary${Date.now().toString(36)}${Math.random().toString(36).slice(2, 10)}`;
    await row(page, 'app.enc.yaml').click();
    await page.locator('.tab', { hasText: 'app.enc.yaml' }).first().waitFor({ timeout: UI_TIMEOUT });
    await waitFor('the decrypted text', UI_TIMEOUT, async () => ((await editorText(page)).includes(sb.demo.secrets.database.user) ? true : undefined));
    const shown = await editorText(page);
    assert.ok(shown.includes(sb.demo.secrets.database.password), 'the password shows decrypted');
    await sb.screenshot(page, '05-sops-decrypted');

    // Replace the user name with the canary (double-click selects the word), then save.
    await page.locator('.editor-instance .view-line span', { hasText: sb.demo.secrets.database.user }).last().dblclick();
    await page.keyboard.type(canary);
    await page.keyboard.press('Control+S');
    const plain = await waitFor('the canary in sops -d', UI_TIMEOUT, () => {
      const t = sopsDecrypt(file);
      return Promise.resolve(t.includes(canary) ? t : undefined);
    });
    assert.match(plain, new RegExp(`user: ${canary}`));
    assert.ok(plain.includes(sb.demo.secrets.database.password), 'other values unchanged');
    const onDisk = await fsp.readFile(file, 'utf8');
    assert.ok(!onDisk.includes(canary), 'the file on disk is encrypted');
    assert.match(onDisk, /user: ENC\[AES256_GCM,/);
    // Idle a few seconds, so that any backup VS Code would make of a dirty editor is due.
    await page.waitForTimeout(3_000);
    const hits = await EditorSandbox.filesContaining([sb.dir], canary);
    const tmpHits = (await EditorSandbox.filesContaining([os.tmpdir()], canary, { newerThan: sb.startedAt })).filter((h) => !h.startsWith(sb.dir));
    assert.deepEqual([...hits, ...tmpHits], [], 'no plaintext copy under the workspace, TMPDIR, the user-data dir or the browser profile');
    timings.sopsEdit = Date.now() - t0;
    await sb.screenshot(page, '06-sops-saved');
  });

  it('shows the hardcoded key as a diagnostic, and the quick fix moves it to the encrypted secrets file', async function () {
    if (!sb.tools.sops) this.skip();
    const t0 = Date.now();
    await page.keyboard.press('Control+P');
    await page.locator('.quick-input-widget input').waitFor({ state: 'visible', timeout: UI_TIMEOUT });
    await page.keyboard.type('train.py');
    await page.locator('.quick-input-list .monaco-list-row', { hasText: 'train.py' }).first().waitFor({ timeout: UI_TIMEOUT });
    await page.keyboard.press('Enter');
    await page.locator('.tab', { hasText: 'train.py' }).first().waitFor({ timeout: UI_TIMEOUT });
    await page.locator('.editor-instance .squiggly-error').first().waitFor({ timeout: UI_TIMEOUT });
    await page.keyboard.press('Control+Shift+M'); // Problems
    await page.locator('.markers-panel .monaco-list-row', { hasText: 'OpenAI API key' }).first().waitFor({ timeout: UI_TIMEOUT });
    await sb.screenshot(page, '07-diagnostic');

    await page.locator('.editor-instance .view-line span', { hasText: 'sk-proj-' }).last().click();
    await page.keyboard.press('Control+.');
    const fix = page.locator('.action-widget .monaco-list-row, .context-view .monaco-list-row', { hasText: 'Move the secret' }).first();
    await fix.waitFor({ timeout: UI_TIMEOUT });
    await sb.screenshot(page, '08-quick-fix');
    // The README's picture (media/screenshot.png): views, a diagnostic and its quick fixes.
    await sb.screenshot(page, 'readme');
    await fix.click();
    await waitFor('the lookup in train.py', UI_TIMEOUT, async () => ((await editorText(page)).includes('os.environ["OPENAI_API_KEY"]') ? true : undefined));
    const source = await waitFor('train.py saved', UI_TIMEOUT, async () => {
      const t = await fsp.readFile(path.join(sb.workspace, 'src', 'train.py'), 'utf8');
      return t.includes('os.environ["OPENAI_API_KEY"]') ? t : undefined;
    });
    assert.ok(!source.includes(sb.demo.fakeKey), 'the literal is gone from the file');
    assert.match(source, /^import os$/m);
    const secrets = sopsDecrypt(path.join(sb.workspace, 'config', 'secrets.enc.yaml'));
    assert.match(secrets, new RegExp(`OPENAI_API_KEY: ${sb.demo.fakeKey}`));
    await page.locator('.editor-instance .squiggly-error').first().waitFor({ state: 'detached', timeout: UI_TIMEOUT });
    timings.quickFix = Date.now() - t0;
    await sb.screenshot(page, '09-quick-fix-applied');
  });

  it('runs the extension-host suites inside the real extension host', async function () {
    const t0 = Date.now();
    // The smoke-test driver, which carries the test payload, hides toasts: the UI steps ran without it.
    await page.close();
    await sb.stopCodeServer();
    await sb.startCodeServer({ smokeTestDriver: true });
    const r = await runHostSuites(sb, ROOT);
    timings.hostSuites = Date.now() - t0;
    console.log(r.output.split('\n').map((l) => `      ${l}`).join('\n'));
    assert.equal(r.code, 0, `extension-host suites failed (exit ${r.code})`);
  });
});
