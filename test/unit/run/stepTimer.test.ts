// The status bar's "~6 min left": measured step time, pauses not counted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StepTimer, roughDuration } from '../../../src/core/run/stepTimer';

test('the step time is measured between metrics rows; a pause restarts the clock', () => {
  const t = new StepTimer();
  assert.equal(t.remaining(1, 400), undefined, 'unknown before two steps');
  t.observe(1, 0);
  t.observe(2, 1000);
  assert.equal(t.secondsPerStep, 1);
  assert.equal(t.remaining(2, 400), 398);
  t.restart(); // paused for a minute
  t.observe(3, 61_000);
  assert.equal(t.secondsPerStep, 1, 'the pause is not a step');
  t.observe(4, 63_000);
  assert.ok(Math.abs(t.secondsPerStep! - 1.3) < 1e-9, String(t.secondsPerStep));
  assert.equal(t.remaining(4, undefined), undefined);
});

test('durations read roughly', () => {
  assert.equal(roughDuration(20), '<1 min');
  assert.equal(roughDuration(360), '~6 min');
  assert.equal(roughDuration(4800), '~1 h 20 min');
  assert.equal(roughDuration(7200), '~2 h');
});
