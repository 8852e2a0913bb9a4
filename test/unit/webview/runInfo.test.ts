// What the trajectory view is told about its run comes from the keys the trainer writes into run.json.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { flatConfig, resolveRunConfig } from '../../../src/backend/trainer/config';
import { webviewRunInfo } from '../../../src/core/view/runInfo';
import { caption } from '../../../webview/trajectory/imageCaptions';
import { RUN_SCHEMA, type RunManifest } from '../../../src/core/run/schema';

test("the perturbed view's caption shows the run's patch drop probability and noise σ, not the defaults", () => {
  const config = resolveRunConfig('prpo', { patchDropProb: 0.3, mildSigma: 0.05 });
  const manifest: RunManifest = {
    schema: RUN_SCHEMA, id: 'r', name: 'r', created: new Date(0).toISOString(), source: 'prpo-studio', algorithm: 'prpo',
    config: flatConfig(config), model: { name: 'tiny', config: { patchSize: 4 } }, task: { name: 'shapes', config: {} }, seed: 0,
  };
  const run = webviewRunInfo(manifest, 'running');
  assert.equal(run.patchDropProb, 0.3);
  assert.equal(run.mildSigma, 0.05);
  assert.equal(run.patchSize, 4);
  assert.match(caption('perturbed', run, 4), /each 4×4 patch blackened with probability 0\.3\./);
  assert.match(caption('mild', run, 4), /σ = 0\.05 /);
  // A run that does not say (another trainer's) shows ALGORITHMS.md's defaults.
  const bare = webviewRunInfo({ ...manifest, config: {}, model: { name: 'x', config: {} } }, 'completed');
  assert.match(caption('perturbed', bare, 8), /probability 0\.5\./);
});
