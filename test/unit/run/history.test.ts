import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { currentHistory, readMetrics } from '../../../src/core/run/reader';

test("metrics of a resumed run read as its history: an abandoned continuation's rows are dropped", async () => {
  const rows = [1, 2, 3, 4, 5, 3, 4].map((step, i) => ({ step, reward: i }));
  assert.deepEqual(currentHistory(rows).map((r) => [r.step, r.reward]), [[1, 0], [2, 1], [3, 5], [4, 6]]);

  const dir = mkdtempSync(join(tmpdir(), 'prpo-history-'));
  try {
    writeFileSync(join(dir, 'metrics.jsonl'), rows.map((r) => JSON.stringify(r) + '\n').join(''));
    assert.deepEqual((await readMetrics(dir)).map((r) => r.reward), [0, 1, 5, 6]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
