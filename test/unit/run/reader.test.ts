import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatIssue, parseJsonlText, parseRolloutLine } from '../../../src/core/run/lines';
import type { LineIssue } from '../../../src/core/run/schema';
import {
  JsonlFollower,
  listRuns,
  readJsonl,
  readMetrics,
  readRolloutStep,
  readRun,
} from '../../../src/core/run/reader';
import { validateMetricsRow, validateRollout } from '../../../src/core/run/validate';
import { RunWriter } from '../../../src/core/run/writer';
import { newManifest, rollout, tempDir } from './helpers';

async function readAll<T>(file: string, validate: (v: unknown, where: string) => T) {
  const issues: LineIssue[] = [];
  const records: T[] = [];
  for await (const r of readJsonl(file, validate, (i) => issues.push(i))) records.push(r);
  return { records, issues };
}

const row = (step: number) => JSON.stringify({ step, reward: step / 10 });

test('a torn last line is skipped silently', async (t) => {
  const file = join(tempDir(t), 'metrics.jsonl');
  writeFileSync(file, `${row(1)}\n${row(2)}\n{"step": 3, "rew`);
  const { records, issues } = await readAll(file, validateMetricsRow);
  assert.deepEqual(records.map((r) => r.step), [1, 2]);
  assert.deepEqual(issues, []);
});

test('a complete last line without a newline is read', async (t) => {
  const file = join(tempDir(t), 'metrics.jsonl');
  writeFileSync(file, `${row(1)}\n${row(2)}`);
  const { records, issues } = await readAll(file, validateMetricsRow);
  assert.deepEqual(records.map((r) => r.step), [1, 2]);
  assert.deepEqual(issues, []);
});

test('a parsable but invalid last line without a newline is reported', async (t) => {
  const file = join(tempDir(t), 'metrics.jsonl');
  writeFileSync(file, `${row(1)}\n{"step": "two"}`);
  const { records, issues } = await readAll(file, validateMetricsRow);
  assert.equal(records.length, 1);
  assert.equal(issues.length, 1);
  assert.equal(issues[0].line, 2);
});

test('a malformed line in the middle is reported with file:line and reading goes on', async (t) => {
  const file = join(tempDir(t), 'metrics.jsonl');
  writeFileSync(file, `${row(1)}\n{"step": 2, oops}\n${row(3)}\n`);
  const { records, issues } = await readAll(file, validateMetricsRow);
  assert.deepEqual(records.map((r) => r.step), [1, 3]);
  assert.equal(issues.length, 1);
  assert.equal(issues[0].file, file);
  assert.equal(issues[0].line, 2);
  assert.match(issues[0].reason, /not valid JSON/);
  assert.match(String(issues[0]), new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2: not valid JSON`));
  assert.equal(formatIssue(issues[0]), String(issues[0]));
  assert.deepEqual(Object.keys(JSON.parse(JSON.stringify(issues[0]))), ['file', 'line', 'reason']);
});

test('a torn line in the middle (a writer that died, then a new one appended) is reported', async (t) => {
  const file = join(tempDir(t), 'metrics.jsonl');
  writeFileSync(file, `${row(1)}\n{"step": 2, "rew\n${row(3)}\n`);
  const { records, issues } = await readAll(file, validateMetricsRow);
  assert.deepEqual(records.map((r) => r.step), [1, 3]);
  assert.deepEqual(issues.map((i) => i.line), [2]);
});

test('wrongly typed fields are reported by name', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'step-000003.jsonl');
  const good = rollout(3, 0);
  const lines = [
    good,
    { ...good, id: '3-1', reward: 'high' },
    { ...good, id: '3-2', tokenAdvantages: [0, 0, 0.7] },
    { ...good, id: '3-3', tokens: ['a', 2, 'c', 'd'] },
    { ...good, id: '3-4', logp: { image: [-0.1, '-0.2', -1, -1] } },
    { ...good, id: '3-5', logp: { perturbed: [0, 0, 0, 0] } },
    { ...good, id: '3-6', scores: { S: [0, 0, 0] } },
    { ...good, id: '3-7', step: -1 },
    [1, 2, 3],
    'just a string',
    { ...good, id: '3-10' },
  ];
  writeFileSync(file, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  const { records, issues } = await readAll(file, validateRollout);
  assert.deepEqual(records.map((r) => r.id), ['3-0', '3-10']);
  const reasons = issues.map((i) => `${i.line}: ${i.reason}`);
  assert.deepEqual(reasons, [
    '2: reward must be a number, got string "high"',
    '3: tokenAdvantages has 3 entries, tokens has 4',
    '4: tokens[1] must be a string, got number 2',
    '5: logp.image[1] must be a number, got string "-0.2"',
    '6: logp.image is missing',
    '7: scores.S has 3 entries, tokens has 4',
    '8: step must be an integer ≥ 0, got number -1',
    '9: expected a rollout (a JSON object), got an array of 3',
    '10: expected a rollout (a JSON object), got string "just a string"',
  ]);
});

test('null in per-token arrays and metrics reads as NaN (JSON has no NaN/Infinity)', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'r.jsonl');
  writeFileSync(file, JSON.stringify({ ...rollout(1, 0), logp: { image: [-0.1, null, -1, -1] } }) + '\n' + '{"step":1,"loss":null}\n');
  const { records } = await readAll(file, validateRollout);
  assert.ok(Number.isNaN(records[0].logp.image[1]));
  const m = await readAll(file, validateMetricsRow);
  assert.ok(Number.isNaN(m.records[0].loss));
});

