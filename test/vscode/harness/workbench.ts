// Helpers over the real VS Code workbench DOM (code-server 4.139 / VS Code 1.139): the command palette,
// the activity bar, tree views, webviews, hovers, notifications and screenshots. Every wait is bounded.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { FrameLocator, Locator, Page } from 'playwright-core';
import { readManifest } from './launcher';

export interface TreeItem {
  label: string;
  description: string;
  /** The row's full accessible label (label, description, tooltip as VS Code composes it). */
  ariaLabel: string;
  /** 1 for top-level items. */
  level: number;
  expanded: boolean | undefined;
  selected: boolean;
}

export interface Notification {
  severity: 'error' | 'warning' | 'info' | 'unknown';
  message: string;
  source: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class Workbench {
  private shots = 0;

  constructor(
    readonly page: Page,
    /** Folder for this scenario's screenshots. */
    readonly screenshotDir: string,
    private readonly extensionPath: string,
  ) {}

  /** Waits until the workbench is laid out (activity bar and status bar visible). */
  async waitReady(timeoutMs = 90_000): Promise<void> {
    await this.page.locator('.monaco-workbench .part.activitybar').first().waitFor({ state: 'visible', timeout: timeoutMs });
    await this.page.locator('.monaco-workbench .part.statusbar').first().waitFor({ state: 'visible', timeout: timeoutMs });
  }

  /** The palette label of a contributed command id (`Category: Title`), or the text as given. */
  commandLabel(idOrLabel: string): string {
    const cmds: Array<{ command: string; title: string; category?: string }> = readManifest(this.extensionPath).contributes?.commands ?? [];
    const c = cmds.find((x) => x.command === idOrLabel);
    if (!c) return idOrLabel;
    return c.category ? `${c.category}: ${c.title}` : c.title;
  }

  /**
   * Runs a command through the command palette, by its contributed id or its palette label. A freshly
   * contributed command can be missing from the first search, so the palette is reopened with a bound.
   */
  async runCommand(idOrLabel: string, opts: { attempts?: number; waitMs?: number } = {}): Promise<void> {
    const label = this.commandLabel(idOrLabel);
    const attempts = opts.attempts ?? 6;
    let lastSeen: string[] = [];
    for (let i = 1; i <= attempts; i++) {
      await this.closeQuickInput();
      await this.page.keyboard.press('F1');
      const input = this.page.locator('.quick-input-widget .quick-input-box input');
      try {
        await input.waitFor({ state: 'visible', timeout: 10_000 });
      } catch {
        await sleep(500 * i);
        continue;
      }
      await input.fill(`>${label}`);
      const row = this.quickInputRow(label);
      let clicked = false;
      try {
        await row.waitFor({ state: 'visible', timeout: (opts.waitMs ?? 4000) + 1000 * i });
        await row.click();
        clicked = true;
      } catch {
        lastSeen = await this.quickInputLabels();
        await sleep(750 * i);
      }
      if (clicked) {
        // A command that is offered but fails (not registered, throws) shows an error dialog: fail here, with it.
        const deadline = Date.now() + 1500;
        while (Date.now() < deadline) {
          const err = await this.errorDialog();
          if (err) throw new Error(`command "${label}" failed: ${err}`);
          await sleep(250);
        }
        return;
      }
    }
    await this.closeQuickInput();
    throw new Error(`command "${label}" not found in the palette after ${attempts} tries; last offered: ${JSON.stringify(lastSeen)}`);
  }

  /** The text of the open modal dialogs (VS Code shows a failing command's error in one). */
  async dialogs(): Promise<string[]> {
    const texts = await this.page
      .locator('.monaco-dialog-box')
      .allInnerTexts()
      .catch(() => [] as string[]);
    return texts.map((t) => t.replace(/\s+/g, ' ').trim()).filter(Boolean);
  }

  /** The open error dialog's text ("Command … resulted in an error"), if any. */
  async errorDialog(): Promise<string | undefined> {
    return (await this.dialogs()).find((t) => /resulted in an error|not found/i.test(t));
  }

  /** Picks an item of an open quick pick (a command's follow-up question) by its label (exact or prefix). */
  async pickQuickItem(label: string | RegExp, timeoutMs = 15_000): Promise<void> {
    const row = this.quickInputRow(label);
    await row.waitFor({ state: 'visible', timeout: timeoutMs });
    await row.click();
  }

  /**
   * Types into an open quick input / input box and accepts with Enter. With `title`, waits for the input whose
   * title matches first: after a slow step the previous input can still be on screen, and would take the text.
   */
  async answerInput(text: string, opts: number | { timeoutMs?: number; title?: RegExp } = {}): Promise<void> {
    const { timeoutMs = 15_000, title } = typeof opts === 'number' ? { timeoutMs: opts } : opts;
    if (title) await this.page.locator('.quick-input-widget .quick-input-title', { hasText: title }).waitFor({ state: 'visible', timeout: timeoutMs });
    const input = this.page.locator('.quick-input-widget .quick-input-box input');
    await input.waitFor({ state: 'visible', timeout: timeoutMs });
    await input.fill(text);
    await input.press('Enter');
  }

  /** The labels the open quick input offers. */
  async quickInputLabels(): Promise<string[]> {
    return this.page
      .locator('.quick-input-widget .quick-input-list .monaco-list-row .label-name')
      .allInnerTexts()
      .catch(() => []);
  }

  private quickInputRow(label: string | RegExp): Locator {
    const rows = this.page.locator('.quick-input-widget .quick-input-list .monaco-list-row');
    if (typeof label === 'string') {
      return rows.filter({ has: this.page.locator('.label-name', { hasText: new RegExp(`^\\s*${escapeRe(label)}`) }) }).first();
    }
    return rows.filter({ has: this.page.locator('.label-name', { hasText: label }) }).first();
  }

  async closeQuickInput(): Promise<void> {
    const widget = this.page.locator('.quick-input-widget');
    for (let i = 0; i < 3 && (await widget.isVisible().catch(() => false)); i++) {
      await this.page.keyboard.press('Escape');
      await sleep(150);
    }
  }

  /** The activity bar entry of a view container by its title (e.g. "PRPO Studio"). */
  activityBarItem(title: string): Locator {
    return this.page.locator(`.part.activitybar .action-item .action-label[aria-label^="${cssString(title)}"]`).first();
  }

  /** Opens a view container from the activity bar (no-op when it is showing already). */
  async openViewContainer(title: string, timeoutMs = 30_000): Promise<void> {
    const item = this.activityBarItem(title);
    await item.waitFor({ state: 'visible', timeout: timeoutMs });
    const checked = await item.evaluate((el) => el.closest('.action-item')?.classList.contains('checked') ?? false);
    if (!checked) await item.click();
    await this.page
      .locator(`.part.sidebar .composite.title h2[title^="${cssString(title)}"], .part.sidebar .title-label h2`)
      .first()
      .waitFor({ state: 'visible', timeout: timeoutMs });
  }

  /**
   * A view pane in the side bar by its name (e.g. "Runs"). With a single view in a container the pane header
   * is hidden; the container's only pane is returned then.
   */
  view(name: string): Locator {
    const sidebar = this.page.locator('.part.sidebar');
    const byHeader = sidebar.locator('.pane').filter({
      has: this.page.locator('.pane-header', { has: this.page.locator('h3.title', { hasText: new RegExp(`^\\s*${escapeRe(name)}\\s*$`, 'i') }) }),
    });
    return byHeader.or(sidebar.locator('.pane')).first();
  }

  /** The rows of a tree view (what is rendered: the tree is virtualized, so a long one shows a window). */
  async treeItems(viewName: string, opts: { timeoutMs?: number; atLeast?: number } = {}): Promise<TreeItem[]> {
    const rows = this.view(viewName).locator('.monaco-list-row');
    const want = opts.atLeast ?? 0;
    const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
    for (;;) {
      const items = await rows.evaluateAll((els) =>
        els.map((el) => ({
          label: (el.querySelector('.label-name')?.textContent ?? '').trim(),
          description: (el.querySelector('.label-description')?.textContent ?? '').trim(),
          ariaLabel: el.getAttribute('aria-label') ?? '',
          level: Number(el.getAttribute('aria-level') ?? '1'),
          expanded: el.hasAttribute('aria-expanded') ? el.getAttribute('aria-expanded') === 'true' : undefined,
          selected: el.getAttribute('aria-selected') === 'true',
        })),
      );
      if (items.length >= want && (want > 0 || items.length > 0 || Date.now() > deadline)) return items;
      if (Date.now() > deadline) return items;
      await sleep(250);
    }
  }

  /** Waits for a tree row whose label matches and returns its locator. */
  async treeItem(viewName: string, label: string | RegExp, timeoutMs = 30_000): Promise<Locator> {
    const re = typeof label === 'string' ? new RegExp(`^\\s*${escapeRe(label)}`) : label;
    const row = this.view(viewName)
      .locator('.monaco-list-row')
      .filter({ has: this.page.locator('.label-name', { hasText: re }) })
      .first();
    await row.waitFor({ state: 'visible', timeout: timeoutMs });
    return row;
  }

  /**
   * The DOM inside a webview: the outer `iframe.webview` hosts an inner `#active-frame` with the page the
   * extension set. `title` picks the webview whose editor tab has that title; default: the last one shown.
   */
  webview(opts: { index?: number } = {}): FrameLocator {
    const outer = this.page.locator('iframe.webview.ready, iframe.webview');
    const frame = opts.index === undefined ? outer.last() : outer.nth(opts.index);
    return frame.contentFrame().locator('#active-frame').contentFrame();
  }

  /** Waits until some webview's inner document contains `selector`, and returns that webview. */
  async waitForWebview(selector: string, timeoutMs = 60_000): Promise<FrameLocator> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const count = await this.page.locator('iframe.webview').count();
      for (let i = count - 1; i >= 0; i--) {
        const wv = this.webview({ index: i });
        if ((await wv.locator(selector).count().catch(() => 0)) > 0) return wv;
      }
      const err = await this.errorDialog();
      if (err) throw new Error(`waiting for a webview with ${selector}: ${err}`);
      if (Date.now() > deadline) throw new Error(`no webview shows ${selector} after ${timeoutMs} ms (${count} webview frames)`);
      await sleep(300);
    }
  }

  /** The titles of the open editor tabs. */
  async editorTabs(): Promise<string[]> {
    return this.page.locator('.part.editor .tabs-container .tab .label-name, .part.editor .title-label .label-name').allInnerTexts();
  }

  /**
   * Hovers `target` and returns the text of the hover that shows; `showing` picks it out from one still up (e.g. the
   * activity bar's). A hover that does not come (the workbench keeps another one sticky, or the pointer was already
   * there so no new mouseover fired) is asked for again: the pointer leaves to an empty spot and comes back, until
   * `timeoutMs` runs out.
   */
  async hover(target: Locator, timeoutMs = 10_000, showing: RegExp = /\S/): Promise<string> {
    const hover = this.page.locator('.workbench-hover, .monaco-hover:not(.hidden)').filter({ hasText: showing }).last();
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      await target.hover({ timeout: Math.max(1000, deadline - Date.now()) });
      try {
        await hover.waitFor({ state: 'visible', timeout: Math.max(500, Math.min(3000, deadline - Date.now())) });
        return (await hover.innerText()).trim();
      } catch (err) {
        if (Date.now() >= deadline) throw err;
      }
      await this.pointerAway();
    }
  }

  /** Moves the pointer to the middle of the editor area, where nothing has a hover, and lets open hovers close. */
  private async pointerAway(): Promise<void> {
    const size = this.page.viewportSize() ?? { width: 1280, height: 800 };
    await this.page.mouse.move(Math.round(size.width * 0.65), Math.round(size.height * 0.55));
    await this.page.keyboard.press('Escape');
    await sleep(300);
  }

  /** Notifications currently shown as toasts, plus the notification center's list when it is open. */
  async notifications(): Promise<Notification[]> {
    const items = this.page.locator('.notifications-toasts .notification-list-item, .notifications-center .notification-list-item');
    const all = await items
      .evaluateAll((els) =>
        els.map((el) => {
          const icon = el.querySelector('.notification-list-item-icon')?.className ?? '';
          const severity = /error/.test(icon) ? 'error' : /warning/.test(icon) ? 'warning' : /info/.test(icon) ? 'info' : 'unknown';
          return {
            severity,
            message: (el.querySelector('.notification-list-item-message')?.textContent ?? '').trim(),
            source: (el.querySelector('.notification-list-item-source')?.textContent ?? '').trim(),
          };
        }),
      )
      .catch(() => []);
    const seen = new Set<string>();
    return (all as Notification[]).filter((n) => n.message && !seen.has(n.message) && seen.add(n.message));
  }

  /** Opens the notification center (all notifications of the session, not only toasts) and reads it. */
  async allNotifications(): Promise<Notification[]> {
    try {
      await this.runCommand('Notifications: Show Notifications', { attempts: 2, waitMs: 3000 });
      await this.page.locator('.notifications-center').waitFor({ state: 'visible', timeout: 5000 });
    } catch {
      // fall back to the toasts
    }
    return this.notifications();
  }

  /** Waits for a notification whose message matches. */
  async waitForNotification(message: string | RegExp, timeoutMs = 30_000): Promise<Notification> {
    const re = typeof message === 'string' ? new RegExp(escapeRe(message)) : message;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const n = (await this.notifications()).find((x) => re.test(x.message));
      if (n) return n;
      if (Date.now() > deadline) {
        throw new Error(`no notification matching ${re} after ${timeoutMs} ms; shown: ${JSON.stringify(await this.notifications())}`);
      }
      await sleep(300);
    }
  }

  /** Saves a screenshot as `<NN>-<name>.png` in this scenario's folder and returns its path. */
  async screenshot(name: string): Promise<string> {
    mkdirSync(this.screenshotDir, { recursive: true });
    this.shots++;
    const file = join(this.screenshotDir, `${String(this.shots).padStart(2, '0')}-${slug(name)}.png`);
    await this.page.screenshot({ path: file, timeout: 20_000 });
    return file;
  }
}

export function slug(s: string): string {
  return s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 80) || 'shot';
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function cssString(s: string): string {
  return s.replace(/["\\]/g, '\\$&');
}
