// Pure logic of the webviews: escaping of untrusted text, colour scales, filters/sort/grouping, packing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { displaySegments, displayString, isPlain, codepointEscape } from '../../../webview/text';
import { SIGNALS, binClass, scaleHi, signalDef, scaleCss, aboveThreshold, BINS } from '../../../webview/scales';
import { StepData, arrange, defaultFilter, isCorrect, signalHiOf, textMatches, passes, alternatives, tokenText } from '../../../webview/trajectory/model';
import { packRollouts, TOKEN_FIELDS } from '../../../src/core/view/pack';
import { makeRollout, makeStep, HOSTILE_TOKENS } from '../../fixtures/webviewFixtures';

test('plain tokens pass through; markup stays text', () => {
  for (const s of ['hello', ' world', '<img src=x onerror=alert(1)>', '</script>', '&amp;', '\t']) {
    assert.deepEqual(displaySegments(s), [{ text: s, kind: 'plain' }]);
    assert.ok(isPlain(s));
  }
});

test('bidi overrides, isolates and controls become visible escapes', () => {
  assert.equal(displayString('\u202Eevil\u202C'), '⟨U+202E⟩evil⟨U+202C⟩');
  assert.equal(displayString('a\u2066b\u2069'), 'a⟨U+2066⟩b⟨U+2069⟩');
  assert.equal(displayString('\u200E\u200F\u061C'), '⟨U+200E⟩⟨U+200F⟩⟨U+061C⟩');
  assert.equal(displayString('\u0000\u0007\u001b[31m'), '⟨U+0000⟩⟨U+0007⟩⟨U+001B⟩[31m');
  assert.equal(displayString('\u007f\u0085\u200B\uFEFF\u00AD'), '⟨U+007F⟩⟨U+0085⟩⟨U+200B⟩⟨U+FEFF⟩⟨U+00AD⟩');
  assert.equal(displayString('\u2028\u2029'), '⟨U+2028⟩⟨U+2029⟩');
  // Unicode tag characters (invisible "ASCII smuggling") and lone surrogates.
  assert.equal(displayString('x\u{E0041}'), 'x⟨U+E0041⟩');
  assert.equal(displayString('a\uD800b'), 'a⟨U+D800⟩b');
  assert.equal(displayString('\uDC00'), '⟨U+DC00⟩');
  // A real surrogate pair (emoji) is fine.
  assert.ok(isPlain('😀'));
  assert.equal(codepointEscape(0x202e), '⟨U+202E⟩');
  for (const s of HOSTILE_TOKENS) for (const g of displaySegments(s)) if (g.kind === 'plain' && g.text !== '\n') assert.ok(!/[\u202A-\u202E\u2066-\u2069\u0000-\u0008\u000b-\u001f]/.test(g.text), JSON.stringify(s));
});

test('newline is a visible mark and a line break; empty token is ∅', () => {
  assert.deepEqual(displaySegments('a\nb'), [
    { text: 'a', kind: 'plain' },
    { text: '↵', kind: 'mark' },
    { text: '\n', kind: 'plain' },
    { text: 'b', kind: 'plain' },
  ]);
  assert.deepEqual(displaySegments(''), [{ text: '∅', kind: 'mark' }]);
  assert.equal(displayString('\r\n'), '⟨U+000D⟩↵ ');
});

test('sequential scale: 0 is uncoloured, hi is the top bin, NaN is marked', () => {
  const rvd = signalDef('rvd');
  assert.equal(scaleHi(rvd, [new Float32Array([0.1, 0.2])]), 1); // fixed by definition
  assert.equal(binClass(rvd, 1, 0), '');
  assert.equal(binClass(rvd, 1, 1), `s${BINS}`);
  assert.equal(binClass(rvd, 1, 5), `s${BINS}`); // clamped
  assert.equal(binClass(rvd, 1, 0.5), `s${BINS / 2}`);
  assert.equal(binClass(rvd, 1, NaN), 'na');
});

