// The trajectory view's pure parts: the height estimates of unbuilt blocks, the shared colour ranges, the saved view.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { packRollouts } from '../../../src/core/view/pack';
import { signalDef } from '../../../webview/scales';
import { Group, RolloutRef, StepData, signalHiOf } from '../../../webview/trajectory/model';
import { CHAR_WIDTH_PX, LINE_HEIGHT_PX, cardTextWidth, estimateChunkHeight, estimateGroupHeight } from '../../../webview/trajectory/heights';
import { SignalRanges } from '../../../webview/trajectory/ranges';
import { chooseSignal, restoreView, savedView } from '../../../webview/trajectory/viewState';
import { makeRollout } from '../../fixtures/webviewFixtures';

/** Rollouts of step 1 whose tokens are exactly `texts` (one rollout per entry), in group g0. */
function rollouts(...texts: string[][]): RolloutRef[] {
  const records = texts.map((toks, i) => {
    const r = makeRollout(1, i, 'g0', toks.length, 10 + i);
    r.tokens = toks;
    return r;
  });
  const data = new StepData(1);
  data.add(packRollouts(1, records));
  return data.rollouts;
}

const group = (ros: RolloutRef[], image?: string): Group => ({ key: 'g0', prompt: 'p', image, rollouts: ros });

test('chunk height: wrapped lines of the text at the card width, plus one line per newline', () => {
  const perLine = 40;
  const width = perLine * CHAR_WIDTH_PX + 1; // (+1: 40 × 7.8 is a hair under 312 in floating point)
  const [ro] = rollouts(Array.from({ length: 20 }, () => 'abcd')); // 80 characters: 2 full lines
  assert.equal(estimateChunkHeight(ro, 0, 20, width), 3 * LINE_HEIGHT_PX); // ceil(80/40 + 0 + 1)
  assert.equal(estimateChunkHeight(ro, 0, 5, width), 2 * LINE_HEIGHT_PX); // 20 characters: ceil(0.5 + 1)
  const [nl] = rollouts(['a\n', 'b\n', 'c']);
  assert.equal(estimateChunkHeight(nl, 0, 3, width), 4 * LINE_HEIGHT_PX); // ceil(5/40 + 2 + 1): an estimate errs tall
  // However narrow the card, a line is assumed to hold a few characters (no division by ~0).
  assert.ok(Number.isFinite(estimateChunkHeight(ro, 0, 20, 1)));
  assert.ok(estimateChunkHeight(ro, 0, 20, 1) <= 9 * LINE_HEIGHT_PX);
});

test('card width: ungrouped cards span the list; grouped ones share it in columns beside the image', () => {
  const flat = cardTextWidth(1400, false, 8);
  assert.ok(flat > 1300 && flat < 1400);
  const one = cardTextWidth(1400, true, 1);
  assert.ok(one < flat); // one card: the whole width beside the image
  const eight = cardTextWidth(1400, true, 8);
  const cols = Math.round(one / eight);
  assert.ok(cols >= 2 && cols <= 8, `${cols} columns`);
  // More cards than fit side by side never make a card narrower than the grid allows.
  assert.equal(cardTextWidth(1400, true, 50), eight);
  assert.ok(cardTextWidth(1400, true, 2) > eight);
});

test('group height: rows of the tallest card; a grouped image sets a floor', () => {
  const short = ['a', 'b'];
  const long = Array.from({ length: 200 }, () => 'word ');
  const listWidth = 1400;
  const height = (g: Group, grouped = true): number => estimateGroupHeight(g, grouped, cardTextWidth(listWidth, grouped, g.rollouts.length), listWidth);
  // Two short cards side by side are one row; with a long card beside them, that row is as tall as the long one.
  const [a, b] = rollouts(short, short);
  const [c, d] = rollouts(short, long);
  assert.ok(height(group([a, b])) < height(group([c, d])));
  // Ungrouped, each card is its own row: two cards stack.
  assert.ok(height(group([a, b]), false) > height(group([a]), false));
  // An image panel is taller than a row of short cards: it sets the group's height, only when grouped.
  assert.ok(height(group([a, b], 'img.png')) > height(group([a, b])));
  assert.equal(height(group([a, b], 'img.png'), false), height(group([a, b]), false));
});

