// What-If: Re-reshape This Step… in real VS Code, dark and light: the command opens the panel on a step; the
// fixture run (PRPO-R, no mild view logged) is told what is missing; PGPO with another τ recolours Ã, and the
// panel's numbers and a token's card equal the core estimators' on the step file; the settings are saved as a
// run config file and a run is started with them (the fake backend: the run's run.json carries the settings).
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { getEstimator, resolveConfig } from '../../../src/core/algorithms';
import { signed } from '../../../src/core/format';
import { runFiles } from '../../../src/core/run/reader';
import type { RolloutRecord } from '../../../src/core/run/schema';
import { packRollouts } from '../../../src/core/view/pack';
import { runWhatIf, whatIfFacts } from '../../../src/core/view/whatIf';
import { FIXTURE_RUN_NAME } from '../fixtures/runs';
import { scenario } from '../harness/studio';
import { useFakeBackend } from '../suite/fakeBackendBundle';
import { showStudio, until } from '../suite/scenarioHelpers';
import { chooseOption, switchTheme, themeColours, waitForWebviewTheme, CONTRAST_BORDER, DARK, HC_DARK, HIGH_CONTRAST, LIGHT } from './webviewHelpers';

useFakeBackend({ FAKE_STEP_MS: '400' });

const TAU = 0.1;
const BETA = 1.5;

