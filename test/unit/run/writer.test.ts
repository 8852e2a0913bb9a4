import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { readMetrics, readRun } from '../../../src/core/run/reader';
import { crc32, encodePng } from '../../../src/core/run/png';
import { RunBusyError, RunWriter, appendFailure, newRunId } from '../../../src/core/run/writer';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, writeFileSync } from 'node:fs';
import { newManifest, rollout, tempDir } from './helpers';

test('run ids are <preset>-<yyyymmdd-hhmmss>-<4 hex>', () => {
  const id = newRunId('prpo', new Date(Date.UTC(2026, 10, 22, 3, 4, 5)));
  assert.match(id, /^prpo-20261122-030405-[0-9a-f]{4}$/);
});

test('create writes run.json and the folders; ids do not collide', (t) => {
  const root = tempDir(t);
  const ids = new Set<string>();
  for (let i = 0; i < 30; i++) ids.add(RunWriter.create(root, newManifest()).manifest.id);
  assert.equal(ids.size, 30);
  const w = RunWriter.create(root, newManifest({ id: 'my-run' }));
  assert.equal(w.dir, join(root, 'my-run'));
  assert.deepEqual(readdirSync(w.dir).sort(), ['checkpoints', 'images', 'rollouts', 'run.json', 'writer.lock']);
  const json = JSON.parse(readFileSync(join(w.dir, 'run.json'), 'utf8'));
  assert.deepEqual(Object.keys(json).slice(0, 3), ['schema', 'id', 'created']);
  assert.equal(json.schema, 'prpo-studio/run@1');
  assert.throws(() => RunWriter.create(root, newManifest({ id: 'my-run' })), /A run named my-run already exists/);
});

test('create refuses an invalid manifest', (t) => {
  assert.throws(() => RunWriter.create(tempDir(t), newManifest({ algorithm: 'ppo' as never })), /algorithm must be one of grpo, dapo, vppo, pgpo, prpo, got string "ppo"/);
});

test('open appends to an existing run; updateManifest keeps id, schema and created', async (t) => {
  const w = RunWriter.create(tempDir(t), newManifest({ steps: 10 }));
  w.appendMetrics({ step: 1, reward: 0.1 });
  const again = RunWriter.open(w.dir);
  again.appendMetrics({ step: 2, reward: 0.2 });
  const m = again.updateManifest({ steps: 20, id: 'hijack', created: 'x' } as never);
  assert.equal(m.steps, 20);
  assert.equal(m.id, w.manifest.id);
  assert.equal(m.created, w.manifest.created);
  assert.equal((await readRun(w.dir)).manifest?.steps, 20);
  assert.deepEqual((await readMetrics(w.dir)).map((r) => r.step), [1, 2]);
  assert.deepEqual(readdirSync(w.dir).filter((n) => n.includes('.tmp')), []);
});

test('a torn last line left by a dead writer is ended before appending, so new lines stay whole', async (t) => {
  const w = RunWriter.create(tempDir(t), newManifest());
  w.appendMetrics({ step: 1, reward: 0.1 });
  appendFileSync(join(w.dir, 'metrics.jsonl'), '{"step": 2, "rew');
  const issues: string[] = [];
  const resumed = RunWriter.open(w.dir);
  resumed.appendMetrics({ step: 2, reward: 0.2 });
  resumed.appendMetrics({ step: 3, reward: 0.3 });
  assert.deepEqual((await readMetrics(w.dir, (i) => issues.push(String(i)))).map((r) => r.step), [1, 2, 3]);
  assert.equal(issues.length, 1);
  assert.match(issues[0], /metrics\.jsonl:2: not valid JSON/);
});

test('appends are validated: a bad record throws and nothing is written', async (t) => {
  const w = RunWriter.create(tempDir(t), newManifest());
  assert.throws(() => w.appendRollouts(1, [rollout(1, 0), rollout(1, 1, { tokenAdvantages: [1] })]), /rollout 1: tokenAdvantages has 1 entries, tokens has 4/);
  assert.throws(() => w.appendRollouts(2, [rollout(1, 0)]), /rollout 0 has step 1/);
  assert.throws(() => w.appendMetrics({ step: 1.5 }), /step must be an integer/);
  assert.throws(() => w.appendEvent({ type: 'exploded' as never, step: 0 }), /type must be one of/);
  assert.deepEqual(readdirSync(join(w.dir, 'rollouts')), []);
  w.appendRollouts(1, [rollout(1, 0)]);
  w.appendRollouts(1, [rollout(1, 1)]);
  assert.equal((await readRun(w.dir)).rolloutSteps.length, 1);
});

test('writeImage writes under images/ and refuses paths', (t) => {
  const w = RunWriter.create(tempDir(t), newManifest());
  const png = encodePng(new Float32Array(3 * 4 * 2).fill(0.5), 4, 2, 3);
  assert.equal(w.writeImage('train-000001.png', png), 'images/train-000001.png');
  assert.deepEqual(new Uint8Array(readFileSync(join(w.dir, 'images', 'train-000001.png'))), png);
  assert.throws(() => w.writeImage('../x.png', png), /not a plain file name/);
  mkdirSync(join(w.dir, 'images', 'sub'));
  assert.throws(() => w.writeImage('sub/x.png', png), /not a plain file name/);
});

