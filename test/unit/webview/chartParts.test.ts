// The charts view's pure parts: the run chip agrees with the explorer, unreadable metrics lines are named, and
// the grid stays quiet in high-contrast themes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gridColour, metricsIssuesText, runChipText, withAlpha } from '../../../webview/charts/parts';
import { issuesSummary } from '../../../src/core/run/lines';
import type { MetricsRow } from '../../../src/core/run/schema';

const rows = (from: number, to: number): MetricsRow[] => Array.from({ length: to - from + 1 }, (_, i) => ({ step: from + i, reward: 0.5 }));

test('the chip says the last step as the explorer does, not the number of rows (a step-0 row made "61 steps")', () => {
  assert.equal(runChipText({ algorithm: 'prpo', status: 'completed', rows: rows(0, 60) }), ' PRPO-R · completed · step 60');
  assert.equal(runChipText({ algorithm: 'grpo', status: 'running', rows: [] }), ' GRPO · running · no steps yet');
});

test('unreadable metrics lines are named file:line: reason, the first three, with how many more', () => {
  const one = ['/runs/a/metrics.jsonl:5: not JSON (Unexpected token o)'];
  assert.equal(metricsIssuesText([{ name: 'a', issues: one }]), '1 problem reading metrics.jsonl: /runs/a/metrics.jsonl:5: not JSON (Unexpected token o); the other rows are drawn.');
  assert.equal(metricsIssuesText([{ name: 'a', issues: [] }]), '');
  const five = [1, 2, 3, 4, 5].map((l) => `m.jsonl:${l}: bad`);
  assert.equal(issuesSummary(five, 'metrics.jsonl'), '5 problems reading metrics.jsonl: m.jsonl:1: bad · m.jsonl:2: bad · m.jsonl:3: bad · and 2 more');
  // Two runs overlaid: each banner line says which run; a hostile name is made visible.
  const two = metricsIssuesText([{ name: 'ok', issues: [] }, { name: 'b\u202Ead', issues: one }]);
  assert.match(two, /^b⟨U\+202E⟩ad: 1 problem reading metrics\.jsonl: /);
});

test('high-contrast themes get a subdued grid (the foreground at a quarter), others keep the widget border', () => {
  assert.equal(gridColour('#ffffff', '#6fc3df', true), 'rgba(255, 255, 255, 0.25)');
  assert.equal(gridColour('#292929', '#0f4a85', true), 'rgba(41, 41, 41, 0.25)');
  assert.equal(gridColour('#cccccc', '#454545', false), '#454545');
  assert.equal(gridColour('#ccc', undefined, false), 'rgba(204, 204, 204, 0.35)');
  assert.equal(withAlpha('rgb(1, 2, 3)', 0.5), 'rgba(1, 2, 3, 0.5)');
  assert.equal(withAlpha('var(--x)', 0.5), undefined);
});
