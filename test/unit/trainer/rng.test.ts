// The serializable PRNG: independent named streams, exact state round trip, sane normals.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../../src/backend/rng';
import { mildNoise, perturbPatches } from '../../../src/backend/trainer/views';

test('a restored state continues the same stream; names give different streams', () => {
  const a = new Rng(7, 'sampling');
  for (let i = 0; i < 100; i++) a.next();
  const b = Rng.fromState(JSON.parse(JSON.stringify(a.state())));
  assert.deepEqual(Array.from({ length: 50 }, () => a.nextU32()), Array.from({ length: 50 }, () => b.nextU32()));
  assert.notEqual(new Rng(7, 'data').nextU32(), new Rng(7, 'sampling').nextU32());
  assert.throws(() => Rng.fromState({ s: [1, 2, 3] as unknown as [number, number, number, number] }), /invalid RNG state/);
});

test('normals have mean 0 and variance 1; the views stay in [0, 1] and blacken whole patches', () => {
  const z = new Rng(1).fillNormal(new Float32Array(100001));
  const mean = z.reduce((s, x) => s + x, 0) / z.length;
  const variance = z.reduce((s, x) => s + x * x, 0) / z.length;
  assert.ok(Math.abs(mean) < 0.02 && Math.abs(variance - 1) < 0.02, `${mean} ${variance}`);
  const img = new Float32Array(3 * 32 * 32).fill(0.95);
  const mild = mildNoise(img, 0.1, new Rng(2));
  assert.ok(mild.every((v) => v >= 0 && v <= 1) && mild.some((v) => v === 1));
  const p = perturbPatches(img, 32, 3, 8, 0.5, new Rng(3));
  for (let py = 0; py < 4; py++) {
    for (let px = 0; px < 4; px++) {
      const vals = new Set<number>();
      for (let c = 0; c < 3; c++) for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) vals.add(p[c * 1024 + (py * 8 + y) * 32 + px * 8 + x]);
      assert.equal(vals.size, 1, 'a patch is kept or zeroed as a whole');
    }
  }
});
