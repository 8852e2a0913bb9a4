import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { detectRunKind, importEasyR1, importTrl, importVerl, openRun, whitespaceTokens } from '../../../src/core/run/importers';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { readTrlStep as importTrlStep } from '../../../src/core/run/importers/trl';
import { mutateBytes, type Op } from '../fuzz/mutate';
import type { LineIssue } from '../../../src/core/run/schema';
import { validateRollout } from '../../../src/core/run/validate';
import { RunWriter } from '../../../src/core/run/writer';
import { newManifest, tempDir } from './helpers';

const fixtures = join(import.meta.dirname, '..', '..', 'fixtures', 'importers');
const verlDir = join(fixtures, 'verl', 'rollout_data');
const easyDir = join(fixtures, 'easyr1');

test('whitespace tokens join back to the response', () => {
  for (const text of ['', '   ', 'one', ' lead and  double  spaces ', 'line\nbreak\ttab', '红色 \\boxed{red}']) {
    assert.equal(whitespaceTokens(text).join(''), text, JSON.stringify(text));
  }
  assert.deepEqual(whitespaceTokens('There are  3 circles.\n'), ['There', ' are', '  3', ' circles.\n']);
});

test('verl: a rollout_data_dir reads as a run with response-level rollouts', async () => {
  assert.equal(detectRunKind(verlDir), 'verl');
  const run = importVerl(verlDir);
  assert.equal(run.info.manifest?.source, 'verl');
  assert.equal(run.info.manifest?.algorithm, 'grpo');
  assert.equal(run.info.manifest?.config.algorithmKnown, false);
  assert.deepEqual(run.info.rolloutSteps, [1, 2, 3]);
  const issues: LineIssue[] = [];
  const step1 = await run.readRolloutStep(1, (i) => issues.push(i));
  assert.deepEqual(issues, []);
  assert.equal(step1.length, 8);
  // Every record is a valid RolloutRecord (NaN log-probs survive validation as numbers).
  step1.forEach((r, i) => validateRollout(r, `step 1 rollout ${i}`));
  assert.deepEqual(step1.map((r) => r.group), ['p0', 'p0', 'p0', 'p0', 'p1', 'p1', 'p1', 'p1']);
  const r0 = step1[0];
  assert.equal(r0.id, '1-0');
  assert.equal(r0.answer, '3');
  assert.equal(r0.correct, true);
  assert.equal(r0.reward, 1);
  assert.equal(r0.tokens.join(''), r0.response);
  assert.deepEqual(r0.synthetic, ['tokens', 'advantage', 'logp.image', 'tokenAdvantages']);
  assert.ok(r0.logp.image.every(Number.isNaN));
  assert.deepEqual(r0.extra, { pred: '3', format: 1 });
  // GRPO within the group of 4 with rewards [1, 0, 1, 0]: mean 0.5, unbiased std 0.5774.
  const A = 0.5 / (Math.sqrt(1 / 3) + 1e-6);
  assert.ok(Math.abs(r0.advantage - A) < 1e-9);
  assert.ok(Math.abs(step1[1].advantage + A) < 1e-9);
  assert.ok(r0.tokenAdvantages.every((x) => x === r0.advantage));
});

test('verl: malformed and wrongly typed lines are reported, a torn last line is skipped', async () => {
  const issues: LineIssue[] = [];
  const step2 = await importVerl(verlDir).readRolloutStep(2, (i) => issues.push(i));
  assert.deepEqual(step2.map((r) => r.response), ['Three circles. \\boxed{3}', 'Three. \\boxed{3}', 'Two. \\boxed{2}']);
  assert.deepEqual(
    issues.map((i) => `${i.file.endsWith('2.jsonl')}:${i.line}:${i.reason.split(' (')[0]}`),
    ['true:2:not valid JSON', 'true:4:output must be a string, got number'],
  );
});

test('verl: token-level data in a dump is used where it lines up', async () => {
  const [a, b] = await importVerl(verlDir).readRolloutStep(3);
  assert.deepEqual(a.tokens, ['There', ' are', ' 3', ' circles', '.']);
  assert.deepEqual(a.tokenIds, [1, 2, 3, 4, 5]);
  assert.deepEqual(a.logp.image, [-0.1, -0.2, -1.3, -0.4, -0.05]);
  assert.equal(a.advantage, 0.87);
  assert.deepEqual(a.synthetic, []);
  assert.equal(a.group, b.group);
  // b has advantages but no tokens: they cannot be aligned, so they are kept in extra.
  assert.deepEqual(b.synthetic, ['tokens', 'advantage', 'logp.image', 'tokenAdvantages']);
  assert.deepEqual(b.extra?.advantages, [-0.87, -0.87, -0.87]);
});

