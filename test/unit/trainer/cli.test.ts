// The headless CLI with the real engine: train + resume reproduces a straight run exactly; bad configs,
// corrupt checkpoints and Ctrl-C behave as documented.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { listCheckpoints, readEvents, readMetrics } from '../../../src/core/run';
import { CLI } from './client';
import { tempDir, withoutTiming } from './helpers';
import { ensureCliBuilt } from '../cliBuild';

// Built here when missing or stale (never skipped); the model's weights are part of the repository.
const haveBuild = ensureCliBuilt();
const skip = !haveBuild;

function cli(args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function configFile(dir: string, config: Record<string, unknown>): string {
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify(config));
  return file;
}

const tiny = { promptsPerStep: 3, groupSize: 4, maxNewTokens: 12, valSize: 8, valEvery: 2 };

test('train 2 steps + resume to 4 reproduces steps 3–4 of a straight 4-step run', { skip }, async () => {
  const dir = tempDir();
  const config = configFile(dir, tiny);
  const common = ['--preset', 'prpo', '--checkpoint-every', '2', '--seed', '5', '--config', config];
  const straight = cli(['train', ...common, '--steps', '4', '--runs-dir', join(dir, 'a')]);
  assert.equal(straight.code, 0, straight.stderr);
  const runA = straight.stdout.split('\n')[0];
  const first = cli(['train', ...common, '--steps', '2', '--runs-dir', join(dir, 'b')]);
  assert.equal(first.code, 0, first.stderr);
  const runB = first.stdout.split('\n')[0];
  assert.ok(existsSync(join(runB, 'run.json')));
  const resumed = cli(['resume', runB, '--steps', '4']);
  assert.equal(resumed.code, 0, resumed.stderr);
  const strip = (rows: Awaited<ReturnType<typeof readMetrics>>) =>
    rows.filter((r) => r.step >= 3).map((r) => {
      const x = withoutTiming(r);
      delete x.time;
      return x;
    });
  const a = strip(await readMetrics(runA));
  const b = strip(await readMetrics(runB));
  assert.equal(a.length, 2);
  assert.deepEqual(b, a);
  assert.equal(readFileSync(join(runA, 'rollouts', 'step-000004.jsonl'), 'utf8'), readFileSync(join(runB, 'rollouts', 'step-000004.jsonl'), 'utf8'));
  assert.deepEqual(listCheckpoints(runB).map((c) => c.step), [2, 4]);
  assert.deepEqual((await readEvents(runB)).map((e) => e.type), ['started', 'checkpoint', 'completed', 'resumed', 'checkpoint', 'completed']);
  const target = (run: string) => (JSON.parse(readFileSync(join(run, 'run.json'), 'utf8')) as { steps: number }).steps;
  assert.equal(target(runB), 4);
  // Resumed from an earlier checkpoint to a lower target, the run's target follows (it reads 3/3 when done, not 3/4).
  const lower = cli(['resume', runA, '--steps', '3', '--checkpoint', 'checkpoints/step-000002']);
  assert.equal(lower.code, 0, lower.stderr);
  assert.equal(target(runA), 3);
});

test('a bad --config names the field and exits 2', { skip }, () => {
  const dir = tempDir();
  for (const [config, message] of [
    [{ groupSize: 'eight' }, /config\.groupSize: expected an integer ≥ 1, got "eight"/],
    [{ clipHihg: 0.3 }, /config\.clipHihg: unknown key/],
    [{ task: { gridMax: -1 } }, /config\.task\.gridMax: expected an integer ≥ 1/],
    [{ rvd: 'hard' }, /config\.rvd: expected "soft", "gate" or "multimask"/],
  ] as const) {
    const r = cli(['train', '--preset', 'prpo', '--steps', '1', '--runs-dir', join(dir, 'runs'), '--config', configFile(dir, config as Record<string, unknown>)]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, message);
  }
  writeFileSync(join(dir, 'broken.json'), '{"lr": 0.1,');
  const r = cli(['train', '--preset', 'prpo', '--steps', '1', '--runs-dir', join(dir, 'runs'), '--config', join(dir, 'broken.json')]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /broken\.json: not valid JSON/);
  assert.ok(!existsSync(join(dir, 'runs')) || readdirSync(join(dir, 'runs')).length === 0, 'no run directory for a bad config');
});

test('a corrupt or truncated checkpoint is refused with a message naming the file', { skip }, () => {
  const dir = tempDir();
  const r = cli(['train', '--preset', 'grpo', '--steps', '2', '--checkpoint-every', '1', '--runs-dir', dir, '--config', configFile(dir, { ...tiny, valEvery: 0 })]);
  assert.equal(r.code, 0, r.stderr);
  const run = r.stdout.split('\n')[0];
  const weights = join(run, 'checkpoints', 'step-000002', 'weights.safetensors');
  const bytes = readFileSync(weights);
  bytes[bytes.length - 5] ^= 0xff;
  writeFileSync(weights, bytes);
  const corrupt = cli(['resume', run, '--steps', '3', '--checkpoint', 'checkpoints/step-000002']);
  assert.equal(corrupt.code, 1);
  assert.match(corrupt.stderr, /step-000002: weights\.safetensors is corrupt/);
  writeFileSync(weights, bytes.subarray(0, 100));
  const truncated = cli(['resume', run, '--steps', '3', '--checkpoint', 'checkpoints/step-000002']);
  assert.equal(truncated.code, 1);
  assert.match(truncated.stderr, /weights\.safetensors is truncated \(100 of \d+ bytes\)/);
  // Without --checkpoint the latest *complete* checkpoint (step 1) is used.
  const fallback = cli(['resume', run, '--steps', '3']);
  assert.equal(fallback.code, 0, fallback.stderr);
  assert.match(fallback.stdout, /resuming at step 1 → 3/);
});

test('Ctrl-C checkpoints and exits cleanly (exit 130, run stopped, resumable)', { skip }, async () => {
  const dir = tempDir();
  const child = spawn(process.execPath, [CLI, 'train', '--preset', 'dapo', '--steps', '1000', '--checkpoint-every', '0', '--runs-dir', dir, '--config', configFile(dir, { ...tiny, valEvery: 0 })]);
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  await new Promise<void>((resolve) => {
    const check = () => (/step 2\/1000/.test(out) ? resolve() : setTimeout(check, 20));
    check();
  });
  child.kill('SIGINT');
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  assert.equal(code, 130);
  const run = out.split('\n')[0];
  const events = await readEvents(run);
  assert.equal(events.at(-1)!.type, 'stopped');
  const last = listCheckpoints(run).at(-1)!;
  assert.equal(last.step, events.at(-1)!.step);
  assert.ok(last.complete);
});
