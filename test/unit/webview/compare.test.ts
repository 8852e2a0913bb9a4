// Compare a prompt across steps (src/core/view/compare.ts) on hand-built rollouts: which columns have the
// prompt and why the others do not, the shared token prefix, the per-position strip and the one scale.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RolloutRecord } from '../../../src/core/run/schema';
import { PromptCatalogue, comparePrompt, isValidationGroup, sharedPrefix, spreadSteps } from '../../../src/core/view/compare';
import { stepRanges } from '../../../src/core/view/signals';

/** A rollout of `group` at `step` with the given tokens; token t's RVD is rvd[t], Ã = adv·(t+1), log p = −(t+1)/10. */
function ro(step: number, i: number, group: string, tokens: string[], rvd: number[], adv = 1): RolloutRecord {
  return {
    id: `s${step}-r${i}`,
    step,
    group,
    prompt: `What is in ${group}?`,
    answer: '3',
    response: tokens.join(''),
    reward: adv > 0 ? 1 : 0,
    advantage: adv,
    tokens,
    logp: { image: tokens.map((_, t) => -(t + 1) / 10) },
    scores: { rvd },
    tokenAdvantages: tokens.map((_, t) => adv * (t + 1)),
  };
}

test('validation prompts are the groups the built-in task names val-…', () => {
  assert.equal(isValidationGroup('val-000012'), true);
  assert.equal(isValidationGroup('train-000012'), false);
  assert.equal(isValidationGroup('interval-3'), false);
});

test('the catalogue lists validation prompts first, then those sampled at most steps, with their steps and rollouts', () => {
  const cat = new PromptCatalogue();
  cat.add(1, [ro(1, 0, 'train-1', ['a'], [0]), ro(1, 1, 'train-1', ['a'], [0]), ro(1, 2, 'train-2', ['b'], [0])]);
  cat.add(2, [ro(2, 0, 'train-2', ['b'], [0]), ro(2, 1, 'val-9', ['c'], [0])]);
  cat.add(3, [ro(3, 0, 'train-2', ['b'], [0])]);
  assert.deepEqual(
    cat.entries().map((e) => [e.group, e.steps, e.rollouts, e.validation]),
    [
      ['val-9', [2], 1, true],
      ['train-2', [1, 2, 3], 3, false],
      ['train-1', [1], 2, false],
    ],
  );
  assert.equal(cat.entries()[1].prompt, 'What is in train-2?');
  // A step added again (the live step grew) replaces what it said; a group left with no step is gone.
  cat.add(2, [ro(2, 0, 'train-2', ['b'], [0]), ro(2, 1, 'train-2', ['b'], [0])]);
  assert.deepEqual(
    cat.entries().map((e) => [e.group, e.steps, e.rollouts]),
    [
      ['train-2', [1, 2, 3], 4],
      ['train-1', [1], 2],
    ],
  );
  assert.equal(cat.has(2), true);
  assert.equal(cat.has(4), false);
});

test('steps are spread evenly when there are more than the view shows, first and last kept', () => {
  assert.deepEqual(spreadSteps([1, 2, 3], 8), [1, 2, 3]);
  assert.deepEqual(spreadSteps([0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100], 3), [0, 50, 100]);
  assert.deepEqual(spreadSteps([5, 6, 7, 8, 9], 4), [5, 6, 8, 9]);
});

test('the shared prefix is counted by token text', () => {
  assert.equal(sharedPrefix(['I', ' see', ' 3'], ['I', ' see', ' 4']), 2);
  assert.equal(sharedPrefix(['I'], ['I', ' see']), 1);
  assert.equal(sharedPrefix([' I'], ['I']), 0);
});