test('verl: metrics are derived per step from the dump', async () => {
  const issues: LineIssue[] = [];
  const metrics = await importVerl(verlDir).readMetrics((i) => issues.push(i));
  assert.deepEqual(metrics.map((m) => [m.step, m.reward, m.accuracy, m.rollouts]), [
    [1, 0.5, 0.5, 8],
    [2, 2 / 3, 2 / 3, 3],
    [3, 0.5, undefined, 2],
  ]);
  assert.equal(issues.length, 2);
});

test('EasyR1: the experiment log reads as metrics, nested or flat, with our names added', async () => {
  assert.equal(detectRunKind(easyDir), 'easyr1');
  const run = importEasyR1(easyDir, { algorithm: 'vppo', name: 'vppo 7B' });
  assert.equal(run.info.name, 'vppo 7B');
  assert.equal(run.info.manifest?.algorithm, 'vppo');
  assert.deepEqual(run.info.rolloutSteps, []);
  const issues: LineIssue[] = [];
  const rows = await run.readMetrics((i) => issues.push(i));
  assert.deepEqual(rows.map((r) => r.step), [1, 2, 4]);
  assert.deepEqual(issues.map((i) => [i.line, i.reason]), [[4, 'step must be an integer ≥ 0, got "three"']]);
  const [r1, r2, r4] = rows;
  assert.equal(r1['actor/pg_loss'], -0.012);
  assert.equal(r1.pgLoss, -0.012);
  assert.equal(r1.reward, 0.41);
  assert.equal(r1.accuracy, 0.38);
  assert.equal(r1.gradNorm, 0.42);
  assert.equal(r1.clipFraction, 0.004);
  assert.equal(r1.timeStepMs, 60500);
  assert.equal(r1.timeSampleMs, 31200);
  assert.equal(r2.reward, 0.47);
  assert.equal(r2.pgLoss, -0.02);
  assert.equal(r4.valAccuracy, 0.47);
  assert.deepEqual(await run.readRolloutStep(1), []);
  // The log file itself can be given, and verl-style dumps beside it.
  const withRollouts = importEasyR1(join(easyDir, 'experiment_log.jsonl'), { rolloutsDir: verlDir });
  assert.deepEqual(withRollouts.info.rolloutSteps, [1, 2, 3]);
  assert.equal((await withRollouts.readRolloutStep(1)).length, 8);
});

test('openRun opens our own run directories and imports through one handle', async (t) => {
  const w = RunWriter.create(tempDir(t), newManifest());
  w.appendMetrics({ step: 1, reward: 0.25 });
  const native = await openRun(w.dir);
  assert.equal(native.info.manifest?.source, 'prpo-studio');
  assert.deepEqual(await native.readMetrics(), [{ step: 1, reward: 0.25 }]);
  assert.equal((await openRun(verlDir)).info.manifest?.source, 'verl');
  assert.equal((await openRun(easyDir)).info.manifest?.source, 'easyr1');
  assert.equal((await openRun(join(fixtures, 'trl', 'output'))).info.manifest?.source, 'trl');
  await assert.rejects(openRun(tempDir(t)), /is not a run: it has no run\.json/);
});

const trlDir = join(fixtures, 'trl', 'output');

test('TRL: completions parquet files read as response-level rollouts', async () => {
  assert.equal(detectRunKind(trlDir), 'trl');
  const run = importTrl(trlDir);
  assert.equal(run.info.manifest?.source, 'trl');
  assert.deepEqual(run.info.rolloutSteps, [10, 20]);
  const issues: LineIssue[] = [];
  const s10 = await run.readRolloutStep(10, (i) => issues.push(i));
  assert.deepEqual(issues, []);
  assert.deepEqual(s10.map((r) => [r.step, r.group, r.response]), [
    [10, 'p0', '<think>three red circles</think> 3'],
    [10, 'p0', '<think>two</think> 2'],
    [10, 'p1', '<think>it is green</think> green'],
    [10, 'p1', '<think>blue?</think> blue'],
  ]);
  s10.forEach((r, i) => validateRollout(r, `rollout ${i}`));
  // No reward logged at all in the oldest layout: NaN, and said so.
  assert.ok(Number.isNaN(s10[0].reward));
  assert.ok(s10[0].synthetic?.includes('reward'));
  const s20 = await run.readRolloutStep(20);
  assert.deepEqual(s20.map((r) => r.reward), [2, 1, 1, 1]);
  assert.deepEqual(s20.map((r) => r.advantage), [0.87, 0.29, -0.29, -0.87]);
  assert.deepEqual(s20[0].synthetic, ['tokens', 'logp.image', 'tokenAdvantages', 'reward']);
  assert.deepEqual(s20[0].extra, { accuracy_reward: 1, format_reward: 1 });
  assert.equal(s20[0].step, 20);
});

