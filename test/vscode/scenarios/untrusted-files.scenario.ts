// Untrusted files in a run directory (issue #14): task images that are not PNGs, claim 100,000 × 100,000
// pixels or link out of the run directory each show one sentence in place of the picture; a 1 MB token and
// prompt show clipped with a note; a run of 100,000 steps lists a bounded number of steps and opens at its
// last step, and its 100,000 metrics rows chart as a bounded number of points; a run with 100,000 bad lines
// lists 20 of them and one row for the rest. Nothing hangs, and hostile text (markup, bidi, template syntax)
// shows literally.
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { scenario } from '../harness/studio';
import { RunWriter } from '../../../src/core/run/writer';
import { encodePng } from '../../../src/core/run/png';
import { pngClaiming } from '../../fixtures/images';
import type { RolloutRecord } from '../../../src/core/run/schema';

const BIG = 1 << 20;
const HOSTILE_PROMPT = 'Count <img src=x onerror="document.title=\'pwned\'"> {{constructor}} ${x} \u202Eevil\u202C';

function rollout(step: number, i: number, over: Partial<RolloutRecord>): RolloutRecord {
  const tokens = over.tokens ?? ['I', ' see', ' 3'];
  return {
    id: `s${step}-r${i}`,
    step,
    group: `g${i}`,
    prompt: `Question ${i}`,
    response: tokens.join(''),
    reward: i % 2,
    advantage: i % 2 ? 1 : -1,
    tokens,
    logp: { image: tokens.map(() => -0.5) },
    tokenAdvantages: tokens.map(() => (i % 2 ? 1 : -1)),
    ...over,
  };
}

function writeRuns(workspace: string): void {
  const runs = join(workspace, 'runs');
  mkdirSync(runs, { recursive: true });
  const manifest = (id: string, name: string, steps: number) => ({
    id,
    name,
    source: 'prpo-studio' as const,
    algorithm: 'grpo' as const,
    config: {},
    model: { name: 'tiny-vlm', config: {} },
    task: { name: 'shapes', config: {} },
    seed: 1,
    steps,
  });

  const w = RunWriter.create(runs, manifest('untrusted-files', 'Untrusted files run', 1));
  writeFileSync(join(workspace, 'outside.png'), encodePng(new Float32Array(4).fill(1), 2, 2, 1));
  writeFileSync(join(w.dir, 'images', 'text.png'), '<svg onload="document.title=\'pwned\'">not a png</svg>');
  writeFileSync(join(w.dir, 'images', 'bomb.png'), pngClaiming(100_000, 100_000));
  symlinkSync(join(workspace, 'outside.png'), join(w.dir, 'images', 'link.png'));
  const bigToken = 'W'.repeat(BIG);
  w.appendEvent({ type: 'started', step: 0 });
  w.appendRollouts(1, [
    rollout(1, 0, { image: 'images/text.png' }),
    rollout(1, 1, { image: 'images/bomb.png' }),
    rollout(1, 2, { image: 'images/link.png' }),
    rollout(1, 3, { prompt: HOSTILE_PROMPT + 'P'.repeat(BIG), tokens: ['Big', bigToken, ' end'] }),
  ]);
  w.appendMetrics({ step: 1, reward: 0.5 });
  w.appendEvent({ type: 'completed', step: 1 });

  // 100,000 steps: metrics for each, a rollouts file for each (empty but the last), as a long run leaves.
  const many = RunWriter.create(runs, manifest('many-steps', 'Hundred thousand steps run', 100_000));
  many.appendEvent({ type: 'started', step: 0 });
  const rows: string[] = [];
  for (let s = 1; s <= 100_000; s++) rows.push(JSON.stringify({ step: s, reward: (s % 100) / 100 }));
  writeFileSync(join(many.dir, 'metrics.jsonl'), rows.join('\n') + '\n');
  for (let s = 1; s < 100_000; s++) writeFileSync(join(many.dir, 'rollouts', `step-${String(s).padStart(6, '0')}.jsonl`), '');
  many.appendRollouts(100_000, [rollout(100_000, 0, { tokens: ['Last', ' step'] })]);
  many.appendEvent({ type: 'completed', step: 100_000 });

  // 100,000 bad lines in metrics.jsonl (after one good row): the explorer lists 20 and one row for the rest.
  const bad = RunWriter.create(runs, manifest('bad-lines', 'Bad lines run', 1));
  bad.appendEvent({ type: 'started', step: 0 });
  bad.appendMetrics({ step: 1, reward: 0.5 });
  appendFileSync(join(bad.dir, 'metrics.jsonl'), Array.from({ length: 100_000 }, (_, i) => `{"step": ${i + 2}, oops`).join('\n') + '\n');
  bad.appendEvent({ type: 'completed', step: 1 });
}