test('a prompt across steps: the missing step says so, responses align on their shared prefix, the strip holds each step', () => {
  const g = 'val-000001';
  const step1 = [ro(1, 0, g, ['I', ' see', ' 3', '.'], [0.1, 0.2, 0.9, 0.0]), ro(1, 1, g, ['It', ' is', ' 2'], [0.3, 0.4, 0.5], -1), ro(1, 2, 'train-7', ['x'], [1])];
  const step2 = [ro(2, 0, 'train-8', ['y'], [0.5])];
  const step3 = [ro(3, 0, g, ['I', ' see', ' 4'], [0.2, 0.6, 0.7])];
  const cmp = comparePrompt(g, [
    { step: 1, rollouts: step1 },
    { step: 2, rollouts: step2 },
    { step: 3, rollouts: step3 },
    { step: 4, rollouts: undefined, unreadable: 'the run has no step 4' },
  ]);
  assert.equal(cmp.prompt, 'What is in val-000001?');
  assert.equal(cmp.validation, true);
  assert.deepEqual(
    cmp.columns.map((c) => [c.label, c.rollouts.map((r) => r.id), c.missing]),
    [
      ['step 1', ['s1-r0', 's1-r1'], undefined],
      ['step 2', [], 'not sampled at step 2'],
      ['step 3', ['s3-r0'], undefined],
      ['step 4', [], 'the run has no step 4'],
    ],
  );
  assert.equal(cmp.rows.length, 2);
  const [row0, row1] = cmp.rows;
  // Row 0: step 1's "I see 3." is the reference; step 3's "I see 4" shares "I see".
  assert.equal(row0.reference, 0);
  assert.deepEqual(row0.shared, [4, undefined, 2, undefined]);
  assert.equal(row0.aligned, 2);
  assert.deepEqual(row0.strip.rvd, [
    [0.1, NaN, 0.2, NaN],
    [0.2, NaN, 0.6, NaN],
  ]);
  assert.deepEqual(row0.strip.tokenAdvantage, [
    [1, NaN, 1, NaN],
    [2, NaN, 2, NaN],
  ]);
  assert.deepEqual(row0.strip.logpImage, [
    [-0.1, NaN, -0.1, NaN],
    [-0.2, NaN, -0.2, NaN],
  ]);
  // Row 1: only step 1 sampled a second rollout: nothing to align it with.
  assert.deepEqual(row1.shared, [3, undefined, undefined, undefined]);
  assert.equal(row1.aligned, 0);
  assert.deepEqual(row1.strip.rvd, []);
  // One scale over every column's rollouts of the prompt (and none of the other prompts').
  assert.deepEqual(cmp.ranges, stepRanges([step1[0], step1[1], step3[0]]));
  assert.equal(cmp.ranges.rvd, 1);
  // |Ã| over the three rollouts: 1 2 3 4 · 1 2 3 · 1 2 3; the scale's 99.5th percentile of ten values is the 9th, 3.
  assert.equal(cmp.ranges.tokenAdvantage, 3);
});

test('the reference is the first column that has the row, and a column missing the field has NaN in the strip', () => {
  const g = 'g';
  const a = ro(5, 0, g, ['A', 'B', 'C'], [0.1, 0.2, 0.3]);
  const b = ro(6, 0, g, ['A', 'B', 'D'], [0.4, 0.5, 0.6]);
  delete b.scores;
  const cmp = comparePrompt(g, [
    { step: 4, rollouts: [] },
    { step: 5, rollouts: [a] },
    { step: 6, rollouts: [b] },
  ]);
  assert.equal(cmp.columns[0].missing, 'not sampled at step 4');
  assert.equal(cmp.rows[0].reference, 1);
  assert.deepEqual(cmp.rows[0].shared, [undefined, 3, 2]);
  assert.deepEqual(cmp.rows[0].strip.rvd, [
    [NaN, 0.1, NaN],
    [NaN, 0.2, NaN],
  ]);
  assert.deepEqual(cmp.rows[0].strip.tokenAdvantage, [
    [NaN, 1, 1],
    [NaN, 2, 2],
  ]);
});

