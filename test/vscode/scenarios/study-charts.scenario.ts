// A study in the charts view: a study folder (runs/study with study.json, as `npm run study` writes it) opened
// from the file explorer draws per arm the mean over seeds with its 95 % CI band; the toggle goes back to runs.
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FrameLocator } from 'playwright-core';
import { scenario } from '../harness/studio';
import { writeFixtureRun } from '../fixtures/runs';
import { clickMenuItem, contextMenuLabels, sleep, until } from '../suite/scenarioHelpers';
import { DARK } from './webviewHelpers';

interface ChartInfo {
  id: string;
  series: Array<{ run?: string; group?: string; kind: string; key: string; points: number }>;
  datasets: Array<{ label: string; fill: string | boolean; points: number }>;
  legend: string[];
  first: Array<{ x: number; y: number; n: number; lo: number; hi: number }>;
}
type Charts = { grouping: string; charts: ChartInfo[]; hoverAt(id: string, step: number): string[] };

const chartsOf = (webview: FrameLocator) =>
  webview.locator('body').evaluate(() => {
    const c = (window as unknown as { prpoCharts: Charts }).prpoCharts;
    return { grouping: c.grouping, charts: c.charts };
  });

// Two arms × three seeds, hand-written. `prpo-l0`'s seeds 2 and 3 stop at step 4, so steps 5–6 have one run
// (a mean, no band) and its validation at step 6 has one value.
const REWARD: Record<string, number[]> = {
  'prpo-s1': [0.2, 0.25, 0.3, 0.35, 0.4, 0.45],
  'prpo-s2': [0.3, 0.35, 0.4, 0.45, 0.5, 0.55],
  'prpo-s3': [0.4, 0.45, 0.5, 0.55, 0.6, 0.65],
  'prpo-l0-s1': [0.12, 0.14, 0.16, 0.18, 0.2, 0.22],
  'prpo-l0-s2': [0.14, 0.16, 0.18, 0.2],
  'prpo-l0-s3': [0.22, 0.24, 0.26, 0.28],
};
const VAL: Record<string, Record<number, number>> = {
  'prpo-s1': { 3: 0.3, 6: 0.5 },
  'prpo-s2': { 3: 0.35, 6: 0.55 },
  'prpo-s3': { 3: 0.4, 6: 0.6 },
  'prpo-l0-s1': { 3: 0.2, 6: 0.3 },
  'prpo-l0-s2': { 3: 0.25 },
  'prpo-l0-s3': { 3: 0.3 },
};
// t_{.975,2} · sd/√3 for the prpo arm's reward at step 1 (0.2, 0.3, 0.4: mean 0.3, sd 0.1).
const HALF = (4.302652729911275 * 0.1) / Math.sqrt(3);

function writeStudy(ws: string): void {
  const study = join(ws, 'runs', 'study');
  mkdirSync(study, { recursive: true });
  const runs: Record<string, string> = {};
  for (const [key, rewards] of Object.entries(REWARD)) {
    const dir = writeFixtureRun(study, { id: `study-${key}`, name: `study ${key}`, algorithm: 'prpo', steps: rewards.length });
    const rows = rewards.map((reward, i) => {
      const step = i + 1;
      const val = VAL[key][step];
      return JSON.stringify({ step, reward, accuracy: reward - 0.05, loss: 1 / step, entropy: 1.2 - 0.05 * step, ...(val !== undefined ? { valAccuracy: val } : {}) });
    });
    writeFileSync(join(dir, 'metrics.jsonl'), rows.join('\n') + '\n');
    // As npm run study writes it (absolute), except one relative to the study folder.
    runs[key] = key === 'prpo-l0-s3' ? `study-${key}` : dir;
  }
  // The learning-rate pilot is no arm: left out of the groups.
  runs['pilot-lr0.001'] = writeFixtureRun(study, { id: 'study-pilot', name: 'study pilot', algorithm: 'dapo', steps: 2 });
  writeFileSync(join(study, 'study.json'), JSON.stringify({ lr: 0.001, runs }, null, 2) + '\n');
}

