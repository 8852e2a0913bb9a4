import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CheckpointError, latestCheckpoint, listCheckpoints, readCheckpoint } from '../../../src/core/run/checkpoint';
import { readRun } from '../../../src/core/run/reader';
import { RunWriter } from '../../../src/core/run/writer';
import { newManifest, tempDir } from './helpers';

const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);
const files = (seed: number) => ({
  'weights.safetensors': bytes(4096, seed),
  'optimizer.safetensors': bytes(8192, seed + 1),
  'trainer.json': new TextEncoder().encode(JSON.stringify({ step: seed, rng: [1, 2, 3] })),
});

test('a checkpoint reads back exactly, and the latest complete one is found', (t) => {
  const w = RunWriter.create(tempDir(t), newManifest());
  const p2 = w.writeCheckpoint(2, files(2));
  const p4 = w.writeCheckpoint(4, files(4));
  assert.equal(p4, join(w.dir, 'checkpoints', 'step-000004'));
  const { manifest, files: got } = readCheckpoint(p4);
  assert.equal(manifest.step, 4);
  assert.deepEqual(got, files(4));
  assert.deepEqual(listCheckpoints(w.dir), [
    { step: 2, path: p2, complete: true },
    { step: 4, path: p4, complete: true },
  ]);
  assert.equal(latestCheckpoint(w.dir), p4);
  // Only the finished folders remain: no .tmp-* or .old-*.
  assert.deepEqual(readdirSync(join(w.dir, 'checkpoints')).sort(), ['step-000002', 'step-000004']);
});

test('a leftover .tmp folder (a crash mid-save) is ignored', async (t) => {
  const w = RunWriter.create(tempDir(t), newManifest());
  const p2 = w.writeCheckpoint(2, files(2));
  const tmp = join(w.dir, 'checkpoints', '.tmp-step-000003-999-abcdef');
  mkdirSync(tmp);
  writeFileSync(join(tmp, 'weights.safetensors'), bytes(100, 3));
  assert.equal(latestCheckpoint(w.dir), p2);
  assert.deepEqual((await readRun(w.dir)).checkpoints.map((c) => c.step), [2]);
});

test('a folder without a manifest is listed as incomplete and refused', (t) => {
  const w = RunWriter.create(tempDir(t), newManifest());
  const p2 = w.writeCheckpoint(2, files(2));
  const p3 = join(w.dir, 'checkpoints', 'step-000003');
  mkdirSync(p3);
  writeFileSync(join(p3, 'weights.safetensors'), bytes(10, 1));
  assert.deepEqual(listCheckpoints(w.dir).map((c) => [c.step, c.complete]), [[2, true], [3, false]]);
  assert.equal(latestCheckpoint(w.dir), p2);
  assert.throws(() => readCheckpoint(p3), (e: Error) => e instanceof CheckpointError && /checkpoint step-000003: manifest\.json is missing/.test(e.message));
});

test('a truncated file is refused with the file named', (t) => {
  const w = RunWriter.create(tempDir(t), newManifest());
  const p2 = w.writeCheckpoint(2, files(2));
  const p4 = w.writeCheckpoint(4, files(4));
  truncateSync(join(p4, 'weights.safetensors'), 1200);
  assert.throws(
    () => readCheckpoint(p4),
    (e: Error) => {
      assert.ok(e instanceof CheckpointError);
      assert.equal(e.message, 'checkpoint step-000004: weights.safetensors is truncated (1200 of 4096 bytes) — pick an earlier checkpoint');
      return true;
    },
  );
  assert.equal(listCheckpoints(w.dir)[1].complete, false);
  assert.equal(latestCheckpoint(w.dir), p2);
});

test('a flipped byte is refused with the file named', (t) => {
  const w = RunWriter.create(tempDir(t), newManifest());
  const p = w.writeCheckpoint(4, files(4));
  const f = join(p, 'optimizer.safetensors');
  const data = readFileSync(f);
  data[5000] ^= 0x01;
  writeFileSync(f, data);
  assert.throws(() => readCheckpoint(p), /checkpoint step-000004: optimizer\.safetensors is corrupt \(its sha256 does not match the manifest\)/);
});

test('a missing file and a bad manifest are refused with clear messages', (t) => {
  const w = RunWriter.create(tempDir(t), newManifest());
  const p = w.writeCheckpoint(4, files(4));
  rmSync(join(p, 'trainer.json'));
  assert.throws(() => readCheckpoint(p), /checkpoint step-000004: trainer\.json is missing/);
  writeFileSync(join(p, 'manifest.json'), '{"step": 4, "time": "2026-01-01T00:00:00Z", "files": {"../x": {"bytes": 1, "sha256": "00"}}}');
  assert.throws(() => readCheckpoint(p), /files\.\.\.\/x must be a plain file name/);
  writeFileSync(join(p, 'manifest.json'), '{"step": 4, ');
  assert.throws(() => readCheckpoint(p), /manifest\.json is not valid JSON/);
  assert.throws(() => readCheckpoint(join(w.dir, 'checkpoints', 'step-000099')), /does not exist/);
});

test('re-saving a step replaces the older folder', (t) => {
  const w = RunWriter.create(tempDir(t), newManifest());
  w.writeCheckpoint(4, files(4));
  const p = w.writeCheckpoint(4, { 'weights.safetensors': bytes(10, 9) });
  assert.deepEqual(readCheckpoint(p).files, { 'weights.safetensors': bytes(10, 9) });
  assert.deepEqual(readdirSync(join(w.dir, 'checkpoints')), ['step-000004']);
});

test('bad checkpoint file names are rejected before anything is written', (t) => {
  const w = RunWriter.create(tempDir(t), newManifest());
  assert.throws(() => w.writeCheckpoint(1, { '../evil': bytes(1, 1) }), /plain file name/);
  assert.throws(() => w.writeCheckpoint(1, { 'manifest.json': bytes(1, 1) }), /plain file name/);
  assert.deepEqual(readdirSync(join(w.dir, 'checkpoints')), []);
  assert.equal(existsSync(join(w.dir, 'evil')), false);
});

test('leftovers of a writer that died mid-save are tidied on open; a live writer\'s are left alone', (t) => {
  const w = RunWriter.create(tempDir(t), newManifest());
  w.writeCheckpoint(2, files(2));
  const p3 = w.writeCheckpoint(3, files(3));
  const root = join(w.dir, 'checkpoints');
  const dead = 2 ** 22 + 12345; // above Linux's default pid_max of 2^22: never a live process
  // A dead writer's unfinished save, and its same-step re-save that died between the two renames.
  mkdirSync(join(root, `.tmp-step-000004-${dead}-aa11`));
  renameSync(p3, join(root, `.old-step-000003-${dead}-bb22`));
  // A live writer (this process's parent) at work.
  mkdirSync(join(root, `.tmp-step-000005-${process.ppid}-cc33`));
  RunWriter.open(w.dir);
  assert.deepEqual(readdirSync(root).sort(), [`.tmp-step-000005-${process.ppid}-cc33`, 'step-000002', 'step-000003']);
  assert.deepEqual(readCheckpoint(p3).files, files(3));
});
