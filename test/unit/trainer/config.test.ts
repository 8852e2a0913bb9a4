/** Run config files (`--config`, "Start Run from Config File…"): hostile values are refused by name, in a short message. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfigText, resolveRunConfig } from '../../../src/backend/trainer/config';
import { ConfigError, showValue } from '../../../src/core/algorithms';
import { main as advantagesCli } from '../../../src/cli/advantages';

test('a config file of deep nesting or huge values is refused with a short ConfigError naming the file or key', () => {
  const deep = '['.repeat(20_000) + ']'.repeat(20_000);
  assert.throws(() => parseConfigText(deep, 'run.json'), (e: unknown) => e instanceof ConfigError && /^run\.json: expected a JSON object of configuration keys, got an array$/.test(e.message));
  const huge = JSON.stringify({ groupSize: 'x'.repeat(1 << 20) });
  assert.throws(
    () => resolveRunConfig('prpo', parseConfigText(huge, 'run.json')),
    (e: unknown) => e instanceof ConfigError && e.field === 'config.groupSize' && e.message.length < 200,
  );
  const nested = JSON.parse(`{"task": {"gridMin": ${'['.repeat(5000)}${']'.repeat(5000)}}}`);
  assert.throws(() => resolveRunConfig('prpo', nested), (e: unknown) => e instanceof ConfigError && e.field === 'config.task.gridMin');
});

// Found by `npm run fuzz` (seed 20261202: config case 810, advantages case 959): a 20,000-deep array as an
// algorithm key's value (tau, kl, the advantages input's algorithm) threw RangeError from the message builder,
// which fell back to String() — as deep a recursion as JSON.stringify.
test('a 20,000-deep value of an algorithm key is a ConfigError naming the key, in the config file and the advantages input', async () => {
  const deep = '['.repeat(20_000) + ']'.repeat(20_000);
  for (const key of ['tau', 'kl', 'groupSize']) {
    assert.throws(
      () => resolveRunConfig('prpo', parseConfigText(`{"${key}": ${deep}}`, 'run.json')),
      (e: unknown) => e instanceof ConfigError && new RegExp(`^config\\.${key}: expected .+, got an array$`).test(e.message),
    );
  }
  assert.equal(showValue(JSON.parse(deep)), 'an array');
  assert.equal(showValue('x'.repeat(1000)).length, 81);
  let stderr = '';
  const code = await advantagesCli([], { stdin: `{"algorithm": ${deep}, "config": {}, "rollouts": []}`, stdout: { write: () => {} }, stderr: { write: (s: string) => (stderr += s) } });
  assert.equal(code, 2);
  assert.equal(stderr, 'prpo-studio advantages: algorithm: expected one of grpo, dapo, vppo, pgpo, prpo, got an array\n');
});
