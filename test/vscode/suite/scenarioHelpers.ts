/** Small helpers shared by the extension-host scenarios (test/vscode/scenarios/{run-control,explorer,hovers,…}). */
import type { Page } from 'playwright-core';
import type { Workbench } from '../harness/workbench';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until `probe` returns a truthy value; the error names what was last seen. */
export async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v;
      last = v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${String(last)}`);
    await sleep(300);
  }
}

/** Drags the side bar's edge so tree descriptions are readable in screenshots. */
export async function widenSideBar(page: Page, width = 560): Promise<void> {
  const sidebar = page.locator('.part.sidebar');
  const box = await sidebar.boundingBox();
  if (!box || box.width >= width) return;
  const x = box.x + box.width + 1;
  const y = box.y + box.height / 2;
  await page.mouse.move(x, y);
  await page.mouse.down();
  await page.mouse.move(box.x + width, y, { steps: 8 });
  await page.mouse.up();
}

export async function statusBarText(workbench: Workbench): Promise<string> {
  return workbench.page.locator('.part.statusbar').innerText();
}

/** The labels of the context menu that is open. */
export async function contextMenuLabels(page: Page): Promise<string[]> {
  const menu = page.locator('.context-view .monaco-menu, .monaco-menu-container').first();
  await menu.waitFor({ state: 'visible', timeout: 10_000 });
  return (await menu.locator('.action-label').allInnerTexts()).map((s) => s.trim()).filter(Boolean);
}

/** Chooses an entry of the open context menu (hover it, then Enter: menus act on a complete mouse gesture). */
export async function clickMenuItem(page: Page, label: string): Promise<void> {
  const menu = page.locator('.context-view .monaco-menu, .monaco-menu-container').first();
  const item = menu.locator('.action-item', { has: page.locator('.action-label', { hasText: label }) }).first();
  await item.hover();
  await sleep(150);
  await page.keyboard.press('Enter');
  await menu.waitFor({ state: 'hidden', timeout: 5000 }).catch(() => undefined);
}

/**
 * Opens the PRPO Studio side bar and makes sure it is the one showing. Clicks the activity bar entry with
 * force: while runs are live its badge sits over the icon and takes the pointer events.
 */
export async function showStudio(workbench: Workbench): Promise<void> {
  const title = () => workbench.page.locator('.part.sidebar .composite.title').innerText().catch(() => '');
  const item = workbench.activityBarItem('PRPO Studio');
  await item.waitFor({ state: 'visible', timeout: 60_000 });
  for (let i = 0; i < 5; i++) {
    if (/PRPO STUDIO/i.test(await title())) return;
    const checked = await item.evaluate((el) => el.closest('.action-item')?.classList.contains('checked') ?? false);
    if (!checked) await item.click({ force: true });
    await sleep(400 * (i + 1));
  }
  if (!/PRPO STUDIO/i.test(await title())) throw new Error(`the PRPO Studio side bar did not open (side bar: ${await title()})`);
}

/** The explorer row of run `name` once its description matches (its state: running, paused, stopped…). */
export async function runRow(workbench: Workbench, name: string, description: RegExp, timeoutMs = 60_000) {
  return until(
    `"${name}" ${description}`,
    async () => (await workbench.treeItems('Runs', { timeoutMs: 2000 })).find((i) => i.label === name && description.test(i.description)),
    timeoutMs,
  );
}

/**
 * The steering every backend must answer to, from the palette, on the live run `name` of `preset`: pause (the
 * explorer and the status bar say so), checkpoint now (it appears under the run's Checkpoints), resume, stop (the
 * status bar item goes), then resume from the checkpoint taken here and stop again. Screenshots at each state.
 */
export async function steerLiveRun(
  workbench: Workbench,
  screenshot: (name: string) => Promise<unknown>,
  { name, preset, stopMs, startMs }: { name: string; preset: string; stopMs: number; startMs: number },
): Promise<void> {
  await workbench.runCommand('prpoStudio.pauseRun');
  await runRow(workbench, name, /paused/, stopMs);
  await until('paused in the status bar', async () => new RegExp(`${preset} paused`).test(await statusBarText(workbench)));
  await screenshot('paused');

  await workbench.runCommand('prpoStudio.checkpointRun');
  const row = await workbench.treeItem('Runs', name);
  await row.click();
  await row.press('ArrowRight');
  const group = await workbench.treeItem('Runs', 'Checkpoints');
  await until('a checkpoint in the explorer', async () => {
    const g = (await workbench.treeItems('Runs')).find((i) => i.label === 'Checkpoints');
    return g && Number(g.description) >= 1;
  });
  await group.click();
  await group.press('ArrowRight');
  const checkpoint = await workbench.treeItem('Runs', /^step \d+/);
  const ckptLabel = (await checkpoint.locator('.label-name').innerText()).trim();
  await screenshot('checkpoint-in-explorer');

  await workbench.runCommand('prpoStudio.resumeRun');
  await runRow(workbench, name, /running/, stopMs);
  await workbench.runCommand('prpoStudio.stopRun');
  await runRow(workbench, name, /stopped/, stopMs);
  await until('the status bar item gone', async () => !new RegExp(`${preset} (running|paused)`).test(await statusBarText(workbench)));
  await screenshot('stopped');

  // Resume from the checkpoint taken above (the stop saved a later one: pick ours by its label), on a new backend.
  await workbench.runCommand('prpoStudio.resumeFromCheckpoint');
  await workbench.pickQuickItem(ckptLabel);
  await workbench.answerInput('400', { title: /^Resume / });
  await runRow(workbench, name, /running/, startMs);
  await until('running again in the status bar', async () => new RegExp(`${preset} running`).test(await statusBarText(workbench)), startMs);
  await sleep(1000);
  await screenshot('resumed-from-checkpoint');
  await workbench.runCommand('prpoStudio.stopRun');
  await runRow(workbench, name, /stopped/, stopMs);
}

/**
 * Starts a PRPO-R run of the built-in backend from the palette — backend, preset, steps, seed 0, the CPU, `name` —
 * and waits for it to run in the explorer. Each answer waits for its own input (its title), as a user would.
 */
export async function startBuiltinRun(workbench: Workbench, name: string, steps: number, timeoutMs = 60_000) {
  await workbench.runCommand('prpoStudio.startRun');
  await workbench.pickQuickItem('Built-in · onnxruntime');
  await workbench.pickQuickItem('PRPO-R');
  await workbench.answerInput(String(steps), { title: /: steps$/ });
  await workbench.answerInput('0', { title: /: seed$/ });
  await workbench.pickQuickItem('cpu');
  await workbench.answerInput(name, { title: /: run name$/ });
  return runRow(workbench, name, /running/, timeoutMs);
}
