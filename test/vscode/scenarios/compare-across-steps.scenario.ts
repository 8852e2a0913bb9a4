// Compare Prompt Across Steps… in real VS Code: from the palette on a run whose validation prompt was sampled at
// steps 1, 2 and 4 and not at step 3, with step 3 ticked too: four columns, step 3's says it was not sampled; the
// responses are aligned on the prefix they share; every token's colour is the one core's ranges give it, on the
// RVD and the Ã scale; the strip has one block per aligned position. Then from a rollout's context menu in the
// trajectory view, and the same step across two runs. Screenshots in a dark, a light and a high-contrast theme.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FrameLocator, Page } from 'playwright-core';
import { fmt } from '../../../src/core/format';
import { RunWriter } from '../../../src/core/run/writer';
import { runFiles } from '../../../src/core/run/reader';
import type { RolloutRecord } from '../../../src/core/run/schema';
import { comparePrompt, type PromptComparison } from '../../../src/core/view/compare';
import { binClass, signalDef, type SignalId } from '../../../webview/scales';
import { scenario } from '../harness/studio';
import type { Workbench } from '../harness/workbench';
import { clickMenuItem, contextMenuLabels, showStudio, sleep, until } from '../suite/scenarioHelpers';
import { DARK } from './webviewHelpers';

const RUN = 'Compare fixture run';
/** A second run, for the same step across runs: its validation prompt is sampled at step 1, not at step 2. */
const RUN_B = 'Compare fixture run B';
const VAL = 'val-000001';
const STEPS = [1, 2, 3, 4];
/** The validation prompt is sampled at these steps only. */
const SAMPLED = [1, 2, 4];
/** Its responses per step: steps 1 and 2 share "I see three", step 4 only "I". */
const RESPONSES: Record<number, string[][]> = {
  1: [
    ['I', ' see', ' three', ' crimson', ' triangles', '.', ' Answer', ':', ' 3'],
    ['There', ' are', ' two', '.', ' Answer', ':', ' 2'],
  ],
  2: [
    ['I', ' see', ' three', ' red', ' shapes', '.', ' Answer', ':', ' 3'],
    ['There', ' are', ' three', '.', ' Answer', ':', ' 3'],
  ],
  4: [
    ['I', ' count', ' 3', '.', ' Answer', ':', ' 3'],
    ['There', ' are', ' three', '.', ' Answer', ':', ' 3'],
  ],
};

const wave = (step: number, i: number, t: number, salt: number): number => (Math.sin(step * 2.1 + i * 0.9 + t * 1.37 + salt * 2.5) + 1) / 2;

function rollout(step: number, i: number, group: string, prompt: string, tokens: string[]): RolloutRecord {
  const correct = tokens[tokens.length - 1] === ' 3';
  const advantage = correct ? 0.8 : -0.8;
  const rvd = tokens.map((_, t) => wave(step, i, t, 1));
  return {
    id: `s${step}-${group}-r${i}`,
    step,
    group,
    prompt,
    answer: '3',
    response: tokens.join(''),
    reward: correct ? 1 : 0,
    correct,
    advantage,
    tokens,
    tokenIds: tokens.map((_, t) => 100 + t),
    logp: { image: tokens.map((_, t) => -3 * wave(step, i, t, 2) - 0.01), blind: tokens.map((_, t) => -4 * wave(step, i, t, 3) - 0.5) },
    scores: { rvd },
    weights: rvd.map((r) => 0.5 + r),
    tokenAdvantages: rvd.map((r) => (0.5 + r) * advantage),
  };
}

