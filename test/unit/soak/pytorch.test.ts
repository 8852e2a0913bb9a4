// The short crash soak of the PyTorch backend (the long one: `npm run soak -- --only pytorch`): three kill -9
// of `python -m prpo_studio train`/`resume` on a tiny random-weight Qwen2-VL with a checkpoint every step — the
// third held mid-checkpoint — and a second writer (TypeScript and Python) tried on the live run. Each Python
// start costs 10–30 s on a shared machine, hence three kills here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { havePython, soakPytorch } from '../../soak/pytorch';

test('soak, PyTorch backend: 3 kill -9 (1 mid-checkpoint) lose no checkpoint, never go back, resume each time and go on; a second writer is refused', { skip: !havePython() && 'needs python/ and .toolchain/python' }, async (t) => {
  const tally = await soakPytorch({ kills: 3, seed: 14, log: (l) => t.diagnostic(l) });
  t.diagnostic(JSON.stringify({ ...tally, violations: tally.violations.length }));
  // Every checkpoint matches its manifest, the latest complete one never goes back, metrics have each step once
  // in order, and the final resume completes: each a violation when broken.
  assert.deepEqual(tally.violations, []);
  assert.equal(tally.kills, 3);
  assert.ok(tally.midCheckpoint >= 1, `the stalled kill lands mid-checkpoint (${tally.midCheckpoint} did)`);
  assert.equal(tally.interrupted, 3, 'every kill leaves a run that reads as interrupted');
  assert.equal(tally.resumedAtLatest, 2, 'every resume starts at the latest complete checkpoint');
  assert.equal(tally.progressed, 3, 'every round trains past its starting step before the kill');
  assert.equal(tally.secondWriterRefused, 2, 'a TypeScript RunWriter and a second `resume` are both refused while the writer lives');
  assert.ok(tally.checkpointsVerified >= 3, `${tally.checkpointsVerified} checkpoint reads verified`);
  assert.ok(tally.finalSteps !== undefined, 'the final resume ran to completion');
});