test('diverging scale: zero at the background, symmetric, centre 1 for weights', () => {
  const adv = signalDef('tokenAdvantage');
  assert.equal(binClass(adv, 2, 0), '');
  assert.equal(binClass(adv, 2, 2), 'dp8');
  assert.equal(binClass(adv, 2, -2), 'dn8');
  assert.equal(binClass(adv, 2, -1), 'dn4');
  const w = signalDef('weight');
  assert.equal(binClass(w, 1, 1), '');
  assert.equal(binClass(w, 1, 2), 'dp8');
  assert.equal(binClass(w, 1, 0.5), 'dn4');
  assert.ok(aboveThreshold(adv, -1.5, 1));
  assert.ok(!aboveThreshold(adv, 0.5, 1));
});

test('shared range: robust to one outlier, symmetric for diverging', () => {
  const vals = new Float32Array(1000).map((_, i) => (i % 2 ? 1 : -1) * (i / 1000));
  vals[3] = 500;
  const hi = scaleHi(signalDef('tokenAdvantage'), [vals]);
  assert.ok(hi < 2 && hi > 0.9, String(hi));
  assert.equal(scaleHi(signalDef('S'), [new Float32Array([NaN, NaN])]), 1);
  assert.equal(binClass(signalDef('mask'), 1, 1), 'b1');
  assert.equal(binClass(signalDef('mask'), 1, 0), '');
});

test('scale CSS mixes every colour with the editor background and covers all bins', () => {
  const css = scaleCss();
  for (let b = 1; b <= BINS; b++) for (const p of ['s', 'dp', 'dn']) assert.match(css, new RegExp(`\\.${p}${b} \\{ background-color: color-mix\\(in srgb, var\\(--[a-z-0-9]+\\) \\d+%, var\\(--vscode-editor-background\\)\\)`));
  assert.match(css, /vscode-high-contrast/);
  assert.ok(SIGNALS.every((s) => s.kind === 'none' || s.low && s.high));
});

test('packing: columns line up with the records; alternatives round-trip', () => {
  const rs = [makeRollout(3, 0, 'g0', 17, 1), makeRollout(3, 1, 'g0', 9, 2)];
  rs[1].mask = undefined;
  const p = packRollouts(3, rs);
  assert.equal(p.tokenStart[2], 26);
  assert.ok(p.fields.tokenAdvantage instanceof Float32Array);
  for (const f of Object.keys(p.fields)) assert.ok((TOKEN_FIELDS as readonly string[]).includes(f));
  const data = new StepData(3);
  data.add(p);
  const [a, b] = data.rollouts;
  assert.equal(tokenText(b, 4), rs[1].tokens[4]);
  assert.ok(Math.abs(p.fields.rvd![b.start + 2] - rs[1].scores!.rvd![2]) < 1e-6);
  assert.ok(Number.isNaN(p.fields.mask![b.start]));
  assert.deepEqual(alternatives(a, 3).map(([t]) => t), rs[0].topAlternatives![3].map(([t]) => t));
  assert.deepEqual(alternatives(a, 1), []);
  // Duplicates (a live append of a rollout the step read already has) are skipped.
  assert.equal(data.add(packRollouts(3, [rs[0]])).length, 0);
});