test('empty lines, CRLF line ends and a byte-order mark are accepted', async (t) => {
  const file = join(tempDir(t), 'metrics.jsonl');
  writeFileSync(file, `\uFEFF${row(0)}\r\n\r\n${row(1)}\r\n\r\n   \n${row(2)}\r\n\n`);
  const { records, issues } = await readAll(file, validateMetricsRow);
  assert.deepEqual(records.map((r) => r.step), [0, 1, 2]);
  assert.deepEqual(issues, []);
});

test('a file whose tail is NUL bytes (a crash on a delayed-allocation file system) loses only that tail', async (t) => {
  const file = join(tempDir(t), 'metrics.jsonl');
  writeFileSync(file, `${row(1)}\n${'\0'.repeat(64)}`);
  const { records, issues } = await readAll(file, validateMetricsRow);
  assert.deepEqual(records.map((r) => r.step), [1]);
  assert.deepEqual(issues, []);
});

test('line numbers stay right across stream chunks and multi-byte characters', async (t) => {
  const file = join(tempDir(t), 'r.jsonl');
  const lines: string[] = [];
  for (let i = 0; i < 400; i++) {
    const r = rollout(1, i, { prompt: 'Wie viele Kreise? ● ✓ 円 🙂 '.repeat(40) });
    lines.push(i === 321 ? '{broken' : JSON.stringify(r));
  }
  writeFileSync(file, lines.join('\n') + '\n');
  const { records, issues } = await readAll(file, validateRollout);
  assert.equal(records.length, 399);
  assert.equal(records[0].prompt, 'Wie viele Kreise? ● ✓ 円 🙂 '.repeat(40));
  assert.deepEqual(issues.map((i) => i.line), [322]);
});

test('a missing file yields nothing', async (t) => {
  const { records, issues } = await readAll(join(tempDir(t), 'none.jsonl'), validateMetricsRow);
  assert.deepEqual([records, issues], [[], []]);
});

test('readRun, readMetrics and readRolloutStep read what RunWriter wrote', async (t) => {
  const w = RunWriter.create(tempDir(t), newManifest());
  w.appendEvent({ type: 'started', step: 0 });
  for (let step = 1; step <= 3; step++) {
    w.appendMetrics({ step, reward: step / 4, loss: step === 2 ? NaN : 0.1 });
    w.appendRollouts(step, [rollout(step, 0), rollout(step, 1)]);
  }
  w.appendEvent({ type: 'completed', step: 3 });
  const run = await readRun(w.dir);
  assert.equal(run.status, 'completed');
  assert.equal(run.id, w.manifest.id);
  assert.equal(run.manifest?.name, 'test run');
  assert.deepEqual(run.rolloutSteps, [1, 2, 3]);
  assert.deepEqual(run.issues, []);
  const metrics = await readMetrics(w.dir);
  assert.deepEqual(metrics.map((m) => m.step), [1, 2, 3]);
  assert.ok(Number.isNaN(metrics[1].loss));
  const step2 = await readRolloutStep(w.dir, 2);
  assert.deepEqual(step2, [rollout(2, 0), rollout(2, 1)]);
  assert.deepEqual(await readRolloutStep(w.dir, 9), []);
});