for (const [theme, settings] of [['dark', DARK], ['light', LIGHT]] as const) {
  scenario(`what-if (${theme}): re-reshape a step with other settings, save them and start a run`, { settings, runs: [{ steps: 2 }] }, async ({ workbench, page, runsDir, runDirs, workspaceDir, screenshot }) => {
    await showStudio(workbench);
    await workbench.treeItem('Runs', FIXTURE_RUN_NAME, 90_000);
    await workbench.runCommand('prpoStudio.whatIf');
    // The only run is taken at once; then which step.
    await workbench.pickQuickItem('step 2');
    const webview = await workbench.waitForWebview('.what-if:not([hidden])', 90_000);

    // The fixture logged no mild view: PRPO-R (soft RVD) cannot be recomputed, and the panel says what is missing.
    await webview.locator('.what-if-message.error', { hasText: 'prpo needs log p (mild), and no rollout of this step has it' }).waitFor({ timeout: 30_000 });
    await screenshot(`missing-${theme}`);

    // PGPO reads the image and blind views, which were logged; then τ changes as typed.
    await chooseOption(webview, '.what-if-preset', 'pgpo');
    await webview.locator('.what-if-fact.boosted').waitFor({ timeout: 15_000 });
    await webview.locator('.what-if-tau input').fill(String(TAU));
    const setting = (key: 'tau' | 'beta') => webview.locator('body').evaluate((_, k) => (window as unknown as { prpoTrajectory: { whatIf: { settings?: Record<string, number> } } }).prpoTrajectory.whatIf.settings?.[k], key);
    await until('τ applied', async () => (await setting('tau')) === TAU, 15_000);
    // β from its slider: the field beside it follows, and the panel computes with it.
    await webview.locator('.what-if-beta-slider').fill(String(BETA));
    await until('β applied from the slider', async () => (await setting('beta')) === BETA, 15_000);
    assert.equal(await webview.locator('.what-if-beta').evaluate((el) => (el as HTMLElement & { value: string }).value), String(BETA));

    // The numbers shown equal the core's, computed here from the step file.
    const records: RolloutRecord[] = readFileSync(runFiles.rollouts(runDirs[0], 2), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const config = resolveConfig('pgpo', { tau: TAU, beta: BETA });
    const batch = packRollouts(2, records);
    const refs = records.map((_, r) => ({ batch, meta: batch.meta[r], start: batch.tokenStart[r], end: batch.tokenStart[r + 1] }));
    const { summary } = runWhatIf(config, refs, (ro) => batch.fields.tokenAdvantage!.subarray(ro.start, ro.end));
    assert.ok(summary.boosted > 0, 'τ = 0.1 boosts some tokens of the fixture');
    for (const f of whatIfFacts(summary)) {
      await webview.locator(`.what-if-fact.${f.id} .what-if-fact-value`, { hasText: f.value }).waitFor({ timeout: 10_000 });
    }
    assert.match(await webview.locator('.legend-title').innerText(), /Ã/);
    // PGPO's estimator on the logged outcome advantages (the what-if changes the reshaping, not Aᵢ).
    const core = getEstimator('pgpo').reshape(
      config,
      records.map((r) => ({ id: r.id, group: r.group, reward: r.reward, logp: { image: Float32Array.from(r.logp.image), blind: Float32Array.from(r.logp.blind!) } })),
      Float64Array.from(records, (r) => r.advantage),
    );
    // A token's card shows the what-if Ã.
    const first = webview.locator('.rollout').first();
    const id = /s2-r\d+/.exec(await first.innerText())?.[0];
    await first.locator('.tok').nth(3).hover();
    const card = webview.locator('.hover-card:not([hidden])');
    await card.waitFor({ timeout: 10_000 });
    const text = await card.innerText();
    const want = core.find((c) => c.id === id)?.tokenAdvantages[3];
    assert.ok(want !== undefined, `the first card is a rollout of step 2 (${id})`);
    assert.ok(text.includes(signed(Math.fround(want))), `the card shows the what-if Ã ${signed(want)}: ${text}`);
    await screenshot(`pgpo-tau-${theme}`);

    // Save as Run Config…: the file Start Run from Config File… reads.
    const saved = join(workspaceDir, `what-if-${theme}.json`);
    await webview.locator('.what-if-save').click();
    // The save dialog (a quick input here) offers the workspace and the run's name; typed before it has filled
    // that in, a path would be overwritten.
    const input = page.locator('.quick-input-widget .quick-input-box input');
    await until('the save dialog with its default path', async () => (await input.inputValue().catch(() => '')).endsWith(`${FIXTURE_RUN_NAME}-what-if.json`), 15_000);
    await workbench.answerInput(saved);
    await until('the run config on disk', async () => existsSync(saved), 15_000);
    assert.deepEqual(JSON.parse(readFileSync(saved, 'utf8')), { preset: 'pgpo', name: `${FIXTURE_RUN_NAME}-what-if`, config: { tau: TAU, beta: BETA } });

    // Start Run with These Settings: a new run, of PGPO with τ = 0.1 and β = 1.5.
    const before = new Set(readdirSync(runsDir));
    await webview.locator('.what-if-start').click();
    const started = await until(
      'the what-if run on disk',
      async () => {
        for (const d of readdirSync(runsDir)) {
          if (before.has(d) || !existsSync(join(runsDir, d, 'run.json'))) continue;
          return JSON.parse(readFileSync(join(runsDir, d, 'run.json'), 'utf8')) as { algorithm: string; config: Record<string, unknown>; name: string };
        }
        return undefined;
      },
      60_000,
    );
    assert.equal(started.algorithm, 'pgpo');
    assert.equal(started.config.tau, TAU);
    assert.equal(started.config.beta, BETA);
    await workbench.treeItem('Runs', `${FIXTURE_RUN_NAME}-what-if`, 60_000);
    await page.waitForTimeout(500);
    await screenshot(`started-${theme}`);
  });
}

// The panel in both high-contrast themes (switched live): its borders take the theme's contrast border and the
// recoloured Ã stays on the outlined high-contrast scale.
scenario('what-if (high-contrast dark and light): the panel and the recoloured step', { settings: HC_DARK, runs: [{ steps: 2 }] }, async ({ workbench, screenshot }) => {
  await showStudio(workbench);
  await workbench.treeItem('Runs', FIXTURE_RUN_NAME, 90_000);
  await workbench.runCommand('prpoStudio.whatIf');
  await workbench.pickQuickItem('step 2');
  const webview = await workbench.waitForWebview('.what-if:not([hidden])', 90_000);
  await chooseOption(webview, '.what-if-preset', 'pgpo');
  await webview.locator('.what-if-tau input').fill(String(TAU));
  await webview.locator('.what-if-fact.boosted').waitFor({ timeout: 15_000 });
  for (const [kind, settings] of HIGH_CONTRAST) {
    if (kind === 'hc-light') await switchTheme(workbench, settings);
    await waitForWebviewTheme(webview, kind);
    const dp = '.tok.dp1, .tok.dp2, .tok.dp3, .tok.dp4, .tok.dp5, .tok.dp6, .tok.dp7, .tok.dp8';
    const t = await themeColours(webview, { '.what-if': 'border-top-color', [dp]: 'outline-color' });
    assert.equal(t.contrastBorder, CONTRAST_BORDER[kind]);
    assert.equal(t.colours['.what-if'], CONTRAST_BORDER[kind], `${kind}: the panel's border`);
    assert.equal(t.colours[dp], CONTRAST_BORDER[kind], `${kind}: a recoloured token's outline`);
    await workbench.page.mouse.move(2, 2);
    await screenshot(`what-if-${kind}`);
  }
});