test('the same step across runs: columns are named by run, and a run that did not sample the prompt says which', () => {
  const g = 'val-000002';
  const cmp = comparePrompt(g, [
    { step: 10, run: 'PRPO-R', rollouts: [ro(10, 0, g, ['x', 'y'], [0.5, 0.5])] },
    { step: 10, run: 'GRPO', rollouts: [ro(10, 0, 'val-000003', ['x'], [0.5])] },
  ]);
  assert.deepEqual(
    cmp.columns.map((c) => [c.label, c.missing]),
    [
      ['PRPO-R · step 10', undefined],
      ['GRPO · step 10', 'not sampled at step 10 of GRPO'],
    ],
  );
});

test('a prompt no column sampled gives no rows and says so in every column', () => {
  const cmp = comparePrompt('gone', [{ step: 1, rollouts: [ro(1, 0, 'other', ['a'], [0])] }]);
  assert.equal(cmp.rows.length, 0);
  assert.equal(cmp.prompt, '');
  assert.equal(cmp.columns[0].missing, 'not sampled at step 1');
});

test('the command is contributed read-only: no trust gate, in the palette, on runs and steps, and on a trajectory rollout', async () => {
  const { readFileSync } = await import('node:fs');
  const manifest = JSON.parse(readFileSync('package.json', 'utf8')) as {
    contributes: { commands: Array<{ command: string; title: string; enablement?: string }>; menus: Record<string, Array<{ command: string; when?: string }>> };
  };
  const id = 'prpoStudio.compareAcrossSteps';
  const c = manifest.contributes.commands.find((x) => x.command === id);
  assert.equal(c?.title, 'Compare Prompt Across Steps…');
  assert.equal(c?.enablement, undefined, 'it only reads: it works in untrusted workspaces');
  const when = (menu: string): string[] => manifest.contributes.menus[menu].filter((m) => m.command === id).map((m) => m.when ?? '');
  assert.deepEqual(when('commandPalette'), ['prpoStudio.hasRuns']);
  const [item] = when('view/item/context');
  assert.match(item, /viewItem =~/);
  const viewItem = new RegExp(/viewItem =~ \/(.*)\/$/.exec(item)![1]);
  for (const v of ['run.completed', 'run.running', 'run.imported', 'step', 'step.imported']) assert.ok(viewItem.test(v), `on a ${v} node`);
  for (const v of ['run.broken', 'checkpoint', 'issue']) assert.ok(!viewItem.test(v), `not on a ${v} node`);
  assert.deepEqual(when('webview/context'), ["webviewId == 'prpoStudio.trajectory' && webviewSection == 'rollout'"]);
  for (const menu of Object.keys(manifest.contributes.menus)) for (const w of when(menu)) assert.doesNotMatch(w, /isWorkspaceTrusted/, `${menu} does not hide it untrusted`);
});

test('an imported verl dump: its prompts recur across steps, and one compares across them', async () => {
  const { importVerl } = await import('../../../src/core/run/importers/verl');
  const run = importVerl('test/fixtures/importers/verl/rollout_data');
  const cat = new PromptCatalogue();
  const inputs = [];
  for (const step of run.info.rolloutSteps) {
    const rollouts = await run.readRolloutStep(step);
    cat.add(step, rollouts);
    inputs.push({ step, rollouts });
  }
  assert.deepEqual(
    cat.entries().map((e) => [e.group, e.steps, e.rollouts, e.validation]),
    [
      ['p0', [1, 2, 3], 9, false],
      ['p1', [1], 4, false],
    ],
  );
  const cmp = comparePrompt('p0', inputs);
  assert.deepEqual(
    cmp.columns.map((c) => [c.label, c.rollouts.length, c.missing]),
    [
      ['step 1', 4, undefined],
      ['step 2', 3, undefined],
      ['step 3', 2, undefined],
    ],
  );
  // The first responses: "I see three circles…", "Three circles." and "There are 3 circles.": no token shared.
  assert.deepEqual(cmp.rows[0].shared, [9, 0, 0]);
  assert.equal(cmp.rows.length, 4);
  assert.deepEqual(cmp.rows[3].shared, [6, undefined, undefined]);
});