test('listRuns: a broken run.json gives an entry with an issue, never a throw', async (t) => {
  const root = tempDir(t);
  const good = RunWriter.create(root, newManifest({ name: 'good' }));
  mkdirSync(join(root, 'broken'));
  writeFileSync(join(root, 'broken', 'run.json'), '{\n  "schema": "prpo-studio/run@1",\n  "id": \n}');
  writeFileSync(join(root, 'broken', 'events.jsonl'), '{"type":"started","time":"2026-01-01T00:00:00Z","step":0}\nnope\n');
  mkdirSync(join(root, 'wrong-type'));
  writeFileSync(join(root, 'wrong-type', 'run.json'), JSON.stringify({ ...good.manifest, id: 'wrong-type', seed: 'seven' }));
  mkdirSync(join(root, 'newer'));
  writeFileSync(join(root, 'newer', 'run.json'), JSON.stringify({ ...good.manifest, schema: 'prpo-studio/run@9' }));
  mkdirSync(join(root, 'not-a-run'));
  const runs = await listRuns(root);
  const byId = new Map(runs.map((r) => [r.id, r]));
  assert.deepEqual([...byId.keys()].sort(), ['broken', good.manifest.id, 'newer', 'wrong-type'].sort());
  const broken = byId.get('broken')!;
  assert.equal(broken.manifest, undefined);
  assert.equal(broken.events.length, 1);
  assert.deepEqual(broken.issues.map((i) => [i.file.endsWith('run.json') ? 'run.json' : 'events.jsonl', i.line]), [
    ['run.json', broken.issues[0].line === 0 ? 0 : 4], // Node 20's JSON.parse does not say where
    ['events.jsonl', 2],
  ]);
  assert.match(String(broken.issues[0]), /run\.json:\d+: not valid JSON/);
  assert.match(byId.get('wrong-type')!.issues[0].reason, /^seed must be an integer, got string "seven"/);
  assert.equal(byId.get('wrong-type')!.issues[0].line, 1); // written on one line
  assert.equal(byId.get(good.manifest.id)!.manifest?.seed, 7);
  assert.match(byId.get('newer')!.issues[0].reason, /prpo-studio\/run@9.*update the extension/);
  assert.deepEqual(byId.get(good.manifest.id)!.issues, []);
  assert.deepEqual(await listRuns(join(root, 'missing')), []);
});

test('JsonlFollower returns only complete new lines, and starts over when the file is replaced', async (t) => {
  const file = join(tempDir(t), 'metrics.jsonl');
  const issues: LineIssue[] = [];
  const follow = new JsonlFollower(file, validateMetricsRow, (i) => issues.push(i));
  assert.deepEqual(await follow.poll(), { records: [], restarted: false }); // not there yet
  writeFileSync(file, `${row(1)}\n{"step": 2, "rew`);
  assert.deepEqual((await follow.poll()).records.map((r) => r.step), [1]);
  appendFileSync(file, `ard": 0.2}\n\nbad\n${row(3)}\n${row(4)}`);
  assert.deepEqual((await follow.poll()).records.map((r) => r.step), [2, 3]);
  assert.deepEqual(issues.map((i) => i.line), [4]);
  assert.deepEqual((await follow.poll()).records, []);
  appendFileSync(file, '\n');
  assert.deepEqual((await follow.poll()).records.map((r) => r.step), [4]);
  writeFileSync(file, `${row(9)}\n`);
  assert.deepEqual(await follow.poll(), { records: [{ step: 9, reward: 0.9 }], restarted: true });
});

test('JsonlFollower notices a file replaced by a longer one', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'metrics.jsonl');
  writeFileSync(file, `${row(1)}\n`);
  const follow = new JsonlFollower(file, validateMetricsRow);
  assert.equal((await follow.poll()).records.length, 1);
  writeFileSync(join(dir, 'new'), `${row(5)}\n${row(6)}\n${row(7)}\n`);
  renameSync(join(dir, 'new'), file);
  assert.deepEqual(await follow.poll(), { records: [5, 6, 7].map((s) => ({ step: s, reward: s / 10 })), restarted: true });
});

test('a wrongly typed field of a pretty-printed run.json is reported at its line', async (t) => {
  const w = RunWriter.create(tempDir(t), newManifest());
  const text = readFileSync(join(w.dir, 'run.json'), 'utf8').replace('"seed": 7', '"seed": "seven"');
  writeFileSync(join(w.dir, 'run.json'), text);
  const run = await readRun(w.dir);
  const line = text.split('\n').findIndex((l) => l.includes('"seed"')) + 1;
  assert.ok(line > 1);
  assert.equal(String(run.issues[0]), `${join(w.dir, 'run.json')}:${line}: seed must be an integer, got string "seven"`);
});