/** Writes a run whose validation prompt is sampled at `sampled` of `steps`. */
function writeCompareRun(runsDir: string, id: string, name: string, steps: number[], sampled: number[]): string {
  const w = RunWriter.create(runsDir, {
    id,
    name,
    source: 'prpo-studio',
    algorithm: 'prpo',
    config: { groupSize: 2 },
    model: { name: 'tiny-vlm-fixture', config: {} },
    task: { name: 'shapes', config: {} },
    seed: 1,
    steps: steps.length,
  });
  w.appendEvent({ type: 'started', step: 0 });
  for (const step of steps) {
    const rs: RolloutRecord[] = [];
    if (sampled.includes(step)) RESPONSES[step].forEach((tokens, i) => rs.push(rollout(step, i, VAL, 'How many crimson triangles are in the picture?', tokens)));
    for (let i = 0; i < 2; i++) rs.push(rollout(step, i, `train-00000${step}`, `Training prompt of step ${step}`, ['A', ' square', '.']));
    w.appendRollouts(step, rs);
    w.appendMetrics({ step, reward: 0.5 });
  }
  w.appendEvent({ type: 'completed', step: steps.length });
  w.release();
  return w.dir;
}

/** The comparison core computes from the step files, for the steps shown. */
function coreComparison(runDir: string, steps: number[]): PromptComparison {
  const read = (s: number): RolloutRecord[] => readFileSync(runFiles.rollouts(runDir, s), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  return comparePrompt(VAL, steps.map((step) => ({ step, rollouts: read(step) })));
}

/** Every token of every cell carries the class core's ranges give its value on `signal`. */
async function assertTokenColours(webview: FrameLocator, cmp: PromptComparison, signal: SignalId): Promise<number> {
  const def = signalDef(signal);
  const hi = def.fixedHi ?? cmp.ranges[signal]!;
  const shown = await webview.locator('.compare-cell .tokens').evaluateAll((els) => els.map((el) => [...el.querySelectorAll('.tok')].map((t) => t.className)));
  const want: string[][] = [];
  for (const row of cmp.rows) {
    cmp.columns.forEach((c) => {
      const ro = c.rollouts[row.index];
      if (!ro) return;
      const values = signal === 'rvd' ? ro.scores!.rvd! : ro.tokenAdvantages;
      want.push(values.map((v) => binClass(def, hi, v)));
    });
  }
  assert.equal(shown.length, want.length, 'one token list per rollout shown');
  let coloured = 0;
  shown.forEach((classes, i) =>
    classes.forEach((cls, k) => {
      const bin = cls.split(' ').filter((c) => c !== 'tok' && c !== 'shared').join(' ');
      assert.equal(bin, want[i][k], `token ${k} of rollout list ${i} on ${signal}`);
      if (bin) coloured++;
    }),
  );
  return coloured;
}

/** A label matched whole (a run's name is the start of the other's). */
const exactly = (label: string): RegExp => new RegExp(`^\\s*${label.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*$`);

/** Ticks the row of an open multi-select quick pick whose label matches; returns the row's text. */
async function tick(page: Page, label: RegExp): Promise<string> {
  const row = page
    .locator('.quick-input-widget .quick-input-list .monaco-list-row')
    .filter({ has: page.locator('.label-name', { hasText: label }) })
    .first();
  await row.waitFor({ state: 'visible', timeout: 15_000 });
  const box = row.locator('.quick-input-list-checkbox');
  if (await box.count()) await box.first().click();
  else await row.click();
  return row.innerText();
}

async function chooseTheme(workbench: Workbench, page: Page, theme: string, bodyClass: string, webview: FrameLocator): Promise<void> {
  await workbench.runCommand('Preferences: Color Theme');
  await workbench.answerInput(theme);
  await until(`the ${theme} theme in the webview`, async () => (await webview.locator('body').getAttribute('class'))?.split(' ').includes(bodyClass), 20_000);
  await page.mouse.move(0, 0);
  await sleep(400);
}

scenario(
  'compare a prompt across steps: palette and rollout context menu, missing step, aligned prefix, token colours, themes',
  { runs: [], settings: DARK, setup: (ws) => {
      writeCompareRun(join(ws, 'runs'), 'compare-fixture', RUN, STEPS, SAMPLED);
      writeCompareRun(join(ws, 'runs'), 'compare-fixture-b', RUN_B, [1, 2], [1]);
    }, viewport: { width: 1500, height: 950 }, timeoutMs: 360_000 },
  async ({ workbench, page, workspaceDir, screenshot }) => {
    const runDir = join(workspaceDir, 'runs', 'compare-fixture');
    await showStudio(workbench);
    await workbench.treeItem('Runs', RUN_B, 90_000);
    // The run's context menu offers it.
    await (await workbench.treeItem('Runs', exactly(RUN))).click({ button: 'right' });
    assert.ok((await contextMenuLabels(page)).includes('Compare Prompt Across Steps…'));
    await page.keyboard.press('Escape');

    // Palette: across steps, the run; the prompts come with how many steps sampled them, validation first.
    await workbench.runCommand('prpoStudio.compareAcrossSteps');
    await workbench.pickQuickItem('Across steps of one run');
    await workbench.pickQuickItem(exactly(RUN));
    await workbench.pickQuickItem(VAL, 60_000);
    // The steps: those that sampled the prompt are ticked; tick step 3 too (not sampled), then OK.
    assert.match(await tick(page, /^step 3$/), /not sampled/);
    await page.keyboard.press('Enter');

    const webview = await workbench.waitForWebview('.compare-grid .compare-cell .tok', 60_000);
    const cmp = coreComparison(runDir, STEPS);
    assert.deepEqual(await webview.locator('.compare-col-label').allInnerTexts(), ['step 1', 'step 2', 'step 3', 'step 4']);
    assert.equal(await webview.locator('.compare-col-head.missing .compare-missing').innerText(), 'not sampled at step 3');
    assert.match(await webview.locator('.compare-head').innerText(), /Prompt val-000001\s*validation/);

    // Row 1: step 1 is the reference; step 2 shares "I see three", step 4 "I": three positions are aligned.
    assert.deepEqual(cmp.rows[0].shared, [9, 3, undefined, 1]);
    const row1 = webview.locator('.compare-row-label').first();
    assert.match(await row1.innerText(), /aligned on the first 3 tokens of step 1/);
    const cells = webview.locator('.compare-cell');
    // Cells in reading order: row 1's four columns, then row 2's.
    assert.deepEqual(await cells.nth(1).locator('.tok.shared').allInnerTexts(), ['I', ' see', ' three']);
    assert.equal(await cells.nth(1).locator('.diverge').count(), 1, 'step 2 marks where it leaves step 1');
    assert.deepEqual(await cells.nth(3).locator('.tok.shared').allInnerTexts(), ['I']);
    assert.match(await cells.nth(2).innerText(), /not sampled at step 3/);
    // The strip: one block per aligned position, one cell per column for each of RVD, Ã and −log p; step 3 and
    // step 4 beyond "I" are not aligned (hatched).
    const strip = webview.locator('.compare-strip').first();
    assert.match(await webview.locator('.strip-caption').first().innerText(), /one cell per column \(step 1 · step 2 · step 3 · step 4\)/);
    assert.equal(await strip.locator('.strip-pos').count(), 3);
    const secondPos = strip.locator('.strip-pos').nth(1);
    assert.equal(await secondPos.locator('.strip-line').count(), 3);
    assert.equal(await secondPos.locator('.strip-line').first().locator('.strip-cell').count(), 4);
    assert.deepEqual(
      await secondPos.locator('.strip-line').first().locator('.strip-cell').evaluateAll((els) => els.map((e) => e.classList.contains('gap'))),
      [false, false, true, true],
    );
    const rvdTitle = await secondPos.locator('.strip-line').first().locator('.strip-cell').nth(1).getAttribute('title');
    assert.equal(rvdTitle, `RVD at step 2: ${fmt(cmp.rows[0].strip.rvd[1][1])}`);

    // Token colours: the classes core's one scale gives each value (RVD first, then Ã after switching).
    assert.ok((await assertTokenColours(webview, cmp, 'rvd')) > 10, 'most tokens are coloured on RVD');
    assert.match(await webview.locator('.legend-title').innerText(), /RVD/);
    await screenshot('rvd-dark');

    await webview.locator('.compare-cell').nth(1).locator('.tok').nth(3).hover();
    const card = webview.locator('.hover-card:not([hidden])');
    await card.waitFor({ timeout: 10_000 });
    const cardText = await card.innerText();
    for (const f of ['red', 'RVD', 'Ãᵢₜ', 'wₜ', 'log p (image)']) assert.ok(cardText.includes(f), `the hover card shows ${f}: ${cardText}`);
    await screenshot('hover-dark');
    await page.mouse.move(0, 0);
    // The keyboard: a response's tokens take the focus; → moves a cursor whose card is shown.
    await webview.locator('.compare-cell .tokens').first().focus();
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowRight');
    await webview.locator('.compare-cell .tok.cursor', { hasText: 'see' }).waitFor({ timeout: 5000 });
    assert.match(await card.innerText(), /token 2 of 9/);
    await page.keyboard.press('Escape');

    await webview.locator('.toolbar').hover();
    await webview.locator('body').evaluate(() => (window as unknown as { prpoCompare: { setSignal(id: string): void } }).prpoCompare.setSignal('tokenAdvantage'));
    await until('Ã in the legend', async () => /Ã/.test(await webview.locator('.legend-title').innerText()), 10_000);
    assert.ok((await assertTokenColours(webview, cmp, 'tokenAdvantage')) > 10, 'most tokens are coloured on Ã');
    assert.ok((await webview.locator('.compare-cell .tok[class*=" dn"]').count()) > 0, 'the wrong answers push tokens down');
    await screenshot('advantage-dark');

    for (const [theme, bodyClass, name] of [
      ['Light Modern', 'vscode-light', 'light'],
      ['Dark High Contrast', 'vscode-high-contrast', 'high-contrast'],
    ] as const) {
      await chooseTheme(workbench, page, theme, bodyClass, webview);
      await screenshot(`advantage-${name}`);
    }
    await chooseTheme(workbench, page, 'Dark Modern', 'vscode-dark', webview);

    // From a rollout's context menu in the trajectory view (step 4, the validation prompt's group).
    await page.keyboard.press('Escape');
    await workbench.runCommand('View: Close All Editors');
    await workbench.runCommand('prpoStudio.openRun');
    await workbench.pickQuickItem(exactly(RUN));
    const trajectory = await workbench.waitForWebview('.group-title', 90_000);
    const group = trajectory.locator('.group', { has: trajectory.locator('.group-title', { hasText: `Group ${VAL}` }) }).first();
    await group.locator('.rollout-head').first().click({ button: 'right' });
    const labels = await contextMenuLabels(page);
    assert.ok(labels.includes('Compare Prompt Across Steps…'), JSON.stringify(labels));
    await clickMenuItem(page, 'Compare Prompt Across Steps…');
    const fromMenu = await workbench.waitForWebview('.compare-grid .compare-cell .tok', 60_000);
    // The steps that sampled the prompt, without a missing column.
    assert.deepEqual(await fromMenu.locator('.compare-col-label').allInnerTexts(), ['step 1', 'step 2', 'step 4']);
    assert.equal(await fromMenu.locator('.compare-col-head.missing').count(), 0);
    await assertTokenColours(fromMenu, coreComparison(runDir, SAMPLED), 'rvd');
    await screenshot('from-context-menu-dark');

    // The same step across runs: both runs, step 2; run B did not sample the prompt at step 2.
    await workbench.runCommand('View: Close All Editors');
    await workbench.runCommand('prpoStudio.compareAcrossSteps');
    await workbench.pickQuickItem('The same step across runs');
    await tick(page, exactly(RUN));
    await tick(page, exactly(RUN_B));
    await page.keyboard.press('Enter');
    await workbench.pickQuickItem(/^step 2$/);
    await workbench.pickQuickItem(VAL, 30_000);
    const acrossRuns = await workbench.waitForWebview('.compare-grid .compare-cell .tok', 60_000);
    assert.deepEqual((await acrossRuns.locator('.compare-col-label').allInnerTexts()).sort(), [`${RUN} · step 2`, `${RUN_B} · step 2`].sort());
    assert.equal(await acrossRuns.locator('.compare-col-head.missing .compare-missing').innerText(), `not sampled at step 2 of ${RUN_B}`);
    await screenshot('across-runs-dark');
  },
);