test('filters, sort and grouping', () => {
  const records = makeStep(1, 24, 8, 40, 3);
  const data = new StepData(1);
  data.add(packRollouts(1, records));
  const def = signalDef('rvd');
  const all = arrange(data.rollouts, defaultFilter(), def);
  assert.equal(all.length, 3);
  assert.ok(all.every((g) => g.rollouts.length === 8));
  const ids = (groups: ReturnType<typeof arrange>) => groups.flatMap((g) => g.rollouts.map((r) => r.meta.id)).sort();
  // Each filter keeps exactly the rollouts the records say it should (computed here from the records, not
  // with the filter's own code), and each keeps some but not all of them, so no check below is vacuous.
  const expect = (keep: (r: (typeof records)[number]) => boolean) => {
    const kept = records.filter(keep).map((r) => r.id).sort();
    assert.ok(kept.length > 0 && kept.length < records.length, `the fixture exercises the filter (${kept.length} of ${records.length})`);
    return kept;
  };
  assert.deepEqual(ids(arrange(data.rollouts, { ...defaultFilter(), correctness: 'correct' }, def)), expect((r) => r.correct === true));
  assert.deepEqual(ids(arrange(data.rollouts, { ...defaultFilter(), correctness: 'incorrect' }, def)), expect((r) => r.correct === false));
  const neg = arrange(data.rollouts, { ...defaultFilter(), advantageSign: 'negative', grouped: false }, def);
  assert.ok(neg.every((g) => g.rollouts.length === 1));
  assert.deepEqual(ids(neg), expect((r) => r.advantage < -1e-9));
  assert.deepEqual(ids(arrange(data.rollouts, { ...defaultFilter(), advantageSign: 'positive' }, def)), expect((r) => r.advantage > 1e-9));
  const byReward = arrange(data.rollouts, { ...defaultFilter(), sort: 'reward-desc', grouped: false }, def).map((g) => g.rollouts[0].meta.reward);
  assert.equal(byReward.length, records.length);
  assert.deepEqual(byReward, [...byReward].sort((x, y) => y - x));
  // Threshold on RVD: rollouts with at least one token at or above it (as stored: float32).
  const t = 0.9;
  assert.deepEqual(ids(arrange(data.rollouts, { ...defaultFilter(), threshold: t }, def)), expect((r) => r.scores!.rvd!.some((v) => Math.fround(v) >= t)));
  const none = arrange(data.rollouts, { ...defaultFilter(), text: 'no such text anywhere' }, def);
  assert.equal(none.length, 0);
});

test('text search finds the tokens a match overlaps, across token boundaries', () => {
  const data = new StepData(1);
  const r = makeRollout(1, 0, 'g', 5, 1);
  r.tokens = ['The', ' red', ' cir', 'cle', '.'];
  data.add(packRollouts(1, [r]));
  const ro = data.rollouts[0];
  assert.deepEqual(textMatches(ro, 'circle'), [2, 3]);
  assert.deepEqual(textMatches(ro, 'RED C'), [1, 2]);
  assert.deepEqual(textMatches(ro, 'zzz'), []);
  assert.ok(passes(ro, { ...defaultFilter(), text: 'd cir' }, signalDef('none')));
});

test('ranges are one function: over the records of a step (host) and over its packed batches (webview) they agree', async () => {
  const { stepRanges } = await import('../../../src/core/view/signals');
  const rs = makeStep(2, 40, 8, 60, 9);
  const ranges = stepRanges(rs);
  // The webview holds the step as several batches (the first part, then the rest).
  const data = new StepData(2);
  data.add(packRollouts(2, rs.slice(0, 16)));
  data.add(packRollouts(2, rs.slice(16)));
  const ids = SIGNALS.filter((s) => s.kind !== 'none').map((s) => s.id);
  assert.ok(ids.length >= 8);
  for (const id of ids) {
    const fromColumns = signalHiOf(signalDef(id), data.rollouts);
    if (ranges[id] === undefined) continue;
    assert.ok(Math.abs(ranges[id]! - fromColumns) <= 1e-3 * Math.max(1, fromColumns), `${id}: ${ranges[id]} vs ${fromColumns}`);
  }
  assert.equal(ranges.rvd, 1);
  assert.ok(ranges.advantage! > 0 && ranges.tokenAdvantage! > 0 && ranges.weight! > 0);
});

test('correctness is what the trainer recorded: a format-only reward is not a correct answer', () => {
  const data = new StepData(1);
  const formatOnly = { ...makeRollout(1, 0, 'g', 5, 1), reward: 0.1, correct: undefined };
  const wrong = { ...makeRollout(1, 1, 'g', 5, 2), reward: 0.1, correct: false };
  const right = { ...makeRollout(1, 2, 'g', 5, 3), reward: 1.1, correct: true };
  data.add(packRollouts(1, [formatOnly, wrong, right]));
  const [a, b, c] = data.rollouts;
  assert.equal(isCorrect(a.meta), undefined);
  const kept = (correctness: 'correct' | 'incorrect') => data.rollouts.filter((ro) => passes(ro, { ...defaultFilter(), correctness }, signalDef('none')));
  assert.deepEqual(kept('correct'), [c]);
  assert.deepEqual(kept('incorrect'), [b]);
});