test('a text held whole reads like the streamed file: same records, same issues, same torn-last-line rule', async (t) => {
  const dir = tempDir(t);
  const texts = [
    `${row(1)}\n${row(2)}\n{"step": 3, "rew`,
    `${row(1)}\n${row(2)}`,
    `${row(1)}\n{"step": "two"}`,
    `${row(1)}\n{"step": 2, oops}\n${row(3)}\n`,
    `\ufeff${row(1)}\r\n\r\n${row(2)}\r\n`,
    '',
  ];
  for (const [i, text] of texts.entries()) {
    const file = join(dir, `m${i}.jsonl`);
    writeFileSync(file, text);
    const streamed = await readAll(file, validateMetricsRow);
    const issues: LineIssue[] = [];
    const whole = parseJsonlText(text, file, validateMetricsRow, (x) => issues.push(x));
    assert.deepEqual(whole.map((w) => w.record), streamed.records, JSON.stringify(text));
    assert.deepEqual(issues.map(formatIssue), streamed.issues.map(formatIssue), JSON.stringify(text));
  }
});

test('one rollout line: a validated record (null reads as NaN), or an issue naming file:line and the field', () => {
  const good = rollout(3, 0);
  const line = JSON.stringify({ ...good, tokenAdvantages: [null, 1, 2, 3] });
  const ok = parseRolloutLine(line, 'step-000003.jsonl', 7);
  assert.ok(ok.record && Number.isNaN(ok.record.tokenAdvantages[0]));
  const bad = parseRolloutLine(JSON.stringify({ ...good, tokenAdvantages: [1] }), 'step-000003.jsonl', 7);
  assert.equal(bad.record, undefined);
  assert.equal(formatIssue(bad.issue!), 'step-000003.jsonl:7: tokenAdvantages has 1 entries, tokens has 4');
  assert.match(formatIssue(parseRolloutLine('{"id": ', 'f', 2).issue!), /^f:2: not valid JSON/);
});

// Found by `npm run fuzz` (seed 20261202, rollouts JSONL, case 451): a rollout line whose unknown field `extra`
// nested 20,000 levels was read as a record, which then threw RangeError wherever it was serialised (the
// webview's postMessage, JSON.stringify). Such a line, and such a run.json, is now refused by file:line and field.
test('a record nested more than 256 levels deep is an issue naming file:line and the field in every reader, run.json too', async (t) => {
  const dir = tempDir(t);
  const deep = (n: number) => '['.repeat(n) + ']'.repeat(n);
  const line1 = JSON.stringify({ ...rollout(3, 0), extra: { x: 0 } }).replace('{"x":0}', `{"x":${deep(20_000)}}`);
  const line2 = JSON.stringify(rollout(3, 1));
  const file = join(dir, 'step-000003.jsonl');
  writeFileSync(file, `${line1}\n${line2}\n`);
  const reason = 'extra is nested too deeply (more than 256 levels)';

  const streamed = await readAll(file, validateRollout);
  assert.deepEqual(streamed.issues.map(formatIssue), [`${file}:1: ${reason}`]);
  assert.deepEqual(streamed.records.map((r) => r.id), ['3-1']);
  const whole: LineIssue[] = [];
  assert.deepEqual(parseJsonlText(readFileSync(file, 'utf8'), file, validateRollout, (i) => whole.push(i)).map((r) => r.line), [2]);
  assert.deepEqual(whole.map(formatIssue), [`${file}:1: ${reason}`]);
  const followedIssues: LineIssue[] = [];
  const follower = new JsonlFollower(file, validateRollout, (i) => followedIssues.push(i));
  const followed = (await follower.poll()).records;
  assert.deepEqual(followed.map((r) => r.id), ['3-1']);
  assert.deepEqual(followedIssues.map(formatIssue), [`${file}:1: ${reason}`]);
  assert.equal(parseRolloutLine(line1, file, 1).issue?.reason, reason);
  assert.doesNotThrow(() => JSON.stringify([streamed.records, followed]));

  // The bound: 256 levels are a record, 257 are not.
  const at = (levels: number) => JSON.stringify({ ...rollout(3, 2), extra: 0 }).replace('"extra":0', `"extra":{"x":${deep(levels - 2)}}`);
  assert.ok(parseRolloutLine(at(256), file, 1).record);
  assert.equal(parseRolloutLine(at(257), file, 1).issue?.reason, reason);

  // run.json: the field and its line; readRun reports it and does not throw.
  const w = RunWriter.create(dir, newManifest());
  const manifest = readFileSync(join(w.dir, 'run.json'), 'utf8');
  writeFileSync(join(w.dir, 'run.json'), manifest.replace('"k": 0.4', `"k": ${deep(20_000)}`));
  const configLine = manifest.split('\n').findIndex((l) => l.includes('"config"')) + 1;
  const info = await readRun(w.dir);
  assert.equal(info.manifest, undefined);
  assert.deepEqual(info.issues.map(formatIssue), [`${join(w.dir, 'run.json')}:${configLine}: config is nested too deeply (more than 256 levels)`]);
});
