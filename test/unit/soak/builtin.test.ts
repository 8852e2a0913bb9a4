// The short crash soak of the built-in backend (the long one: `npm run soak`): four kill -9 of the serve
// child with a checkpoint every step, two of them held mid-checkpoint, and a second writer tried twice.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { soakBuiltin } from '../../soak/builtin';
import { tempDir } from '../trainer/helpers';
import { ensureCliBuilt } from '../cliBuild';

const haveBuild = ensureCliBuilt();

test('soak: 4 kill -9 (2 mid-checkpoint) lose no checkpoint, never go back, resume each time; a second writer is refused', { skip: !haveBuild && 'needs npm run build' }, async (t) => {
  const tally = await soakBuiltin({ kills: 4, runsDir: tempDir(), seed: 14, stallEvery: 2, log: (l) => t.diagnostic(l) });
  t.diagnostic(JSON.stringify({ ...tally, violations: tally.violations.length }));
  assert.deepEqual(tally.violations, []);
  assert.equal(tally.kills, 4);
  assert.ok(tally.midCheckpoint >= 2, `the two stalled kills land mid-checkpoint (${tally.midCheckpoint} did)`);
  assert.equal(tally.interrupted, 4, 'every kill leaves a run that reads as interrupted');
  assert.equal(tally.resumedAtLatest, 3, 'every resume starts at the latest complete checkpoint');
  assert.ok(tally.progressed >= 2, `the resumed writer trains on (${tally.progressed} of 4 rounds got past their starting step before the kill)`);
  assert.equal(tally.secondWriterRefused, 2, 'RunWriter.open and a second backend are both refused while the writer lives');
  assert.ok(tally.checkpointsVerified >= 4, `${tally.checkpointsVerified} checkpoint reads verified`);
  assert.ok(tally.finalSteps !== undefined);
});
