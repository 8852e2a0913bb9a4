// The default run a new user gets (auto-start, "Start … with Built-in Defaults"): long enough to explore, and
// named apart from the runs before it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { defaultRunName } from '../../src/core/presets';

test('default run names carry preset, seed and start time, so two runs tell apart', () => {
  const a = defaultRunName('prpo', 0, new Date(2026, 11, 2, 5, 44, 31));
  assert.equal(a, 'PRPO-R seed 0 · 2 Dec 05:44:31');
  assert.notEqual(defaultRunName('prpo', 0, new Date(2026, 11, 2, 5, 44, 32)), a);
  assert.equal(defaultRunName('vppo', 3, new Date(2026, 0, 9, 23, 5, 0)), 'VPPO seed 3 · 9 Jan 23:05:00');
});

test('the default run is 400 steps (30 ended before a first pause landed), in the setting and its fallback', () => {
  const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
  assert.equal(pkg.contributes.configuration.properties['prpoStudio.defaultSteps'].default, 400);
  assert.match(readFileSync('src/extension/config.ts', 'utf8'), /get<number>\('defaultSteps'\) \?\? 400;/);
});
