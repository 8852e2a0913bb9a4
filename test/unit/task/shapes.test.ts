// The shapes task: determinism, disjoint splits, trace lengths, perceptual flags, reward.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ShapesTask, Tokenizer, VOCAB, perceptualFlags, scoreResponse, QUESTION_TYPES } from '../../../src/backend/task/shapes';

const task = new ShapesTask();

test('examples are a pure function of (seed, split, index)', () => {
  const a = task.example('train', 17);
  const b = new ShapesTask().example('train', 17);
  assert.deepEqual(a.trace, b.trace);
  assert.deepEqual(a.question, b.question);
  assert.deepEqual(Array.from(a.image), Array.from(b.image));
  const other = new ShapesTask({ seed: 99 }).example('train', 17);
  assert.notDeepEqual([other.scene, other.question], [a.scene, a.question]);
});

test('train and validation never share an image layout', () => {
  const train = new Set<string>();
  for (let i = 0; i < 1500; i++) train.add(JSON.stringify(task.example('train', i).scene));
  for (let i = 0; i < 400; i++) {
    const v = task.example('val', i);
    assert.equal(task.splitOf(v.scene), 'val');
    assert.ok(!train.has(JSON.stringify(v.scene)), `val ${i} appears in train`);
  }
});

test('images are 32×32 RGB CHW in [0,1]; prompt + response fit 48 tokens; vocabulary is small', () => {
  assert.ok(VOCAB.length >= 40 && VOCAB.length <= 100);
  const tok = new Tokenizer();
  const types = new Set<string>();
  for (let i = 0; i < 500; i++) {
    const e = task.example('train', i);
    types.add(e.type);
    assert.equal(e.image.length, 3 * 32 * 32);
    assert.ok(e.image.every((v) => v >= 0 && v <= 1));
    assert.equal(e.prompt[0], tok.bos);
    assert.equal(e.target.at(-1), tok.eos);
    assert.ok(e.prompt.length <= task.maxPromptTokens);
    assert.ok(e.target.length <= task.maxResponseTokens);
    assert.ok(e.prompt.length + e.target.length <= 48);
    assert.deepEqual(tok.decode(tok.encode(e.trace)), e.trace);
    assert.equal(e.perceptual.length, e.trace.length);
  }
  assert.deepEqual([...types].sort(), [...QUESTION_TYPES].sort());
});

test('the reference trace scores 1; a wrong answer 0.1; a broken format loses the format term', () => {
  for (let i = 0; i < 200; i++) {
    const e = task.example('val', i);
    assert.deepEqual(scoreResponse(e.trace, e.answer), { reward: 1, correct: true, formatOk: true, predicted: e.answer });
  }
  assert.equal(scoreResponse(['see', 'none', 'answer', 'no', '<eos>'], 'yes').reward, 0.1);
  assert.ok(Math.abs(scoreResponse(['see', 'answer', 'yes'], 'yes').reward - 0.9) < 1e-12);
  assert.equal(scoreResponse(['yes', '<eos>'], 'yes').reward, 0);
});

test('perceptual flags: the labeller reproduces the reference flags and marks what the image decides', () => {
  for (let i = 0; i < 1000; i++) {
    const e = task.example('train', i);
    assert.deepEqual(perceptualFlags(e.type, e.trace), e.perceptual, `${e.question.join(' ')} | ${e.trace.join(' ')}`);
  }
  // "how many red ?": listed objects and the end of the list are perceptual; the count follows from the trace.
  assert.deepEqual(perceptualFlags('countColor', ['see', 'red', 'circle', 'red', 'square', 'answer', '2', '<eos>']), [0, 1, 1, 1, 1, 1, 0, 0]);
  // "more red or blue ?": the counts are perceptual, the colours come from the question.
  assert.deepEqual(perceptualFlags('compare', ['see', 'red', '2', 'blue', '1', 'answer', 'red', '<eos>']), [0, 0, 1, 0, 1, 0, 0, 0]);
});
