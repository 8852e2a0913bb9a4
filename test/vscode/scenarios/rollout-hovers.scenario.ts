// Hovers on rollout files: a token in rollouts/step-*.jsonl opened as text shows a table of its §7 fields
// (log-probs per view, G/U/RVD, Aᵢ, weight, Ã, perceptual); so does a token of the `prpo-rollout:` view.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { scenario } from '../harness/studio';
import type { Workbench } from '../harness/workbench';
import { writeFixtureRuns } from '../suite/fixtures';
import { clickMenuItem, contextMenuLabels, showStudio, sleep, widenSideBar } from '../suite/scenarioHelpers';
import { switchTheme, HC_DARK, HIGH_CONTRAST } from './webviewHelpers';

/** Puts the cursor on the first match of `text` in the active editor and shows the hover there. */
async function hoverAt(workbench: Workbench, page: Page, text: string, expect: RegExp = /Token \d+ of \d+/): Promise<string> {
  const editor = page.locator('.part.editor .monaco-editor').first();
  await editor.click({ position: { x: 200, y: 60 } });
  await page.keyboard.press('Control+Home');
  await page.keyboard.press('Control+F');
  const find = page.locator('.find-widget textarea, .find-widget input').first();
  await find.fill(text);
  await find.press('Enter');
  await sleep(300);
  await page.keyboard.press('Escape');
  // Step into the match (the cursor sits at its end).
  await page.keyboard.press('ArrowLeft');
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('ArrowLeft');
  await workbench.runCommand('Show or Focus Hover');
  const hover = page.locator('.monaco-hover:not(.hidden)').filter({ hasText: expect }).last();
  await hover.waitFor({ state: 'visible', timeout: 15_000 });
  return (await hover.innerText()).trim();
}

async function openFromStepMenu(workbench: Workbench, page: Page, item: string): Promise<void> {
  const run = await workbench.treeItem('Runs', 'PRPO-R shapes (fixture)', 90_000);
  const expanded = await run.getAttribute('aria-expanded');
  if (expanded !== 'true') {
    await run.click();
    await run.press('ArrowRight');
  }
  const steps = await workbench.treeItem('Runs', 'Steps');
  if ((await steps.getAttribute('aria-expanded')) !== 'true') {
    await steps.click();
    await steps.press('ArrowRight');
  }
  const step = await workbench.treeItem('Runs', 'step 2');
  await step.click({ button: 'right' });
  const labels = await contextMenuLabels(page);
  assert.ok(labels.includes(item), JSON.stringify(labels));
  await clickMenuItem(page, item);
}

scenario(
  'hovering a token of a rollout file shows its dependency scores and advantages',
  { runs: [{}], setup: (ws) => void writeFixtureRuns(join(ws, 'runs')), settings: { 'editor.wordWrap': 'on', 'editor.hover.delay': 100 } },
  async ({ workbench, page, screenshot }) => {
    await showStudio(workbench);
    await widenSideBar(page, 420);

    // The JSONL file, as text.
    await openFromStepMenu(workbench, page, 'Open Rollout Step File');
    await page.locator('.part.editor .tab', { hasText: 'step-000002.jsonl' }).first().waitFor({ timeout: 30_000 });
    // Each rollout line carries a summary lens.
    const lens = page.locator('.part.editor .codelens-decoration', { hasText: /s2-r0 · group s2-g0 · reward 0\.00 ✗ · Aᵢ −0\.870 · 9 tokens/ }).first();
    await lens.waitFor({ timeout: 30_000 });
    const card = await hoverAt(workbench, page, '" circles"');
    assert.match(card, /Token 5 of 9/);
    for (const field of [/log p \(image\)/, /log p \(blind\)/, /G — grounding/, /U — instability/, /RVD — robust visual dependency/, /Aᵢ — outcome advantage/, /wₜ — PAR weight/, /Ãᵢₜ — token advantage/, /perceptual — ground truth/]) {
      assert.match(card, field);
    }
    await screenshot('jsonl-token-hover');
    await page.keyboard.press('Escape');

    // The same step rendered as tokens.
    await openFromStepMenu(workbench, page, 'Open Rollout Step as Tokens');
    await page.locator('.part.editor .tab', { hasText: 'step-000002.tokens' }).first().waitFor({ timeout: 30_000 });
    const card2 = await hoverAt(workbench, page, 'circles');
    assert.match(card2, /Token 5 of 9/);
    assert.match(card2, /Ãᵢₜ — token advantage/);
    await screenshot('token-view-hover');
    await page.keyboard.press('Escape');

    // Elsewhere on a line: the rollout as a whole, with its task image.
    await workbench.runCommand('prpoStudio.openRolloutFile');
    await workbench.pickQuickItem('Fixture PRPO-R run');
    await workbench.pickQuickItem('step 1');
    await page.locator('.part.editor .tab', { hasText: 'step-000001.jsonl' }).first().waitFor({ timeout: 30_000 });
    const summary = await hoverAt(workbench, page, '"prompt"', /Rollout/);
    assert.match(summary, /response tokens/);
    assert.match(summary, /perceptual tokens \(ground truth\)/);
    const img = page.locator('.monaco-hover:not(.hidden) img').first();
    await img.waitFor({ timeout: 10_000 });
    assert.ok(await img.evaluate((el) => (el as HTMLImageElement).complete && (el as HTMLImageElement).naturalWidth > 0), 'the task image loads');
    await screenshot('rollout-summary-hover');
  },
);

// The token card and the as-Tokens view in both high-contrast themes (switched live), for the screenshots: the
// card's fields are all there in each.
scenario(
  'token hovers in the high-contrast themes (dark and light)',
  { runs: [{}], setup: (ws) => void writeFixtureRuns(join(ws, 'runs')), settings: { ...HC_DARK, 'editor.wordWrap': 'on', 'editor.hover.delay': 100 } },
  async ({ workbench, page, screenshot }) => {
    await showStudio(workbench);
    await workbench.treeItem('Runs', 'PRPO-R shapes (fixture)', 90_000);
    // From the palette (the explorer's row tooltips can sit over the step menu).
    await workbench.runCommand('prpoStudio.openRolloutTokens');
    await workbench.pickQuickItem('PRPO-R shapes (fixture)');
    await workbench.pickQuickItem('step 2');
    await page.locator('.part.editor .tab', { hasText: 'step-000002.tokens' }).first().waitFor({ timeout: 30_000 });
    for (const [kind, settings] of HIGH_CONTRAST) {
      if (kind === 'hc-light') await switchTheme(workbench, settings);
      // '·circles' is a token of the response line only (the prompt line above says "circles" too).
      const card = await hoverAt(workbench, page, '·circles');
      assert.match(card, /Token 5 of 9/);
      assert.match(card, /Ãᵢₜ — token advantage/);
      assert.match(card, /RVD — robust visual dependency/);
      assert.equal(await page.locator(`.monaco-workbench.${kind === 'hc-dark' ? 'hc-black' : 'hc-light'}`).count(), 1, `the editor is in ${kind}`);
      await screenshot(`token-view-hover-${kind}`);
      await page.keyboard.press('Escape');
    }
  },
);
