/** Run config files (`--config`, "Start Run from Config File…"): hostile values are refused by name, in a short message. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfigText, resolveRunConfig } from '../../../src/backend/trainer/config';
import { ConfigError } from '../../../src/core/algorithms';

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
