// The charts with 100,000 metrics rows (issue #14): what a line draws is bounded by the plot's width, keeps every
// extreme, and is made only of real rows (so a hover names a row that is in the file).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decimateMinMax } from '../../../src/core/view/decimate';
import { mulberry32 } from '../../../src/core/random';

test('100,000 rows in, at most 4 points per pixel column out, extremes and ends kept, each a real row', () => {
  const rand = mulberry32(14);
  const rows = Array.from({ length: 100_000 }, (_, i) => ({ x: i + 1, y: Math.sin(i / 500) + (rand() - 0.5) * 0.1, row: i }));
  rows[31_337].y = 50; // a spike
  rows[77_001].y = -50; // a dip
  for (const columns of [100, 640, 1920]) {
    const out = decimateMinMax(rows, columns);
    assert.ok(out.length <= 4 * columns, `${out.length} points for ${columns} columns`);
    assert.ok(out.length >= columns, `every column drawn (${out.length} for ${columns})`);
    assert.equal(out[0], rows[0]);
    assert.equal(out.at(-1), rows.at(-1));
    assert.ok(out.includes(rows[31_337]) && out.includes(rows[77_001]), 'the spike and the dip are drawn');
    for (let i = 0; i < out.length; i++) {
      assert.equal(out[i], rows[out[i].row], 'a real row, unchanged');
      if (i) assert.ok(out[i].x > out[i - 1].x, 'in step order, each once');
    }
    // Each column's lowest and highest row is drawn: the line covers the same pixels as all the rows would.
    const perColumn = new Map<number, { min: number; max: number }>();
    for (const r of rows) {
      const c = Math.min(columns - 1, Math.floor(((r.x - 1) * columns) / (rows.length - 1)));
      const m = perColumn.get(c) ?? { min: Infinity, max: -Infinity };
      perColumn.set(c, { min: Math.min(m.min, r.y), max: Math.max(m.max, r.y) });
    }
    const drawn = new Set(out.map((p) => p.y));
    for (const [c, { min, max }] of perColumn) assert.ok(drawn.has(min) && drawn.has(max), `column ${c}`);
  }
});

test('a short series is drawn whole; odd inputs stay bounded', () => {
  const few = Array.from({ length: 300 }, (_, i) => ({ x: i, y: i % 7 }));
  assert.equal(decimateMinMax(few, 100), few);
  assert.deepEqual(decimateMinMax([], 100), []);
  // Every row at one step (a run that restarted at step 0 many times): one column, at most 4 points.
  const same = Array.from({ length: 10_000 }, (_, i) => ({ x: 0, y: i % 13 }));
  const out = decimateMinMax(same, 100);
  // The first row (also the lowest), the highest (row 12) and the last (row 9,999).
  assert.deepEqual(out, [same[0], same[12], same[9_999]]);
  // Gaps (steps without the metric) leave empty columns; still at most 4 per column.
  const gappy = Array.from({ length: 50_000 }, (_, i) => ({ x: i < 25_000 ? i : i + 1_000_000, y: i }));
  assert.ok(decimateMinMax(gappy, 500).length <= 2_000);
  assert.ok(decimateMinMax(few, 0).length <= 4, 'no columns: one');
});
