/**
 * Property-based fuzzing of every reader of files other programs write (issue #14): run.json, metrics /
 * rollouts / events JSONL (streamed, followed, held whole), checkpoint manifests and files, safetensors,
 * the verl / EasyR1 / TRL importers (JSONL, trainer_state.json, parquet), run config files and the
 * `advantages` input. Valid files are damaged by seeded mutations (mutate.ts); for every case the reader
 * must not crash (only its documented error type), must not hang, and every refusal must name file:line or
 * the field. Short mode runs in `npm test`; `npm run fuzz` runs thousands of cases per reader.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { HANG_MS, mutateBytes, mutateJson, mutateJsonBytes, ops, params, timed } from './mutate';
import { tempDir, newManifest, rollout } from '../run/helpers';
import {
  CheckpointError,
  JsonlFollower,
  RunFormatError,
  RunWriter,
  checkpointComplete,
  listCheckpoints,
  listRuns,
  parseJsonlText,
  parseRolloutLine,
  readCheckpoint,
  readJsonl,
  readManifest,
  readRun,
  validateEvent,
  validateMetricsRow,
  validateRollout,
  type LineIssue,
} from '../../../src/core/run';
import { readVerlStep } from '../../../src/core/run/importers/verl';
import { importEasyR1 } from '../../../src/core/run/importers/easyr1';
import { readTrlMetrics, readTrlStep } from '../../../src/core/run/importers/trl';
import { readSafetensors, writeSafetensors } from '../../../src/backend/engine/safetensors';
import { parseConfigText, resolveRunConfig } from '../../../src/backend/trainer/config';
import { ConfigError } from '../../../src/core/algorithms';
import { main as advantagesCli } from '../../../src/cli/advantages';
import { encodePng } from '../../../src/core/run/png';
import { imageProblem, readRunImage } from '../../../src/core/run/images';

const FIXTURES = join(import.meta.dirname, '..', '..', 'fixtures', 'importers');
const utf8 = new TextDecoder('utf-8', { ignoreBOM: true });

/** Every issue names its file and a line within it, and says something. */
function assertIssues(issues: LineIssue[], file: string, lines: number): void {
  for (const i of issues) {
    const s = String(i);
    assert.ok(s.startsWith(`${file}:${i.line}: `), `issue does not name file:line: ${s.slice(0, 200)}`);
    assert.ok(Number.isInteger(i.line) && i.line >= 0 && i.line <= lines + 1, `issue line ${i.line} outside the file (${lines} lines)`);
    assert.ok(i.reason.trim().length > 0, 'issue without a reason');
  }
}

const lineCount = (b: Uint8Array) => b.reduce((n, x) => n + (x === 0x0a ? 1 : 0), 0) + 1;

async function collect<T>(gen: AsyncGenerator<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of gen) out.push(x);
  return out;
}

/** A JSONL file of `docs` with one line damaged at the JSON level and the whole at the byte level. */
const jsonlCase = (docs: unknown[]) =>
  fc.tuple(fc.nat(), ops(), fc.array(fc.tuple(fc.nat(), fc.nat(), fc.nat()), { maxLength: 2 })).map(([which, jsonOps, byteOps]) => {
    const lines = docs.map((d) => JSON.stringify(d));
    lines[which % lines.length] = mutateJson(docs[which % docs.length], jsonOps);
    return mutateBytes(new TextEncoder().encode(lines.join('\n') + '\n'), byteOps);
  });

const metricsDocs = [0, 1, 2, 3].map((s) => ({ step: s, time: 1763780000 + s, reward: 0.5, loss: 0.01, gradNorm: 0.8 }));
const eventDocs = [
  { type: 'started', step: 0, time: '2026-11-22T02:55:31.457Z', pid: 25142, host: 'vm' },
  { type: 'checkpoint', step: 3, checkpoint: 'checkpoints/step-000003', time: '2026-11-22T02:55:31.458Z' },
  { type: 'stopped', step: 3, reason: 'asked', time: '2026-11-22T02:55:32.000Z' },
];
const rolloutDocs = [0, 1, 2].map((i) => ({ ...rollout(3, i), topAlternatives: [[[' a', -1]], [], [[' 3', -0.5], [' 4', null]], []], synthetic: ['tokens'], extra: { x: 1 } }));

