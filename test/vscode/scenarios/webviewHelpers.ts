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

export const HC_DARK = { 'workbench.colorTheme': 'Default High Contrast' };
export const HC_LIGHT = { 'workbench.colorTheme': 'Default High Contrast Light' };
export const HIGH_CONTRAST = [
  ['hc-dark', HC_DARK],
  ['hc-light', HC_LIGHT],
] as const;

/**
 * Switches the colour theme as a user does (Preferences: Color Theme; VS Code re-themes open webviews live) and
 * waits until the workbench wears it (its theme class: 'hc-black', 'hc-light', 'vs-dark', 'vs').
 */
export async function switchTheme(workbench: Workbench, settings: { 'workbench.colorTheme': string }): Promise<void> {
  const theme = settings['workbench.colorTheme'];
  const known: Record<string, [label: string, cls: string]> = {
    'Default High Contrast': ['Dark High Contrast', 'hc-black'],
    'Default High Contrast Light': ['Light High Contrast', 'hc-light'],
    'Default Dark Modern': ['Dark Modern', 'vs-dark'],
    'Default Light Modern': ['Light Modern', 'vs'],
  };
  if (!known[theme]) throw new Error(`switchTheme: unknown theme ${theme}`);
  const [label, cls] = known[theme];
  await workbench.runCommand('Preferences: Color Theme');
  // The list is virtualised: filter it to the theme first.
  await workbench.page.locator('.quick-input-widget .quick-input-box input').fill(label);
  await workbench.pickQuickItem(label);
  await workbench.page.locator(`.monaco-workbench.${cls}`).waitFor({ state: 'attached', timeout: 30_000 });
}

/** What a webview's theme resolves to: its body classes, contrastBorder, and the computed colours of `probes` (css → property). */
export async function themeColours(webview: FrameLocator, probes: Record<string, 'border-top-color' | 'outline-color' | 'background-color'>): Promise<{ hc: boolean; hcLight: boolean; contrastBorder: string; colours: Record<string, string | null> }> {
  return webview.locator('body').evaluate((body, probes) => {
    // A custom property's value as a computed colour (rgb(…)): through a probe element.
    const probe = document.createElement('div');
    probe.style.color = 'var(--vscode-contrastBorder)';
    body.append(probe);
    const contrastBorder = getComputedStyle(probe).color;
    probe.remove();
    const colours: Record<string, string | null> = {};
    for (const [css, prop] of Object.entries(probes)) {
      const el = document.querySelector(css);
      colours[css] = el ? getComputedStyle(el).getPropertyValue(prop) : null;
    }
    return { hc: body.classList.contains('vscode-high-contrast'), hcLight: body.classList.contains('vscode-high-contrast-light'), contrastBorder, colours };
  }, probes);
}

/** Waits until a webview has re-themed to the high-contrast `kind` (VS Code swaps the body's classes live). */
export async function waitForWebviewTheme(webview: FrameLocator, kind: 'hc-dark' | 'hc-light'): Promise<void> {
  const css = kind === 'hc-light' ? 'body.vscode-high-contrast.vscode-high-contrast-light' : 'body.vscode-high-contrast:not(.vscode-high-contrast-light)';
  await webview.locator(css).waitFor({ state: 'attached', timeout: 30_000 });
}

/** The contrast borders of each theme (VS Code's `contrastBorder`), as computed colours. */
export const CONTRAST_BORDER = { 'hc-dark': 'rgb(111, 195, 223)', 'hc-light': 'rgb(15, 74, 133)' } as const;