test('ranges: the host sends them, missing ones are computed once, live rollouts widen and never narrow', () => {
  const S = signalDef('S');
  const ros = rollouts(['x', 'y', 'z'], ['u', 'v']);
  const ranges = new SignalRanges();
  ranges.reset({ S: 0.5 });
  assert.equal(ranges.hi(S, ros), 0.5);
  // A signal the host sent no range for: computed from the rollouts, then kept.
  const adv = signalDef('advantage');
  const advHi = ranges.hi(adv, ros);
  assert.equal(advHi, signalHiOf(adv, ros));
  assert.equal(ranges.hi(adv, []), advHi);

  // Live rollouts with larger values widen S, and say so when S is the signal shown.
  const big = rollouts(['p', 'q']);
  big[0].batch.fields.S!.fill(10);
  assert.equal(ranges.widen(big, 'S'), true);
  assert.ok(ranges.hi(S, []) > 0.5);
  const wide = ranges.hi(S, []);
  // ...but report nothing when another signal is shown (the range still widens).
  ranges.reset({ S: 0.5 });
  assert.equal(ranges.widen(big, 'rvd'), false);
  assert.equal(ranges.hi(S, []), wide);
  // Smaller values never narrow a range.
  const small = rollouts(['p', 'q']);
  small[0].batch.fields.S!.fill(0.001);
  assert.equal(ranges.widen(small, 'S'), false);
  assert.equal(ranges.hi(S, []), wide);
  // Live rollouts that lack the signal leave its range alone (they once set it to the fallback 1).
  ranges.reset({ S: 0.25 });
  const without = rollouts(['p', 'q']);
  delete without[0].batch.fields.S;
  assert.equal(ranges.widen(without, 'S'), false);
  assert.equal(ranges.hi(S, []), 0.25);
  // A fixed range (RVD is on [0, 1]) is never widened; nothing widens without live rollouts.
  ranges.reset({ rvd: 1 });
  big[0].batch.fields.rvd!.fill(5);
  assert.equal(ranges.widen(big, 'rvd'), false);
  assert.equal(ranges.hi(signalDef('rvd'), []), 1);
  assert.equal(ranges.widen([], 'rvd'), false);
  // A new step starts from the host's ranges again.
  ranges.reset({ S: 0.25 });
  assert.equal(ranges.hi(S, []), 0.25);
});

test('view state: step, signal and filters survive a reload; empty number boxes stay off', () => {
  const state = restoreView({});
  assert.equal(state.signal, 'rvd');
  assert.ok(Number.isNaN(state.filter.minReward) && Number.isNaN(state.filter.threshold));
  state.data = new StepData(7);
  chooseSignal(state, 'tokenAdvantage');
  Object.assign(state.filter, { minReward: 0.5, sort: 'reward-desc', grouped: false, text: 'red' });
  // Saved as JSON by VS Code: NaN would come back as null, so "off" is saved as null explicitly.
  const saved = JSON.parse(JSON.stringify(savedView(state)));
  assert.equal(saved.filter.threshold, null);
  const back = restoreView(saved);
  assert.equal(saved.step, 7);
  assert.equal(back.signal, 'tokenAdvantage');
  assert.equal(back.def, signalDef('tokenAdvantage'));
  assert.equal(back.filter.minReward, 0.5);
  assert.ok(Number.isNaN(back.filter.threshold));
  assert.deepEqual({ ...back.filter, minReward: 0, threshold: 0 }, { ...state.filter, minReward: 0, threshold: 0 });
});

test('a first reply with only the colour in view, plus its details after, is the whole packed batch', async () => {
  const { packDetails } = await import('../../../src/core/view/pack');
  const records = [makeRollout(2, 0, 'g0', 30, 1), makeRollout(2, 1, 'g0', 7, 2), makeRollout(2, 2, 'g1', 12, 3)];
  const whole = packRollouts(2, records);
  const first = packRollouts(2, records, { only: ['rvd'] });
  assert.deepEqual(Object.keys(first.fields), ['rvd']);
  assert.equal(first.tokenIds, undefined);
  assert.equal(first.alternatives, undefined);
  const details = packDetails(records, ['rvd']);
  assert.ok(!('rvd' in details.fields));
  Object.assign(first.fields, details.fields);
  first.tokenIds = details.tokenIds;
  first.alternatives = details.alternatives;
  assert.deepEqual({ ...first, fields: { ...first.fields } }, { ...whole, fields: { ...whole.fields } });
  // Nothing at all (no colour in view) is a batch of texts alone.
  assert.deepEqual(packRollouts(2, records, { only: [] }).fields, {});
});
