// The shapes task's study options: fillers (sparse perceptual tokens), count questions about what is
// present, `exists` left out — and the shipped task unchanged by default.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FILLER_WORDS, ShapesTask, defaultShapesConfig, perceptualFlags, scoreResponse, studyShapesConfig } from '../../../src/backend/task/shapes';

const N = 2000;
const examples = (task: ShapesTask) => Array.from({ length: N }, (_, i) => task.example('train', i));

test('the defaults write no fillers and keep the shipped examples; scenes do not depend on the options', () => {
  const plain = new ShapesTask();
  const study = new ShapesTask(studyShapesConfig());
  assert.equal(defaultShapesConfig().fillers, 0);
  assert.equal(defaultShapesConfig().countPresentProb, 0);
  for (let i = 0; i < 200; i++) {
    const a = plain.example('train', i), b = study.example('train', i);
    assert.ok(a.trace.every((w) => !FILLER_WORDS.includes(w)));
    assert.deepEqual(b.scene, a.scene, 'the scene is drawn before the question');
    assert.deepEqual(Array.from(b.image), Array.from(a.image));
  }
});

test('fillers: F reward-irrelevant words after "see", flagged 0, and perceptual tokens become sparse (≈ 15 %)', () => {
  const task = new ShapesTask(studyShapesConfig());
  const F = task.config.fillers;
  let perceptual = 0, tokens = 0;
  for (const e of examples(task)) {
    assert.equal(e.trace[0], 'see');
    const fill = e.trace.slice(1, 1 + F);
    assert.ok(fill.every((w) => FILLER_WORDS.includes(w)), e.trace.join(' '));
    assert.ok(e.perceptual.slice(1, 1 + F).every((f) => f === 0));
    assert.deepEqual(perceptualFlags(e.type, e.trace), e.perceptual, 'the labeller agrees on traces with fillers');
    assert.equal(scoreResponse(e.trace, e.answer).reward, 1, 'fillers cost no reward');
    assert.ok(e.trace.length <= task.maxResponseTokens);
    perceptual += e.perceptual.reduce((a, b) => a + b, 0);
    tokens += e.trace.length;
  }
  const share = perceptual / tokens;
  assert.ok(share > 0.13 && share < 0.17, `perceptual share ${share}`);
  const plain = examples(new ShapesTask());
  const plainShare = plain.reduce((a, e) => a + e.perceptual.reduce((x, y) => x + y, 0), 0) / plain.reduce((a, e) => a + e.trace.length, 0);
  assert.ok(plainShare > 0.3, `the shipped task is dense (${plainShare})`);
});

test('the study\'s question distribution: no exists; count questions ask about a present colour/shape about 75 % of the time', () => {
  const study = examples(new ShapesTask(studyShapesConfig()));
  assert.ok(study.every((e) => e.type !== 'exists'));
  const types = new Set(study.map((e) => e.type));
  assert.equal(types.size, 6);
  const presentShare = (list: typeof study) => {
    const counts = list.filter((e) => e.type === 'countColor' || e.type === 'countShape');
    return counts.filter((e) => e.answer !== '0').length / counts.length;
  };
  // Present with p = 0.75, else uniform (which hits a present one too about half the time): ≈ 0.88.
  const s = presentShare(study);
  assert.ok(s > 0.84 && s < 0.92, `present share ${s}`);
  const p = presentShare(examples(new ShapesTask()));
  assert.ok(p > 0.44 && p < 0.56, `shipped task: uniform queries, present share ${p}`);
});

test('bad option values are refused', () => {
  assert.throws(() => new ShapesTask({ fillers: -1 }), /fillers must be an integer ≥ 0/);
  assert.throws(() => new ShapesTask({ countPresentProb: 1.5 }), /countPresentProb must be in \[0, 1\]/);
});