scenario('a study folder opens grouped by arm: the mean over seeds with its 95 % CI band', { runs: [], setup: writeStudy, settings: { ...DARK, 'explorer.compactFolders': false }, timeoutMs: 360_000 }, async ({ workbench, page, workspaceDir, screenshot }) => {
  await workbench.runCommand('View: Show Explorer');
  const row = (name: string) => page.locator('.explorer-folders-view .monaco-list-row', { hasText: new RegExp(`^\\s*${name}\\s*$`) }).first();
  await row('runs').click();
  await row('study').waitFor({ timeout: 15_000 });
  // Only a folder with study.json offers the study (the context key follows a workspace search).
  const menuOf = async (name: string) => {
    await row(name).click({ button: 'right' });
    const labels = await contextMenuLabels(page);
    return labels;
  };
  await until('Open Study Charts… on the study folder', async () => {
    const labels = await menuOf('study');
    if (labels.includes('Open Study Charts…')) return true;
    await page.keyboard.press('Escape');
    await sleep(1000);
    return false;
  });
  await clickMenuItem(page, 'Open Study Charts…');
  await page.locator('.part.editor .tab', { hasText: 'Study · study (6 runs)' }).first().waitFor({ timeout: 90_000 });
  const webview = await workbench.waitForWebview('.chart-card canvas', 90_000);

  const { grouping, charts } = await until('the groups drawn', async () => {
    const c = await chartsOf(webview);
    return c.grouping === 'groups' && c.charts.length > 0 && c.charts[0].legend.length > 0 && c;
  });
  assert.equal(grouping, 'groups');
  const reward = charts.find((c) => c.id === 'reward')!;
  // Grouped by arm (both arms are the prpo preset), n in the names; the pilot is left out.
  assert.deepEqual(reward.legend, ['prpo (n=3) · reward', 'prpo (n=3) · accuracy', 'prpo-l0 (n=3) · reward', 'prpo-l0 (n=3) · accuracy']);
  // Per arm and metric: the band's lower end, its upper end filled down to it, the mean.
  assert.equal(reward.datasets.length, 2 * 2 * 3, JSON.stringify(reward.datasets));
  const bands = reward.datasets.filter((d) => d.fill === '-1');
  assert.equal(bands.length, 4);
  const band = (label: string) => reward.datasets.find((d) => d.label === label)!;
  assert.equal(band('prpo · reward · upper 95 %').points, 6, 'three runs at every step: a band at every step');
  assert.equal(band('prpo-l0 · reward · upper 95 %').points, 4, 'steps 5–6 have one run: no band there');
  assert.equal(band('prpo-l0 (n=3) · reward').points, 6, 'the mean goes on with the run that has the steps');
  const first = reward.first[0];
  assert.deepEqual([first.x, first.n], [1, 3]);
  assert.ok(Math.abs(first.y - 0.3) < 1e-12 && Math.abs(first.hi - (0.3 + HALF)) < 1e-9 && Math.abs(first.lo - (0.3 - HALF)) < 1e-9, JSON.stringify(first));
  const val = charts.find((c) => c.id === 'val')!;
  assert.deepEqual(val.legend, ['prpo (n=3)', 'prpo-l0 (n=3)']);
  assert.deepEqual(await webview.locator('.run-chip').allTextContents(), ['prpo 3 runs · step 6', 'prpo-l0 3 runs · steps 4–6']);

  // The hover says the mean ± half-width and n at that step; where one run has the step, that there is no band.
  const lines = await webview.locator('body').evaluate(() => (window as unknown as { prpoCharts: Charts }).prpoCharts.hoverAt('reward', 5));
  assert.deepEqual(lines, [
    'step 5',
    'prpo (n=3) · reward: 0.500 ± 0.248 (95 % CI, n=3 at step 5)',
    'prpo (n=3) · accuracy: 0.450 ± 0.248 (95 % CI, n=3 at step 5)',
    'prpo-l0 (n=3) · reward: 0.200 (n=1 at step 5: no band)',
    'prpo-l0 (n=3) · accuracy: 0.150 (n=1 at step 5: no band)',
  ]);
  await screenshot('study-groups-dark');

  // The toggle: every run its own curve, no band; and back.
  await webview.locator('vscode-button[data-grouping="runs"]').click();
  const asRuns = await until('the runs drawn', async () => {
    const c = await chartsOf(webview);
    return c.grouping === 'runs' && c;
  });
  const rewardRuns = asRuns.charts.find((c) => c.id === 'reward')!;
  assert.equal(rewardRuns.legend.length, 6 * 2, JSON.stringify(rewardRuns.legend));
  assert.ok(rewardRuns.datasets.every((d) => d.fill === false), 'no band in the runs view');
  assert.equal(await webview.locator('.run-chip').count(), 6);
  await webview.locator('vscode-button[data-grouping="groups"]').click();
  await until('the groups again', async () => (await chartsOf(webview)).grouping === 'groups');

  // Live: a seed of prpo-l0 writes step 5; the arm's mean and band there are recomputed (n = 2: the band goes on).
  appendFileSync(join(workspaceDir, 'runs', 'study', 'study-prpo-l0-s2', 'metrics.jsonl'), JSON.stringify({ step: 5, reward: 0.3, accuracy: 0.25, loss: 0.2, entropy: 0.95 }) + '\n');
  const grown = await until('the band at step 5', async () => {
    const r = (await chartsOf(webview)).charts.find((c) => c.id === 'reward')!;
    return r.datasets.find((d) => d.label === 'prpo-l0 · reward · upper 95 %')!.points === 5 && r;
  });
  assert.deepEqual(grown.legend, reward.legend);
  const live = await webview.locator('body').evaluate(() => (window as unknown as { prpoCharts: Charts }).prpoCharts.hoverAt('reward', 5));
  // Step 5 of prpo-l0: 0.2 and 0.3 → mean 0.25, sd 0.0707, half t₁ · 0.05 = 0.635.
  assert.equal(live[3], 'prpo-l0 (n=3) · reward: 0.250 ± 0.635 (95 % CI, n=2 at step 5)', JSON.stringify(live));
  assert.deepEqual(await webview.locator('.run-chip').allTextContents(), ['prpo 3 runs · step 6', 'prpo-l0 3 runs · steps 4–6']);

  // Light theme: the view re-themes in place.
  await workbench.runCommand('Preferences: Color Theme');
  await workbench.pickQuickItem(/Light Modern/);
  await until('the light theme', async () => webview.locator('body').evaluate(() => document.body.classList.contains('vscode-light')));
  await sleep(500);
  const valLines = await webview.locator('body').evaluate(() => (window as unknown as { prpoCharts: Charts }).prpoCharts.hoverAt('val', 3));
  assert.deepEqual(valLines, ['step 3', 'prpo (n=3): 0.350 ± 0.124 (95 % CI, n=3 at step 3)', 'prpo-l0 (n=3): 0.250 ± 0.124 (95 % CI, n=3 at step 3)']);
  await screenshot('study-groups-light');
});
