// The study's SVG figures: one band and one line per series, escaped labels, the forest plot's zero line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { forestPlot, lineChart } from '../../../src/core/study/svg';

test('lineChart draws a CI band and a line per series, and escapes labels', () => {
  const svg = lineChart('acc <t>', 'step', 'accuracy', [
    { label: 'a & b', points: [{ x: 0, y: 0.4, lo: 0.3, hi: 0.5 }, { x: 10, y: 0.5, lo: 0.45, hi: 0.55 }] },
    { label: 'c', points: [{ x: 0, y: 0.2 }, { x: 10, y: 0.25 }] },
  ]);
  assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.equal((svg.match(/<polygon /g) ?? []).length, 1, 'only the series with a band gets one');
  assert.equal((svg.match(/<polyline /g) ?? []).length, 2);
  assert.ok(svg.includes('a &amp; b') && svg.includes('acc &lt;t&gt;'));
  assert.ok(!svg.includes('NaN'));
});

test('forestPlot: a row per interval with its mean, and a dashed zero line', () => {
  const svg = forestPlot('Δ', 'Δ acc', [{ label: 'x', mean: 0.02, lo: -0.01, hi: 0.05, note: 'p 0.3' }, { label: 'y', mean: NaN, lo: NaN, hi: NaN }]);
  assert.equal((svg.match(/<circle /g) ?? []).length, 1, 'no point for an undefined interval');
  assert.ok(svg.includes('stroke-dasharray'));
  assert.ok(svg.includes('p 0.3'));
  assert.ok(!svg.includes('NaN'));
});
