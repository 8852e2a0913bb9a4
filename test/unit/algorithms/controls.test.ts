// The study's controls (oracle, random) against an independent reading of §4's PAR, and the §5 keys.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InputError, computeAdvantages, resolveConfig, randomSetLike, viewsFor, type RolloutInput } from '../../../src/core/algorithms';

/** Independent PAR on a 0/1 set: w = 1 + β where the set holds (RVD 1 > τ), else 1; Ã = A·w. */
function parOnSet(A: number, set: ArrayLike<number>, beta: number): number[] {
  return Array.from(set, (s) => A * (s > 0.5 ? 1 + beta : 1));
}

const rollouts = (): RolloutInput[] => [
  { id: 'a', group: 'g', reward: 1, logp: { image: [-0.1, -0.2, -0.3, -0.4, -0.5] }, labels: [0, 1, 1, 0, 0] },
  { id: 'b', group: 'g', reward: 0, logp: { image: [-0.5, -0.6, -0.7] }, labels: [1, 0, 0] },
  { id: 'c', group: 'g', reward: 0.1, logp: { image: [-0.2, -0.2, -0.2, -0.2] }, labels: [0, 0, 0, 0] },
];

test('oracle: PAR with RVD := the ground-truth flags, no probe view', () => {
  const config = resolveConfig('prpo', { estimator: 'oracle' });
  assert.deepEqual(viewsFor(config).views, ['image']);
  const rs = rollouts();
  const out = computeAdvantages(config, rs);
  out.forEach((o, i) => {
    const want = parOnSet(o.advantage, rs[i].labels!, config.beta);
    o.tokenAdvantages.forEach((v, t) => assert.ok(Math.abs(v - want[t]) < 1e-12, `${o.id}[${t}]`));
  });
  assert.ok(out[0].advantage > 0 && out[1].advantage < 0, 'outcome advantages from §1');
});

test('random: a set of the ground truth\'s size per response, reproducible, PAR on it', () => {
  const config = resolveConfig('prpo', { estimator: 'random' });
  const rs = rollouts();
  const a = computeAdvantages(config, rs);
  const b = computeAdvantages(config, rollouts());
  assert.deepEqual(a, b, 'the same rollouts draw the same sets');
  a.forEach((o, i) => {
    const set = o.scores!.rvd!;
    assert.equal(set.reduce((x, y) => x + y, 0), Array.from(rs[i].labels!).reduce((x, y) => x + y, 0), `${o.id}: same size`);
    const want = parOnSet(o.advantage, set, config.beta);
    o.tokenAdvantages.forEach((v, t) => assert.ok(Math.abs(v - want[t]) < 1e-12));
  });
  // Over many draws every position is chosen about equally often (uniform): 2 of 10, 5000 draws.
  const counts = new Array(10).fill(0);
  for (let s = 0; s < 5000; s++) randomSetLike([1, 1, 0, 0, 0, 0, 0, 0, 0, 0], s * 7919 + 1).forEach((x, t) => (counts[t] += x));
  for (const c of counts) assert.ok(Math.abs(c / 5000 - 0.2) < 0.03, `position share ${c / 5000}`);
});

test('the controls say when labels are missing or of the wrong length', () => {
  for (const estimator of ['oracle', 'random']) {
    const config = resolveConfig('prpo', { estimator });
    assert.throws(() => computeAdvantages(config, [{ id: 'x', group: 'g', reward: 1, logp: { image: [-1, -1] } }]), (e: Error) => e instanceof InputError && /labels are missing/.test(e.message));
    assert.throws(() => computeAdvantages(config, [{ id: 'x', group: 'g', reward: 1, logp: { image: [-1, -1] }, labels: [1] }]), /labels has 1 entries/);
  }
});
