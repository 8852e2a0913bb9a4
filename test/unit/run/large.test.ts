// A 100 MB rollouts file is streamed: memory stays far below the file size.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { readJsonl } from '../../../src/core/run/reader';
import { validateRollout } from '../../../src/core/run/validate';
import { rollout, tempDir } from './helpers';

const MB = 1 << 20;

test('a 100 MB rollouts file is read with bounded memory', async (t) => {
  const file = join(tempDir(t), 'step-000001.jsonl');
  // One block of long rollouts (256 tokens each), written again and again.
  const L = 256;
  const tokens = Array.from({ length: L }, (_, i) => ` tok${i}`);
  const series = (k: number) => Array.from({ length: L }, (_, i) => Math.round(Math.sin(i * k) * 1e6) / 1e6);
  const lines: string[] = [];
  for (let i = 0; i < 64; i++) {
    lines.push(
      JSON.stringify(
        rollout(1, i, {
          tokens,
          response: tokens.join(''),
          logp: { image: series(1), blind: series(2), perturbed: series(3) },
          scores: { S: series(4), G: series(5) },
          mask: series(6).map((x) => (x > 0 ? 1 : 0)),
          tokenAdvantages: series(7),
          perceptual: series(8).map((x) => (x > 0 ? 1 : 0)),
        }),
      ),
    );
  }
  const block = Buffer.from(lines.join('\n') + '\n');
  const fd = openSync(file, 'w');
  let written = 0;
  while (written < 100 * MB) written += writeSync(fd, block);
  closeSync(fd);
  const size = statSync(file).size;
  assert.ok(size >= 100 * MB);

  global.gc?.();
  const base = process.memoryUsage();
  let peakHeap = 0;
  let peakRss = 0;
  let count = 0;
  let tokenSum = 0;
  const issues: string[] = [];
  for await (const r of readJsonl(file, validateRollout, (i) => issues.push(String(i)))) {
    count++;
    tokenSum += r.tokens.length;
    if (count % 500 === 0) {
      const m = process.memoryUsage();
      peakHeap = Math.max(peakHeap, m.heapUsed - base.heapUsed);
      peakRss = Math.max(peakRss, m.rss - base.rss);
    }
  }
  assert.deepEqual(issues, []);
  assert.equal(count, (written / block.length) * 64);
  assert.equal(tokenSum, count * L);
  t.diagnostic(`${(size / MB).toFixed(0)} MB, ${count} rollouts; peak heap +${(peakHeap / MB).toFixed(1)} MB, rss +${(peakRss / MB).toFixed(1)} MB`);
  assert.ok(peakHeap < 40 * MB, `heap grew by ${(peakHeap / MB).toFixed(1)} MB reading a ${(size / MB).toFixed(0)} MB file`);
  assert.ok(peakRss < 60 * MB, `rss grew by ${(peakRss / MB).toFixed(1)} MB reading a ${(size / MB).toFixed(0)} MB file`);
});