const JSONL_READERS = [
  { name: 'metrics.jsonl', docs: metricsDocs, validate: validateMetricsRow },
  { name: 'events.jsonl', docs: eventDocs, validate: validateEvent },
  { name: 'rollouts/step-000003.jsonl', docs: rolloutDocs, validate: validateRollout },
] as const;

for (const { name, docs, validate } of JSONL_READERS) {
  test(`fuzz: ${name} — readJsonl, JsonlFollower and parseJsonlText agree, refuse by file:line, never throw`, async (t) => {
    const dir = tempDir(t, 'prpo-fuzz-');
    let n = 0;
    await fc.assert(
      fc.asyncProperty(jsonlCase([...docs]), fc.array(fc.nat(), { maxLength: 4 }), async (bytes, cuts) => {
        const file = join(dir, `${n++}.jsonl`);
        writeFileSync(file, bytes);
        const issues: LineIssue[] = [];
        let streamed: unknown[] = [];
        const ms = await timed(async () => (streamed = await collect(readJsonl(file, validate as (v: unknown, w: string) => unknown, (i) => issues.push(i)))));
        assert.ok(ms < HANG_MS, `readJsonl took ${ms} ms`);
        assertIssues(issues, file, lineCount(bytes));

        // The same text held whole reads the same records.
        const whole = parseJsonlText(utf8.decode(bytes), file, validate as (v: unknown, w: string) => unknown);
        assert.equal(JSON.stringify(whole.map((r) => r.record)), JSON.stringify(streamed));

        // Followed while it is appended in pieces (cut anywhere, even inside a character), then closed with
        // a newline: the follower sees the records a reader of the finished file sees, each once.
        const live = join(dir, `${n++}.jsonl`);
        writeFileSync(live, '');
        const follower = new JsonlFollower(live, validate as (v: unknown, w: string) => unknown, () => {});
        const followed: unknown[] = [];
        const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
        let from = 0;
        for (const p of [...points, bytes.length]) {
          appendFileSync(live, bytes.subarray(from, p));
          from = p;
          followed.push(...(await follower.poll()).records);
        }
        appendFileSync(live, '\n');
        followed.push(...(await follower.poll()).records);
        const finished = await collect(readJsonl(live, validate as (v: unknown, w: string) => unknown));
        assert.equal(JSON.stringify(followed), JSON.stringify(finished));
        rmSync(file);
        rmSync(live);
      }),
      params(name),
    );
  });
}

test('fuzz: parseRolloutLine — any damaged rollout line is a record or an issue naming file:line', () => {
  fc.assert(
    fc.property(fc.nat(), ops(), (which, list) => {
      const text = mutateJson(rolloutDocs[which % rolloutDocs.length], list);
      const r = parseRolloutLine(text, 'step-000003.jsonl', 17);
      if (r.issue) assert.match(String(r.issue), /^step-000003\.jsonl:17: \S/);
      else assert.equal(r.record.tokens.length, r.record.tokenAdvantages.length);
    }),
    params('parseRolloutLine'),
  );
});

const manifestDoc = {
  schema: 'prpo-studio/run@1',
  id: 'vppo-20261122-025531-16b5',
  created: '2026-11-22T02:55:31.439Z',
  name: 'vppo shapes',
  source: 'prpo-studio',
  algorithm: 'vppo',
  config: { k: 0.4, betaMin: 0.9 },
  model: { name: 'tiny-vlm', config: { layers: 2, dModel: 64 } },
  task: { name: 'shapes', config: { grid: 3 } },
  seed: 7,
  steps: 200,
};