scenario('untrusted files: bad images, a 1 MB token and prompt, 100,000 steps — clear messages, bounded views', { runs: [], setup: writeRuns, timeoutMs: 480_000 }, async ({ workbench, page, screenshot }) => {
  const dialogs: string[] = [];
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  await workbench.openViewContainer('PRPO Studio');
  await workbench.treeItem('Runs', 'Untrusted files run', 90_000);

  // 100,000 bad metrics lines: 20 rows naming file:line: reason, then "… and 99,980 more — open the log".
  const badRun = await workbench.treeItem('Runs', 'Bad lines run', 90_000);
  await badRun.click();
  const more = await workbench.treeItem('Runs', /^… and 99,980 more — open the log$/, 60_000);
  const problems = (await workbench.treeItems('Runs')).filter((i) => /^metrics\.jsonl:\d+: /.test(i.label));
  assert.equal(problems.length, 20, JSON.stringify(problems.map((i) => i.label)));
  assert.match(problems[0].label, /^metrics\.jsonl:2: not valid JSON/);
  const moreTip = await workbench.hover(more, 10_000, /100,000 problems/);
  assert.match(moreTip, /100,000 problems reading this run; the first: .*metrics\.jsonl:2: not valid JSON/, moreTip);
  await screenshot('explorer-100000-bad-lines');
  await badRun.click();

  // The explorer lists a bounded number of the 100,000 steps.
  await (await workbench.treeItem('Runs', 'Hundred thousand steps run', 90_000)).click();
  await (await workbench.treeItem('Runs', /^Steps/, 30_000)).click();
  // The tree renders only the rows in view: go to the last one.
  await workbench.treeItem('Runs', /^step 99999/, 60_000);
  await page.keyboard.press('End');
  await workbench.treeItem('Runs', /older steps/, 30_000);
  const items = await workbench.treeItems('Runs');
  assert.ok(items.some((i) => /^… 99700 older steps$/.test(i.label)), `"… 99700 older steps" in ${JSON.stringify(items.map((i) => i.label).slice(-5))}`);
  await screenshot('explorer-100000-steps');

  await workbench.runCommand('prpoStudio.openRun');
  await workbench.pickQuickItem('Untrusted files run');
  const webview = await workbench.waitForWebview('.tokens .tok', 120_000);
  const captions = webview.locator('.image-caption');
  const expected = [
    /The image "images\/text\.png" is not a PNG file \(its first bytes are not the PNG signature\)\./,
    /The image "images\/bomb\.png" claims 100,000 × 100,000 pixels, more than this view decodes/,
    /The image "images\/link\.png" links outside the run directory\./,
  ];
  for (const re of expected) {
    await captions.filter({ hasText: re }).first().waitFor({ timeout: 30_000 });
  }
  const tokensText = await webview.locator('.tokens').allInnerTexts();
  const big = tokensText.find((t) => t.startsWith('Big'));
  assert.ok(big, 'the rollout with the 1 MB token is shown');
  assert.match(big!, /W{100}… \[1,046,576 more characters not shown\]/);
  assert.ok(big!.length < 5_000, `the token view is bounded (${big!.length} characters)`);
  const prompts = await webview.locator('.prompt-body').allTextContents();
  const hostile = prompts.find((p) => p.startsWith('Count'));
  assert.ok(hostile && hostile.length < 25_000, 'the 1 MB prompt is clipped');
  assert.match(hostile!, /^Count <img src=x onerror="document\.title='pwned'"> \{\{constructor\}\} \$\{x\} ⟨U\+202E⟩evil⟨U\+202C⟩P+… \[[\d,]+ more characters not shown\]$/);
  assert.equal(await webview.locator('.prompt-body img, .task-image + img').count(), 0);
  await screenshot('untrusted-images-and-big-token');

  // The 100,000-step run opens at its last step.
  await workbench.runCommand('prpoStudio.openRun');
  // Typed and accepted: a tooltip of the picker's first row can sit over it and swallow a click.
  await workbench.answerInput('Hundred thousand steps run');
  const many = await workbench.waitForWebview('.tokens .tok:text("Last")', 120_000);
  assert.ok((await many.locator('.tokens').first().innerText()).startsWith('Last'));
  await screenshot('trajectory-100000-steps');

  // Its 100,000 metrics rows in the charts: every row kept, a few points per pixel column drawn.
  await workbench.runCommand('prpoStudio.openMetrics');
  // "Chart which runs?" ticks the run on screen: accept it.
  const pick = page.locator('.quick-input-widget');
  await pick.locator('.monaco-list-row[aria-checked="true"]', { hasText: 'Hundred thousand steps run' }).first().waitFor({ timeout: 15_000 });
  await pick.locator('.monaco-button', { hasText: 'OK' }).first().click();
  const charts = await workbench.waitForWebview('.chart-card canvas', 120_000);
  const reward = await charts.locator('body').evaluate(() => {
    const all = (window as unknown as { prpoCharts: { charts: Array<{ id: string; series: Array<{ key: string; points: number; drawn: number }> }> } }).prpoCharts.charts;
    const width = document.querySelector<HTMLCanvasElement>('[data-chart="reward"] canvas')!.clientWidth;
    return { ...all.find((c) => c.id === 'reward')!.series.find((s) => s.key === 'reward')!, width };
  });
  assert.equal(reward.points, 100_000, JSON.stringify(reward));
  assert.ok(reward.drawn > 0 && reward.drawn <= 4 * Math.max(100, reward.width), `drawn ${reward.drawn} points for a ${reward.width}-pixel chart`);
  assert.match((await charts.locator('.run-chip').first().textContent()) ?? '', /· step 100000$/);
  await screenshot('charts-100000-rows');

  assert.doesNotMatch(await page.title(), /pwned/);
  assert.deepEqual(dialogs, []);
});