/** Decodes the PNGs encodePng writes (filter 0 only) — enough to check them. */
function decodePng(png: Uint8Array) {
  const buf = Buffer.from(png);
  assert.deepEqual([...buf.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  let off = 8;
  const chunks: Record<string, Buffer> = {};
  while (off < buf.length) {
    const len = buf.readUInt32BE(off);
    const type = buf.toString('latin1', off + 4, off + 8);
    const data = buf.subarray(off + 8, off + 8 + len);
    assert.equal(buf.readUInt32BE(off + 8 + len), crc32(buf.subarray(off + 4, off + 8 + len)), `${type} CRC`);
    chunks[type] = data;
    off += 12 + len;
  }
  const width = chunks.IHDR.readUInt32BE(0);
  const height = chunks.IHDR.readUInt32BE(4);
  return { width, height, depth: chunks.IHDR[8], colorType: chunks.IHDR[9], raw: inflateSync(chunks.IDAT), end: 'IEND' in chunks };
}

test('encodePng writes CHW floats as an 8-bit PNG', () => {
  const w = 3;
  const h = 2;
  const chw = new Float32Array(3 * w * h);
  // R ramps along x, G along y, B constant; with out-of-range and NaN values clamped.
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    chw[0 * w * h + y * w + x] = x / (w - 1);
    chw[1 * w * h + y * w + x] = y;
    chw[2 * w * h + y * w + x] = 0.2;
  }
  chw[2 * w * h] = NaN;
  chw[2 * w * h + 1] = 7;
  const png = decodePng(encodePng(chw, w, h, 3));
  assert.deepEqual([png.width, png.height, png.depth, png.colorType, png.end], [3, 2, 8, 2, true]);
  assert.deepEqual([...png.raw], [0, 0, 0, 0, 128, 0, 255, 255, 0, 51, 0, 0, 255, 51, 128, 255, 51, 255, 255, 51]);
  assert.equal(decodePng(encodePng(new Float32Array(4), 2, 2, 1)).colorType, 0);
  assert.equal(decodePng(encodePng(new Float32Array(16), 2, 2, 4)).colorType, 6);
  assert.throws(() => encodePng(new Float32Array(5), 2, 2, 1), /5 values, expected 1×2×2 = 4/);
  assert.throws(() => encodePng(new Float32Array(10), 2, 1, 5), /5 channels/);
});

test('crc32 matches the standard check value', () => {
  assert.equal(crc32(new TextEncoder().encode('123456789')), 0xcbf43926);
});

test('a second writer on a live run is refused with a message and changes nothing; a dead writer’s lock is taken over', async (t) => {
  const w = RunWriter.create(tempDir(t), newManifest());
  w.appendMetrics({ step: 1, reward: 0.5 });
  w.release();
  // Another process opens the run to write it, and stays alive.
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'holdWriter.ts'), w.dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => child.kill('SIGKILL'));
  await once(child.stdout!, 'data');
  const before = readdirSync(w.dir).map((n) => [n, existsSync(join(w.dir, n)) && n.endsWith('l') ? readFileSync(join(w.dir, n), 'utf8') : '']);
  assert.throws(
    () => RunWriter.open(w.dir),
    (e: unknown) => e instanceof RunBusyError && e.pid === child.pid && new RegExp(`is being written by process ${child.pid} on this machine; stop that run first`).test(e.message),
  );
  assert.deepEqual(readdirSync(w.dir).map((n) => [n, existsSync(join(w.dir, n)) && n.endsWith('l') ? readFileSync(join(w.dir, n), 'utf8') : '']), before, 'the refused writer wrote nothing');
  // kill -9: the lock stays behind, names a dead process, and is taken over.
  child.kill('SIGKILL');
  await once(child, 'exit');
  const again = RunWriter.open(w.dir);
  again.appendMetrics({ step: 2, reward: 0.6 });
  assert.deepEqual((await readMetrics(w.dir)).map((r) => r.step), [1, 2]);
  assert.equal(JSON.parse(readFileSync(join(w.dir, 'writer.lock'), 'utf8')).pid, process.pid);
  // The same process may open it again; a torn lock (a crash mid-write) counts as free; release() frees it.
  RunWriter.open(w.dir);
  again.release();
  assert.equal(existsSync(join(w.dir, 'writer.lock')), false);
  writeFileSync(join(w.dir, 'writer.lock'), '{"pid":');
  RunWriter.open(w.dir).release();
  // A lock from another host cannot be checked: refused, naming the host.
  writeFileSync(join(w.dir, 'writer.lock'), JSON.stringify({ pid: 4242, host: 'gpu-node-7' }));
  assert.throws(() => RunWriter.open(w.dir), /is being written by process 4242 on gpu-node-7;.*delete .*writer\.lock/);
});

test('appendFailure (the extension recording a dead backend) does not keep the run locked', async (t) => {
  const w = RunWriter.create(tempDir(t), newManifest());
  w.appendEvent({ type: 'started', step: 0 });
  writeFileSync(join(w.dir, 'writer.lock'), JSON.stringify({ pid: 999_999_999, host: (await import('node:os')).hostname() }));
  await appendFailure(w.dir, 'the backend died');
  assert.equal(existsSync(join(w.dir, 'writer.lock')), false);
  assert.equal((await readRun(w.dir)).status, 'failed');
});

test('a writer that appends stopped, completed or failed lets go of the run', (t) => {
  for (const type of ['stopped', 'completed', 'failed'] as const) {
    const w = RunWriter.create(tempDir(t), newManifest());
    w.appendEvent({ type: 'started', step: 0 });
    assert.equal(existsSync(join(w.dir, 'writer.lock')), true);
    w.appendEvent({ type, step: 0 });
    assert.equal(existsSync(join(w.dir, 'writer.lock')), false, type);
  }
});
