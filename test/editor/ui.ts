// Driving the workbench of code-server from playwright: the palette, views, context menus,
// notifications, dialogs, webviews. Each helper waits on what it expects to see, never on time.
import type { FrameLocator, Locator, Page } from 'playwright-core';

export const UI_TIMEOUT = 60_000;

/** A row of any list or tree (views, Explorer, quick input). */
export function row(page: Page, text: string | RegExp): Locator {
  return page.locator('.monaco-list-row', { hasText: text }).first();
}

/** A view pane of the side bar, by its title (`Keys`, `Encrypted Artifacts`). */
export function pane(page: Page, title: string | RegExp): Locator {
  return page.locator('.pane', { has: page.locator('.pane-header', { hasText: title }) }).first();
}

export function explorerRow(page: Page, name: string | RegExp): Locator {
  const exact = typeof name === 'string' ? new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`) : name;
  return page.locator('.explorer-folders-view .monaco-list-row', { has: page.locator('.label-name', { hasText: exact }) }).first();
}

export async function palette(page: Page, command: string): Promise<void> {
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ state: 'visible', timeout: UI_TIMEOUT });
  await input.fill(`>${command}`);
  await page.locator('.quick-input-list .monaco-list-row', { hasText: command }).first().waitFor({ timeout: UI_TIMEOUT });
  await page.keyboard.press('Enter');
}

/** Opens a side bar container from its activity-bar icon (the palette's Show command if a click is lost). */
export async function openContainer(page: Page, label: string, title: string): Promise<void> {
  const icon = page.locator('.activitybar li.action-item', { has: page.locator(`[aria-label^="${label}"]`) }).first();
  await icon.waitFor({ state: 'visible', timeout: UI_TIMEOUT * 2 });
  const header = page.locator('.sidebar .composite.title', { hasText: title }).first();
  if (await header.isVisible()) return;
  for (let attempt = 0; attempt < 3; attempt++) {
    await icon.locator('.action-label').click();
    try {
      await header.waitFor({ state: 'visible', timeout: 5_000 });
      return;
    } catch {
      // the workbench was still restoring: try again
    }
  }
  await palette(page, `View: Show ${label}`);
  await header.waitFor({ state: 'visible', timeout: UI_TIMEOUT });
}

export const openKeyward = (page: Page) => openContainer(page, 'Keyward', 'Keyward');
export const openExplorer = (page: Page) => openContainer(page, 'Explorer', 'Explorer');

/** Right-clicks `target` and runs the context-menu item `item`. */
export async function contextMenu(page: Page, target: Locator, item: string): Promise<string[]> {
  await target.click({ button: 'right' });
  const entry = page.locator('.context-view .action-item', { hasText: item }).first();
  await entry.waitFor({ timeout: UI_TIMEOUT });
  const items = (await page.locator('.context-view .action-label').allInnerTexts()).filter(Boolean);
  await entry.hover();
  await page.keyboard.press('Enter');
  return items;
}

/** The labels of a context menu, then closes it. */
export async function menuItems(page: Page, target: Locator): Promise<string[]> {
  await target.click({ button: 'right' });
  await page.locator('.context-view .action-label').first().waitFor({ timeout: UI_TIMEOUT });
  const items = (await page.locator('.context-view .action-label').allInnerTexts()).filter(Boolean);
  await page.keyboard.press('Escape');
  return items;
}

export function toast(page: Page, text: string | RegExp): Locator {
  return page.locator('.notification-toast', { hasText: text }).first();
}

export async function notification(page: Page, text: string | RegExp, timeout = UI_TIMEOUT): Promise<string> {
  const t = toast(page, text);
  await t.waitFor({ state: 'visible', timeout });
  return (await t.innerText()).trim();
}

export async function clickToastButton(page: Page, text: string | RegExp, button: string): Promise<void> {
  await toast(page, text).locator('.monaco-button', { hasText: button }).first().click();
}

/** Closes every notification toast (so that the next one waited for is new). */
export async function clearNotifications(page: Page): Promise<void> {
  await palette(page, 'Notifications: Clear All Notifications');
  await page.locator('.notification-toast').first().waitFor({ state: 'detached', timeout: UI_TIMEOUT }).catch(() => undefined);
}

export function dialog(page: Page): Locator {
  return page.locator('.monaco-dialog-box').first();
}

export async function quickInput(page: Page, title: string | RegExp): Promise<Locator> {
  const w = page.locator('.quick-input-widget', { hasText: title }).first();
  await w.waitFor({ state: 'visible', timeout: UI_TIMEOUT });
  return w;
}

export async function pick(page: Page, text: string | RegExp): Promise<void> {
  await page.locator('.quick-input-list .monaco-list-row', { hasText: text }).first().click();
}

/** The content frame of the active webview (custom editors, previews). */
export function webview(page: Page): FrameLocator {
  return page.frameLocator('iframe.webview.ready').last().frameLocator('iframe#active-frame');
}

export async function editorText(page: Page): Promise<string> {
  return (await page.locator('.editor-instance .monaco-editor .view-lines').first().innerText()).replace(/\u00a0/g, ' ');
}

export async function tabs(page: Page): Promise<string[]> {
  return (await page.locator('.tabs-container .tab').allInnerTexts()).map((t) => t.replace(/\n/g, ''));
}

/** Drags the side bar wider, so that descriptions show in screenshots. */
export async function widenSideBar(page: Page, width: number): Promise<void> {
  const sash = page.locator('.monaco-sash.vertical.primary-sidebar-sash').first();
  const box = await sash.boundingBox();
  if (!box) return;
  const y = box.y + box.height / 2;
  await page.mouse.move(box.x + box.width / 2, y);
  await page.mouse.down();
  await page.mouse.move(width, y, { steps: 8 });
  await page.mouse.up();
}

/** Expands or collapses a tree row by its twistie (a click on the row would run its command). */
export async function setExpanded(target: Locator, expanded: boolean): Promise<void> {
  await target.waitFor({ timeout: UI_TIMEOUT });
  const want = String(expanded);
  if ((await target.getAttribute('aria-expanded')) !== want) await target.locator('.monaco-tl-twistie').click();
  const deadline = Date.now() + UI_TIMEOUT;
  while ((await target.getAttribute('aria-expanded')) !== want) {
    if (Date.now() > deadline) throw new Error(`the row did not become ${expanded ? 'expanded' : 'collapsed'}`);
    await target.page().waitForTimeout(50);
  }
}

export async function quickOpen(page: Page, file: string): Promise<void> {
  await page.keyboard.press('Control+P');
  await page.locator('.quick-input-widget input').waitFor({ state: 'visible', timeout: UI_TIMEOUT });
  await page.keyboard.type(file);
  await page.locator('.quick-input-list .monaco-list-row', { hasText: file }).first().waitFor({ timeout: UI_TIMEOUT });
  await page.keyboard.press('Enter');
}
