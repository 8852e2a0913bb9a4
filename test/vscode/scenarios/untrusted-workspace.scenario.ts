// In an untrusted workspace (Restricted Mode) the studio reads runs but starts no backend: the run explorer
// lists the fixture runs and their menus offer only reading; the start/steer commands are not in the palette;
// the start button is absent from the view title. (code-server with Workspace Trust on: see untrustedLauncher.)
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { writeFixtureWorkspace } from '../fixtures/runs';
import { launchBrowser } from '../harness/browser';
import { removeDir } from '../harness/cleanup';
import { SCREENSHOT_DIR } from '../harness/studio';
import { Workbench } from '../harness/workbench';
import { writeFixtureRuns } from '../suite/fixtures';
import { contextMenuLabels, showStudio, until } from '../suite/scenarioHelpers';
import { launchUntrusted } from '../suite/untrustedLauncher';
import { defaultExtensionPath } from '../harness/launcher';

test('an untrusted workspace reads runs but offers no way to start or steer one', { timeout: 300_000 }, async () => {
  const root = mkdtempSync(join('/tmp', 'pw-'));
  const ws = join(root, 'studio-workspace');
  mkdirSync(ws, { recursive: true });
  writeFixtureWorkspace(ws, [{}]);
  writeFixtureRuns(join(ws, 'runs'));
  const server = await launchUntrusted(ws);
  const browser = await launchBrowser(join(root, 'chrome'));
  try {
    const page = browser.page;
    const workbench = new Workbench(page, join(SCREENSHOT_DIR, 'untrusted-workspace'), defaultExtensionPath());
    await page.goto(server.url, { timeout: 60_000 });
    await workbench.waitReady();
    await showStudio(workbench);
    await workbench.treeItem('Runs', 'PRPO-R shapes (fixture)', 90_000);
    // Restricted Mode is on (the status bar says so).
    await until('Restricted Mode', async () => /Restricted Mode/i.test(await page.locator('.part.statusbar').innerText()), 30_000);
    await workbench.screenshot('untrusted-explorer');

    // The view title has no Start button.
    const titleActions = await page.locator('.part.sidebar .title-actions .action-label').evaluateAll((els) => els.map((e) => e.getAttribute('aria-label') ?? ''));
    assert.ok(!titleActions.some((a) => /Start Run/.test(a)), JSON.stringify(titleActions));

    // A finished run's menu offers reading only.
    const run = await workbench.treeItem('Runs', 'VPPO crashed (fixture)');
    await run.click({ button: 'right' });
    const menu = await contextMenuLabels(page);
    assert.ok(menu.includes('Open Run (Trajectory View)'), JSON.stringify(menu));
    assert.ok(!menu.includes('Resume from Checkpoint…'), JSON.stringify(menu));
    await workbench.screenshot('untrusted-menu');
    await page.keyboard.press('Escape');

    // The palette offers the reading commands, not the steering ones.
    await page.keyboard.press('F1');
    const input = page.locator('.quick-input-widget .quick-input-box input');
    await input.fill('>PRPO Studio: ');
    await page.waitForTimeout(1500);
    const offered = await workbench.quickInputLabels();
    assert.ok(offered.some((l) => /Open Run \(Trajectory View\)/.test(l)), JSON.stringify(offered));
    for (const hidden of ['Start Run…', 'Start PRPO-R Run with Built-in Defaults', 'Resume from Checkpoint…', 'Start Run from Config File…']) {
      assert.ok(!offered.some((l) => l.endsWith(hidden)), `${hidden} hidden: ${JSON.stringify(offered)}`);
    }
    await workbench.screenshot('untrusted-palette');
    await workbench.closeQuickInput();
  } finally {
    await browser.close();
    await server.stop();
    removeDir(root);
  }
});