test('fuzz: run.json — readManifest refuses with RunFormatError at file:line, readRun and listRuns never throw', async (t) => {
  const root = tempDir(t, 'prpo-fuzz-');
  const dir = join(root, 'run');
  mkdirSync(dir);
  writeFileSync(join(dir, 'events.jsonl'), eventDocs.map((e) => JSON.stringify(e)).join('\n') + '\n');
  const file = join(dir, 'run.json');
  await fc.assert(
    fc.asyncProperty(ops(), async (list) => {
      const bytes = mutateJsonBytes(manifestDoc, list);
      writeFileSync(file, bytes);
      const ms = await timed(async () => {
        try {
          const m = readManifest(dir);
          assert.equal(typeof m.id, 'string');
        } catch (e) {
          assert.ok(e instanceof RunFormatError, `readManifest threw ${(e as Error).name}: ${(e as Error).message}`);
          assert.match(e.where, new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(:\\d+)?$`));
          assert.ok(e.reason.length > 0);
        }
        const info = await readRun(dir, () => true);
        if (!info.manifest) assert.ok(info.issues.some((i) => i.file === file), 'a broken run.json is reported');
        const runs = await listRuns(root, () => true);
        assert.equal(runs.length, 1);
      });
      assert.ok(ms < HANG_MS, `run.json read took ${ms} ms`);
    }),
    params('run.json'),
  );
});

test('fuzz: checkpoints — a damaged manifest or file is refused with CheckpointError naming it, never read as good', async (t) => {
  const root = tempDir(t, 'prpo-fuzz-');
  const w = RunWriter.create(root, newManifest());
  const weights = writeSafetensors([{ name: 'w', shape: [2, 3], data: Float32Array.of(1, 2, 3, 4, 5, 6) }]);
  const files = { 'weights.safetensors': weights, 'trainer.json': new TextEncoder().encode('{"step":3}') };
  const ckpt = w.writeCheckpoint(3, files);
  const manifestFile = join(ckpt, 'manifest.json');
  const good = readFileSync(manifestFile);
  const goodManifest = JSON.parse(good.toString('utf8'));
  await fc.assert(
    fc.asyncProperty(fc.nat({ max: 2 }), ops(), async (target, list) => {
      writeFileSync(manifestFile, good);
      for (const [name, data] of Object.entries(files)) writeFileSync(join(ckpt, name), data);
      const damaged = target === 0 ? 'manifest.json' : Object.keys(files)[target - 1];
      const bytes = target === 0 ? mutateJsonBytes(goodManifest, list) : mutateBytes(files[damaged as keyof typeof files], list);
      writeFileSync(join(ckpt, damaged), bytes);
      const ms = await timed(() => {
        let read: ReturnType<typeof readCheckpoint> | undefined;
        try {
          read = readCheckpoint(ckpt);
        } catch (e) {
          assert.ok(e instanceof CheckpointError, `readCheckpoint threw ${(e as Error).name}: ${(e as Error).message}`);
          assert.match(e.message, /^checkpoint step-000003: \S/);
        }
        // Whatever it accepted is byte-identical to what the trainer wrote.
        if (read) for (const [name, data] of Object.entries(read.files)) assert.deepEqual(Buffer.from(data), Buffer.from(files[name as keyof typeof files] ?? data));
        checkpointComplete(ckpt);
        assert.equal(listCheckpoints(w.dir).length, 1);
      });
      assert.ok(ms < HANG_MS, `checkpoint read took ${ms} ms`);
    }),
    params('checkpoint'),
  );
});

test('fuzz: safetensors — damaged bytes or header are refused with a "safetensors:" error, without a huge allocation', () => {
  const good = writeSafetensors([
    { name: 'a', shape: [2, 3], data: Float32Array.of(1, 2, 3, 4, 5, 6) },
    { name: 'b', shape: [4], data: Float32Array.of(-1, 0, 1, 2) },
  ]);
  const headerLength = Number(new DataView(good.buffer).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(good.subarray(8, 8 + headerLength)));
  const data = good.subarray(8 + headerLength);
  /** A file whose JSON header is damaged but framed with its true length (so the header parser is reached). */
  const reframed = (list: [number, number, number][]) => {
    const h = new TextEncoder().encode(mutateJson(header, list));
    const out = new Uint8Array(8 + h.length + data.length);
    new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
    out.set(h, 8);
    out.set(data, 8 + h.length);
    return out;
  };
  fc.assert(
    fc.property(fc.boolean(), ops(), (inHeader, list) => {
      const bytes = inHeader ? reframed(list) : mutateBytes(good, list);
      const before = process.memoryUsage().arrayBuffers;
      try {
        const { tensors } = readSafetensors(bytes);
        let values = 0;
        for (const t of tensors.values()) values += t.data.length;
        assert.ok(values * 4 <= bytes.length, `${values} values read from ${bytes.length} bytes`);
      } catch (e) {
        assert.ok(e instanceof Error && e.constructor === Error, `threw ${(e as Error).name}`);
        assert.match((e as Error).message, /^safetensors: \S/);
      }
      assert.ok(process.memoryUsage().arrayBuffers - before < 64 << 20, 'a damaged file made a large allocation');
    }),
    params('safetensors'),
  );
});

const verlDocs = readFileSync(join(FIXTURES, 'verl', 'rollout_data', '1.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));

test('fuzz: verl dumps — readVerlStep refuses bad lines by file:line, never throws', async (t) => {
  const dir = tempDir(t, 'prpo-fuzz-');
  const file = join(dir, '1.jsonl');
  await fc.assert(
    fc.asyncProperty(jsonlCase(verlDocs), async (bytes) => {
      writeFileSync(file, bytes);
      const issues: LineIssue[] = [];
      const ms = await timed(async () => {
        const records = await readVerlStep(file, 1, (i) => issues.push(i));
        for (const r of records) assert.equal(r.tokens.join(''), r.response);
      });
      assert.ok(ms < HANG_MS, `verl read took ${ms} ms`);
      assertIssues(issues, file, lineCount(bytes));
    }),
    params('verl'),
  );
});

const easyDocs = readFileSync(join(FIXTURES, 'easyr1', 'experiment_log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));

test('fuzz: EasyR1 logs — readMetrics refuses bad lines by file:line, never throws', async (t) => {
  const dir = tempDir(t, 'prpo-fuzz-');
  const file = join(dir, 'experiment_log.jsonl');
  await fc.assert(
    fc.asyncProperty(jsonlCase(easyDocs), async (bytes) => {
      writeFileSync(file, bytes);
      const issues: LineIssue[] = [];
      const ms = await timed(async () => {
        const rows = await importEasyR1(dir).readMetrics((i) => issues.push(i));
        for (const r of rows) assert.ok(Number.isInteger(r.step));
      });
      assert.ok(ms < HANG_MS, `EasyR1 read took ${ms} ms`);
      assertIssues(issues, file, lineCount(bytes));
    }),
    params('easyr1'),
  );
});

const trlState = JSON.parse(readFileSync(join(FIXTURES, 'trl', 'output', 'checkpoint-20', 'trainer_state.json'), 'utf8'));
const trlParquet = new Uint8Array(readFileSync(join(FIXTURES, 'trl', 'output', 'completions', 'completions_00020.parquet')));

test('fuzz: TRL trainer_state.json — readTrlMetrics reports, never throws', async (t) => {
  const dir = tempDir(t, 'prpo-fuzz-');
  const file = join(dir, 'trainer_state.json');
  fc.assert(
    fc.property(ops(), (list) => {
      writeFileSync(file, mutateJsonBytes(trlState, list));
      const issues: LineIssue[] = [];
      const rows = readTrlMetrics(file, (i) => issues.push(i));
      for (const r of rows) assert.ok(Number.isInteger(r.step));
      assertIssues(issues, file, 0);
    }),
    params('trl-state'),
  );
});

test('fuzz: TRL parquet — corrupt bytes are reported as file:0 (or file:row), never thrown, never hang', async (t) => {
  const dir = tempDir(t, 'prpo-fuzz-');
  const file = join(dir, 'completions_00020.parquet');
  await fc.assert(
    fc.asyncProperty(ops(), async (list) => {
      const bytes = mutateBytes(trlParquet, list);
      writeFileSync(file, bytes);
      const issues: LineIssue[] = [];
      const ms = await timed(async () => {
        const records = await readTrlStep(file, 20, (i) => issues.push(i));
        for (const r of records) assert.equal(r.tokens.join(''), r.response);
      });
      assert.ok(ms < HANG_MS, `parquet read took ${ms} ms`);
      for (const i of issues) assert.match(String(i), /completions_00020\.parquet:\d+: \S/);
    }),
    params('trl-parquet'),
  );
});

const configDoc = { groupSize: 4, lr: 0.001, temperature: 1, tau: 0.3, task: { gridMin: 2, gridMax: 3, questionTypes: ['count'] } };

test('fuzz: run config files — parseConfigText and resolveRunConfig refuse with a ConfigError naming the key or file', () => {
  fc.assert(
    fc.property(fc.constantFrom('prpo', 'vppo', 'grpo', 'dapo', 'pgpo'), ops(), (preset, list) => {
      const text = mutateJson(configDoc, list);
      try {
        resolveRunConfig(preset, parseConfigText(text, 'run-config.json'));
      } catch (e) {
        assert.ok(e instanceof ConfigError, `threw ${(e as Error).name}: ${(e as Error).message.slice(0, 200)}`);
        assert.match(e.message, /^(run-config\.json: |config(\.[\w$]+)*[:.]|[\w$.]+: )/, e.message.slice(0, 200));
      }
    }),
    params('config'),
  );
});

const batchDoc = {
  algorithm: 'prpo',
  config: { tau: 0.3 },
  rollouts: [0, 1, 2, 3].map((i) => ({
    id: `r${i}`,
    group: `g${i >> 1}`,
    reward: i % 2,
    logp: { image: [-0.1, -0.5, -1.2], blind: [-0.4, -0.6, -2.5], mild: [-0.2, -0.5, -1.5] },
  })),
};

test('fuzz: advantages input — exit 0 with output or exit 2 with one line naming the field; never a throw', async () => {
  await fc.assert(
    fc.asyncProperty(ops(), async (list) => {
      let stdout = '';
      let stderr = '';
      const stdin = mutateJson(batchDoc, list);
      const code = await advantagesCli([], { stdin, stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) } });
      if (code === 0) assert.ok(Array.isArray(JSON.parse(stdout).rollouts));
      else {
        assert.equal(code, 2);
        assert.match(stderr, /^prpo-studio advantages: \S[^\n]*\n$/);
      }
    }),
    params('advantages'),
  );
});

test('fuzz: image headers (PNG, and JPEG/GIF/WebP sniffing) — a damaged image is a sentence or accepted within the size bound, never a throw', async (t) => {
  const png = encodePng(new Float32Array(3 * 8 * 8).fill(0.3), 8, 8, 3);
  const dir = tempDir(t, 'prpo-fuzz-');
  mkdirSync(join(dir, 'images'));
  const file = join(dir, 'images', 'x.png');
  await fc.assert(
    fc.asyncProperty(fc.constantFrom('image/png', 'image/jpeg', 'image/gif', 'image/webp'), ops(), async (mime, list) => {
      const bytes = mutateBytes(png, list);
      const problem = imageProblem(bytes, mime);
      if (problem === undefined) {
        // Accepted: a real header of that type whose claimed size is within the bound.
        assert.equal(mime, 'image/png');
        assert.ok(new DataView(bytes.buffer, bytes.byteOffset).getUint32(16) <= 16_384);
      } else assert.match(problem, /^(is not|claims) /);
      writeFileSync(file, bytes);
      const r = await readRunImage(dir, 'images/x.png');
      if (r.error !== undefined) assert.match(r.error, /^The image "images\/x\.png" /);
    }),
    params('image headers'),
  );
});
