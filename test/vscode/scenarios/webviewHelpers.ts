// Helpers for the webview scenarios (trajectory view, charts): pick options of @vscode-elements controls inside
// a webview, and open the studio's panels through the palette.
import type { FrameLocator } from 'playwright-core';
import type { Workbench } from '../harness/workbench';
import { FIXTURE_RUN_NAME } from '../fixtures/runs';

/** Picks `label` in a vscode-single-select (the rendered options live in its shadow DOM). */
export async function chooseOption(webview: FrameLocator, selectCss: string, label: string): Promise<void> {
  const sel = webview.locator(selectCss).first();
  await sel.click();
  const option = sel.locator('[role="option"]', { hasText: label }).first();
  await option.waitFor({ state: 'visible', timeout: 10_000 });
  await option.click();
}

/** Opens the trajectory view of the (only) fixture run and waits for its tokens. */
export async function openTrajectory(workbench: Workbench, runName: string | RegExp = FIXTURE_RUN_NAME): Promise<FrameLocator> {
  await workbench.openViewContainer('PRPO Studio');
  await workbench.treeItem('Runs', runName, 90_000);
  await workbench.runCommand('prpoStudio.openRun');
  return workbench.waitForWebview('.tokens .tok', 90_000);
}

/** The Content-Security-Policy the webview page declares. */
export async function cspOf(webview: FrameLocator): Promise<string> {
  return (await webview.locator('meta[http-equiv="Content-Security-Policy"]').getAttribute('content')) ?? '';
}

export const DARK = { 'workbench.colorTheme': 'Default Dark Modern' };
export const LIGHT = { 'workbench.colorTheme': 'Default Light Modern' };
