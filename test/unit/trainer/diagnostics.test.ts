// The diagnostics' statistics on hand-made inputs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { traceDiagnostics, withinResponseAuroc } from '../../../src/backend/trainer/diagnostics';
import { ShapesTask } from '../../../src/backend/task/shapes';
import type { Sampled } from '../../../src/backend/trainer/step';

test('within-response AUROC is the mean over responses holding both classes', () => {
  // Response 1: perfect (1); response 2: reversed (0); response 3: one class only, left out.
  const v = withinResponseAuroc([[0.9, 0.1, 0.2], [0.1, 0.9], [0.5, 0.6]], [[1, 0, 0], [1, 0], [1, 1]]);
  assert.equal(v, 0.5);
});

test('lucky-correct share and where the first error falls', () => {
  const task = new ShapesTask({ fillers: 2 });
  // A countAll example with two objects or more.
  let ex = task.example('train', 0);
  for (let i = 1; ex.type !== 'countAll' || ex.scene.objects.length < 2; i++) ex = task.example('train', i);
  const ref = ex.trace;
  const mk = (words: string[], correct: boolean): Sampled => ({ example: ex, group: ex.id, tokens: [], words, logp: new Float32Array(words.length), reward: 0, correct, formatOk: true });
  const fillersSwapped = ref.map((w) => (w === 'a' ? 'is' : w === 'is' ? 'a' : w)); // only the fillers differ
  const objects = ref.filter((w) => !['see', 'a', 'is', 'there', 'at'].includes(w));
  // Same count with the first object's colour wrong: correct, but through a wrong trace.
  const lucky = ['see', objects[0] === 'red' ? 'blue' : 'red', ...objects.slice(1)];
  // Wrong answer whose first divergence is the first listed object (perceptual).
  const wrongPerceptual = ['see', objects[0] === 'red' ? 'blue' : 'red', ...objects.slice(1, -2), '9', '<eos>'];
  // Wrong answer whose first divergence is the count after a correct list (not perceptual).
  const wrongCount = ['see', ...objects.slice(0, -2), '9', '<eos>'];
  const d = traceDiagnostics([mk(fillersSwapped, true), mk(lucky, true), mk(wrongPerceptual, false), mk(wrongCount, false)]);
  assert.equal(d.luckyCorrectShare, 0.5);
  assert.equal(d.firstErrorPerceptualShare, 0.5);
});
