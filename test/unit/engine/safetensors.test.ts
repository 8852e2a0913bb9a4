import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readSafetensors, writeSafetensors } from '../../../src/backend/engine/safetensors';
import { AdamW, clipGradNorm } from '../../../src/backend/engine/adamw';

test('safetensors: round trip with metadata, aligned data, clear errors', () => {
  const a = { name: 'a', shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) };
  const b = { name: 'b.w', shape: [1], data: Float32Array.from([-0.5]) };
  const bytes = writeSafetensors([a, b], { config: '{"x":1}' });
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal((8 + n) % 8, 0, 'data starts 8-byte aligned');
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  assert.deepEqual(header.a, { dtype: 'F32', shape: [2, 3], data_offsets: [0, 24] });
  const { tensors, metadata } = readSafetensors(bytes);
  assert.deepEqual(metadata, { config: '{"x":1}' });
  assert.deepEqual(tensors.get('a')!.data, a.data);
  assert.deepEqual(tensors.get('b.w')!.shape, [1]);
  assert.throws(() => readSafetensors(bytes.subarray(0, 20)), /header length \d+ exceeds the file/);
  assert.throws(() => writeSafetensors([{ name: 'x', shape: [3], data: new Float32Array(2) }]), /x has 2 values for shape \[3\]/);
});

test('AdamW matches the textbook update; clipping scales to the max norm', () => {
  const p = new Map([['w.w', Float32Array.from([1, -2])], ['b', Float32Array.from([0.5])]]);
  const g = new Map([['w.w', Float32Array.from([0.1, -0.3])], ['b', Float32Array.from([2])]]);
  const opt = new AdamW({ lr: 0.1, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 }, (n) => n.endsWith('.w'));
  opt.update(p, g);
  // Step 1: m̂ = g, v̂ = g², so the Adam step is lr·sign(g); decay lr·wd·p on matrices only.
  assert.ok(Math.abs(p.get('w.w')![0] - (1 - 0.1 - 0.01 * 1)) < 1e-6);
  assert.ok(Math.abs(p.get('w.w')![1] - (-2 + 0.1 + 0.01 * 2)) < 1e-6);
  assert.ok(Math.abs(p.get('b')![0] - (0.5 - 0.1)) < 1e-6);
  const gs = [Float32Array.from([3, 0]), Float32Array.from([4])];
  assert.equal(clipGradNorm(gs, 1), 5);
  assert.ok(Math.abs(Math.hypot(gs[0][0], gs[1][0]) - 1) < 1e-5);
});

test('safetensors: a damaged header is refused with a named error, before anything is allocated from it', () => {
  /** A file whose header is `header` (framed with its true length) and `data` bytes after it. */
  const file = (header: unknown, data = 0) => {
    const h = new TextEncoder().encode(JSON.stringify(header));
    const out = new Uint8Array(8 + h.length + data);
    new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
    out.set(h, 8);
    return out;
  };
  const cases: Array<[unknown, RegExp]> = [
    [null, /Error: safetensors: the header is not a JSON object$/],
    [[1, 2], /Error: safetensors: the header is not a JSON object$/],
    [{ a: null }, /Error: safetensors: a is of no dtype \(undefined\); only F32/],
    [{ a: { dtype: 7 } }, /Error: safetensors: a is of no dtype \(number\); only F32/],
    [{ a: { dtype: 'F32', shape: 3, data_offsets: [0, 12] } }, /Error: safetensors: a: shape must be a list of sizes$/],
    [{ a: { dtype: 'F32', shape: [-1], data_offsets: [4, 0] } }, /Error: safetensors: a: shape must be a list of sizes$/],
    [{ a: { dtype: 'F32', shape: [0.5], data_offsets: [0, 2] } }, /Error: safetensors: a: shape must be a list of sizes$/],
    [{ a: { dtype: 'F32', shape: [1], data_offsets: null } }, /Error: safetensors: a: data_offsets must be \[begin, end\]$/],
    // 10^9 values claimed: refused by the file size, not allocated.
    [{ a: { dtype: 'F32', shape: [1000, 1000, 1000], data_offsets: [0, 4e9] } }, /Error: safetensors: a: offsets \[0, 4000000000\] do not fit/],
    [{ __metadata__: 'x' }, /Error: safetensors: __metadata__ must be an object$/],
  ];
  for (const [header, expected] of cases) assert.throws(() => readSafetensors(file(header, 16)), expected, JSON.stringify(header));
});
