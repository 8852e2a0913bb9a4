// The charts view's pure parts: the run chip agrees with the explorer, unreadable metrics lines are named, and
// the grid stays quiet in high-contrast themes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bandTooltip, gridColour, groupChipText, metricsIssuesText, runChipText, withAlpha } from '../../../webview/charts/parts';
import { issuesSummary } from '../../../src/core/run/lines';
import type { MetricsRow } from '../../../src/core/run/schema';

const rows = (from: number, to: number): MetricsRow[] => Array.from({ length: to - from + 1 }, (_, i) => ({ step: from + i, reward: 0.5 }));

test('the chip says the last step as the explorer does, not the number of rows (a step-0 row made "61 steps")', () => {
  assert.equal(runChipText({ algorithm: 'prpo', status: 'completed', rows: rows(0, 60) }), ' PRPO-R · completed · step 60');
  assert.equal(runChipText({ algorithm: 'grpo', status: 'running', rows: [] }), ' GRPO · running · no steps yet');
});

test('a group\'s chip says how many runs and their last step (a range when they stopped apart); one run has no band', () => {
  assert.equal(groupChipText([{ rows: rows(1, 8) }, { rows: rows(1, 8) }, { rows: rows(1, 8) }]), ' 3 runs · step 8');
  assert.equal(groupChipText([{ rows: rows(1, 6) }, { rows: rows(1, 8) }]), ' 2 runs · steps 6–8');
  assert.equal(groupChipText([{ rows: rows(1, 4) }]), ' 1 run · no band · step 4');
  assert.equal(groupChipText([{ rows: [] }, { rows: [] }]), ' 2 runs · no steps yet');
});

test('the hover over a group\'s mean says the half-width of the 95 % CI and n at that step, or that n = 1 has no band', () => {
  assert.equal(bandTooltip('dapo (n=3) · reward', { x: 40, y: 0.5, n: 3, lo: 0.4, hi: 0.6 }), 'dapo (n=3) · reward: 0.500 ± 0.100 (95 % CI, n=3 at step 40)');
  assert.equal(bandTooltip('dapo (n=3)', { x: 8, y: 0.25, n: 1, lo: NaN, hi: NaN }), 'dapo (n=3): 0.250 (n=1 at step 8: no band)');
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

test('token text keeps ≥ 4.5:1 on every bin of every scale in the stock themes (Dark Modern orange was 3.45:1)', async () => {
  const { BINS, binShare, binTextColour, scaleCss } = await import('../../../webview/scales');
  const { DIVERGING } = await import('../../../src/core/view/signals');
  const hex = (h: string) => [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16));
  const lin = (c: number) => ((c /= 255) <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
  const lum = (c: number[]) => 0.2126 * lin(c[0]) + 0.7152 * lin(c[1]) + 0.0722 * lin(c[2]);
  const ratio = (a: number[], b: number[]) => (Math.max(lum(a), lum(b)) + 0.05) / (Math.min(lum(a), lum(b)) + 0.05);
  const VIRIDIS = ['#482878', '#3e4989', '#31688e', '#26828e', '#1f9e89', '#35b779', '#6ece58', '#fde725'];
  const css = scaleCss();
  for (const v of VIRIDIS) assert.ok(css.includes(v), 'the test uses the scale the CSS uses');
  const themes: Array<[string, string, string, 'dark' | 'light' | 'hc-dark' | 'hc-light']> = [
    ['Dark Modern', '#1f1f1f', '#cccccc', 'dark'], ['Dark+', '#1e1e1e', '#d4d4d4', 'dark'], ['Light Modern', '#ffffff', '#3b3b3b', 'light'],
    ['Light+', '#ffffff', '#000000', 'light'], ['High Contrast', '#000000', '#ffffff', 'hc-dark'], ['High Contrast Light', '#ffffff', '#292929', 'hc-light'],
  ];
  for (const [name, bg, fg, theme] of themes) {
    const dark = theme === 'dark' || theme === 'hc-dark';
    for (let b = 1; b <= BINS; b++) {
      const share = binShare(b, theme) / 100;
      const scales = { dp: DIVERGING.positive, dn: DIVERGING.negative, s: dark ? VIRIDIS[b - 1] : VIRIDIS[BINS - b] } as const;
      for (const [k, c] of Object.entries(scales) as Array<['dp' | 'dn' | 's', string]>) {
        const cell = hex(c).map((x, i) => share * x + (1 - share) * hex(bg)[i]);
        const text = binTextColour(k, b, theme) ?? fg;
        const r = ratio(cell, hex(text));
        assert.ok(r >= 4.5, `${name}: ${k}${b} text ${text} at ${r.toFixed(2)}:1`);
        if (binTextColour(k, b, theme)) assert.ok(css.includes(`.${k}${b}`) && css.includes(`color: ${text}`), `${k}${b} in the CSS`);
      }
    }
  }
});

test('high-contrast themes: each bin of every scale stands apart from the one below (bin 1 from the background)', async () => {
  // At the ordinary 12–70 % shares, viridis' lower bins on pure black were one near-black shade (bin 1 at
  // 1.04:1 from the background): HC themes take the scale up to the pure colour.
  const { BINS, binColour, binShare, contrastRatio } = await import('../../../webview/scales');
  for (const [theme, bg] of [['hc-dark', [0, 0, 0]], ['hc-light', [255, 255, 255]]] as const) {
    assert.equal(binShare(BINS, theme), 100, `${theme}: the strongest bin is the pure colour`);
    for (const kind of ['s', 'dp', 'dn'] as const) {
      let below: number[] = [...bg];
      for (let b = 1; b <= BINS; b++) {
        const c = binColour(kind, b, theme, theme === 'hc-dark' ? '#000000' : '#ffffff');
        assert.ok(contrastRatio(c, below) >= 1.07, `${theme} ${kind}${b}: ${contrastRatio(c, below).toFixed(3)}:1 from the bin below`);
        below = c;
      }
    }
  }
});
