// Follow live ends on the last step written, whatever order the final notifications arrive in: a newer step's
// rollouts, or its "steps changed", can arrive while the view is still reading the step before (the run above
// stayed on step 27 or 28 of 30 in two tries).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GetStepRequest } from '../../../src/core/protocol/webview';
import { packRollouts, type PackedRollouts } from '../../../src/core/view/pack';
import { StepLoader } from '../../../webview/trajectory/stepLoader';
import { restoreView } from '../../../webview/trajectory/viewState';
import { makeRollout } from '../../fixtures/webviewFixtures';

// No frames in Node: what runs after a paint (timings) is not part of this test.
(globalThis as { requestAnimationFrame?: (f: () => void) => number }).requestAnimationFrame = () => 0;

const stepOf = (step: number): PackedRollouts => packRollouts(step, [makeRollout(step, 0, 'g0', 5, step), makeRollout(step, 1, 'g0', 5, step + 100)]);

function harness() {
  const state = restoreView({});
  state.follow = true;
  // The host answers each step read when the test says so (the read of a step takes a while).
  const pending = new Map<number, () => void>();
  const ipc = {
    request: (r: unknown, params: { step: number }) => {
      assert.equal(r, GetStepRequest);
      return new Promise((resolve) => pending.set(params.step, () => resolve({ rollouts: stepOf(params.step), issues: [], total: 2, ranges: {} })));
    },
    command: () => undefined,
  };
  const el = { scrollHeight: 0, scrollTop: 0, clientHeight: 0 };
  const noop = () => undefined;
  const loader = new StepLoader({
    ipc: ipc as never,
    state,
    list: { el, relayout: noop, recolour: noop, append: noop } as never,
    toolbar: { updateSignalOptions: noop, updateStepOptions: noop } as never,
    status: { textContent: '' } as never,
    issues: { hidden: true, textContent: '' } as never,
    report: noop,
    renderLegend: noop,
    updateStatus: noop,
    saveState: noop,
    // Every column in the first reply (no details request after it): these tests are about which step opens.
    needsAllColumns: () => true,
  });
  const answer = async (step: number) => {
    pending.get(step)!();
    pending.delete(step);
    await new Promise((r) => setTimeout(r, 5));
  };
  return { state, loader, pending, answer };
}

test('a newer step whose rollouts arrive while the view reads the step before is opened next', async () => {
  const { state, loader, pending, answer } = harness();
  state.steps = [28];
  void loader.load(28);
  // Steps 29 and 30 are written (their rollouts are sent) before the read of 28 is answered.
  loader.onAppended(stepOf(29), Date.now());
  loader.onAppended(stepOf(30), Date.now());
  await answer(28);
  assert.equal(state.data?.step, 28);
  assert.deepEqual([...pending.keys()], [30], 'the newest step is read next, not left in the picker');
  await answer(30);
  assert.equal(state.data?.step, 30);
});

test('a new step announced only by "steps changed" while a read is under way is opened after it', async () => {
  const { state, loader, pending, answer } = harness();
  state.steps = [29];
  void loader.load(29);
  state.steps = [29, 30]; // StepsChangedNotification
  loader.followLatest(); // what the view calls on it: a no-op while a read is under way …
  assert.deepEqual([...pending.keys()], [29]);
  await answer(29); // … and the read's end opens the newest
  assert.deepEqual([...pending.keys()], [30]);
  await answer(30);
  assert.equal(state.data?.step, 30);
  // Not following: a new step does not move the view.
  state.follow = false;
  state.steps = [29, 30, 31];
  loader.followLatest();
  assert.equal(pending.size, 0);
});

test('the legend counts the rollouts of the whole step, not those of its first part', async () => {
  const { legendNote } = await import('../../../webview/trajectory/viewState');
  const state = restoreView({ signal: 'tokenAdvantage' });
  state.data = new (await import('../../../webview/trajectory/model')).StepData(3);
  state.data.add(packRollouts(3, Array.from({ length: 48 }, (_, i) => makeRollout(3, i, `g${i >> 3}`, 4, i))));
  state.expectedTotal = 64;
  assert.equal(legendNote(state), 'range fixed across the 64 rollouts of the step');
});

test('a lone or long rollout is estimated at the full width, and estimates take the measured/estimated factor', async () => {
  const { estimateGroupHeight, cardTextWidth, fullTextWidth, HeightCalibration, LONG_ROLLOUT_TOKENS } = await import('../../../webview/trajectory/heights');
  const { StepData, arrange, defaultFilter } = await import('../../../webview/trajectory/model');
  const { signalDef } = await import('../../../webview/scales');
  const data = new StepData(1);
  data.add(packRollouts(1, [makeRollout(1, 0, 'g0', LONG_ROLLOUT_TOKENS * 4, 1), makeRollout(1, 1, 'g0', 20, 2), makeRollout(1, 2, 'g0', 20, 3)]));
  const [group] = arrange(data.rollouts, { ...defaultFilter(), grouped: true }, signalDef('rvd'));
  const W = 1042;
  const long = data.rollouts[0];
  // The long rollout's own row, at the full width: far shorter than at a third of it (what the grid gave it).
  const narrow = cardTextWidth(W, true, 3);
  const full = fullTextWidth(W, true);
  assert.ok(full > 2 * narrow, `${full} vs ${narrow}`);
  const est = estimateGroupHeight(group, true, narrow, W);
  const { estimateChunkHeight } = await import('../../../webview/trajectory/heights');
  const atFull = estimateChunkHeight(long, 0, LONG_ROLLOUT_TOKENS * 4, full);
  const atNarrow = estimateChunkHeight(long, 0, LONG_ROLLOUT_TOKENS * 4, narrow);
  assert.ok(est < atNarrow && est >= atFull, `group ${est}, long card at full width ${atFull}, at a third ${atNarrow}`);
  // Calibration: a card measured at 1.75× its estimate scales what is not built yet; a re-measure replaces it.
  const cal = new HeightCalibration();
  assert.equal(cal.factor, 1);
  const card = {};
  cal.set(card, 2000, 3500);
  assert.equal(cal.factor, 1.75);
  cal.set(card, 2000, 2000);
  assert.equal(cal.factor, 1);
  cal.set(card, 2000, 0); // emptied
  assert.equal(cal.factor, 1);
});