test('TRL: metrics come from the newest trainer_state.json, one row per step', async () => {
  const rows = await importTrl(trlDir).readMetrics();
  assert.deepEqual(rows.map((r) => r.step), [5, 10, 15, 20]);
  assert.equal(rows[0].reward, 0.25);
  assert.equal(rows[0].accuracy, 0.25);
  assert.equal(rows[0].gradNorm, 0.8);
  assert.equal(rows[0].clipFraction, 0);
  assert.equal(rows[3].reward, 0.75);
  assert.equal(rows[3].eval_reward, 0.7);
  assert.equal(rows[3].accuracy, 0.7);
});

test('TRL: a file that is not parquet is reported, not thrown', async (t) => {
  const dir = tempDir(t);
  mkdirSync(join(dir, 'completions'));
  writeFileSync(join(dir, 'completions', 'completions_00001.parquet'), 'not a parquet file');
  const issues: LineIssue[] = [];
  assert.deepEqual(await importTrl(dir).readRolloutStep(1, (i) => issues.push(i)), []);
  assert.match(String(issues[0]), /completions_00001\.parquet:0: cannot be read as parquet/);
  assert.deepEqual(await importTrl(dir).readMetrics(), []);
});

test('TRL and EasyR1: a 20,000-deep metrics entry is read without overflowing the stack (the deep part skipped)', async (t) => {
  const dir = tempDir(t);
  const deep = '{"a":'.repeat(20_000) + '0' + '}'.repeat(20_000);
  writeFileSync(join(dir, 'trainer_state.json'), `{"log_history":[{"step":1,"loss":0.5,"x":${deep}}]}`);
  mkdirSync(join(dir, 'completions'));
  writeFileSync(join(dir, 'completions', 'completions_00001.parquet'), '');
  assert.deepEqual(await importTrl(dir).readMetrics(), [{ step: 1, loss: 0.5 }]);
  writeFileSync(join(dir, 'experiment_log.jsonl'), `{"step":1,"actor":{"pg_loss":0.25},"x":${deep}}\n`);
  const issues: LineIssue[] = [];
  assert.deepEqual(await importEasyR1(dir).readMetrics((i) => issues.push(i)), [{ step: 1, 'actor/pg_loss': 0.25, pgLoss: 0.25 }]);
  assert.deepEqual(issues, []);
});

// Found by `npm run fuzz` (seed 20261202, TRL parquet): a footer whose column chunk names a column the schema
// lacks made hyparquet throw after it had started reading other columns, whose failures then surfaced as
// unhandled rejections. The file is now refused before any column is read.
test('TRL: a parquet column outside its schema is refused as file:0, with no read left to fail unobserved', async (t) => {
  const dir = tempDir(t);
  const fixture = new Uint8Array(readFileSync(join(fixtures, 'trl', 'output', 'completions', 'completions_00020.parquet')));
  const cases: Op[][] = [
    [[1294231204, 115869941, 473922789], [1910452310, 27, 2147483632], [23, 1045848045, 2022907634]],
    [[529332463, 932710367, 782907698], [1584978314, 1895732991, 1493444908], [105155779, 1221811327, 371905879], [920735761, 1314878919, 948051428]],
  ];
  const leaked: unknown[] = [];
  const onLeak = (e: unknown) => leaked.push(e);
  process.on('unhandledRejection', onLeak);
  t.after(() => process.off('unhandledRejection', onLeak));
  for (const [k, ops] of cases.entries()) {
    const file = join(dir, `completions_0002${k}.parquet`);
    writeFileSync(file, mutateBytes(fixture, ops));
    const issues: LineIssue[] = [];
    assert.deepEqual(await importTrlStep(file, 20, (i) => issues.push(i)), []);
    assert.equal(issues.length, 1);
    assert.match(String(issues[0]), new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:0: cannot be read as parquet \\(its column "[^"]+" is not in its schema\\)$`));
  }
  await new Promise((r) => setTimeout(r, 500));
  assert.deepEqual(leaked.map(String), []);
});
