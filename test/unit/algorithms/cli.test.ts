/**
 * The `advantages` CLI against its contract: random batches agree with the independent reference
 * (reference.ts) to 1e-4, every bad input gets its one named error and exit code 2, and the real
 * process exits with that code.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../../src/cli/advantages';
import { randomBatch, type RandomRollout } from './random';
import { refK3, referenceAdvantages, type RefResult } from './reference';

async function runCli(argv: string[], stdin = ''): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, { stdin, stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) } });
  return { code, stdout, stderr };
}

/** The contract's input form of a random batch: only the views the algorithm reads (others omitted at random). */
function toInput(batch: RandomRollout[], algorithm: string, config: Record<string, unknown>) {
  const multimask = config.rvd === 'multimask';
  return {
    algorithm,
    config,
    rollouts: batch.map((r, i) => {
      const logp: Record<string, unknown> = { image: r.logp.image };
      const want = algorithm === 'vppo' ? ['perturbed'] : algorithm === 'pgpo' ? ['blind'] : algorithm === 'prpo' ? (multimask ? ['perturbed'] : ['blind', 'mild']) : [];
      for (const v of ['blind', 'perturbed', 'mild'] as const) {
        if (want.includes(v) || i % 3 === 0) logp[v] = v === 'perturbed' && multimask ? r.masks : r.logp[v];
      }
      return { id: r.id, group: r.group, reward: r.reward, logp };
    }),
  };
}

const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) <= 1e-4 * Math.max(1, Math.abs(b)), `${what}: ${a} vs reference ${b}`);
const closeRow = (a: number[] | undefined, b: number[] | undefined, what: string) => {
  if (b === undefined) return;
  assert.ok(a, `${what}: missing`);
  assert.equal(a.length, b.length, `${what}: length`);
  a.forEach((x, t) => close(x, b[t], `${what}[${t}]`));
};

const variants: Array<[string, Record<string, unknown>]> = [
  ['grpo', {}],
  ['dapo', { normalizeByStd: false }],
  ['vppo', {}],
  ['vppo', { topK: 0.25, betaMin: 0.5 }],
  ['vppo', { topK: 1, normalizeByStd: false }],
  ['vppo', { topK: 0.28 }], // 0.28·25 = 7.000000000000001
  ['pgpo', {}],
  ['pgpo', { tau: 0.1, beta: 0.5 }],
  ['prpo', {}],
  ['prpo', { lambda: 3, tau: 0.2, beta: 2 }],
  ['prpo', { rvd: 'gate', quantile: 0.5 }],
  ['prpo', { rvd: 'multimask', kappa: 0.5 }],
  ['prpo', { rvd: 'multimask', masks: 3, massConserving: true }],
  ['prpo', { threshold: { quantile: 0.7 } }],
  ['prpo', { rvd: 'gate', massConserving: true, threshold: { quantile: 0.3 } }],
  ['prpo', { groundingFloor: 0, instabilityFloor: 0 }], // the first version's plain minmax
  ['prpo', { groundingFloor: 2, instabilityFloor: 3 }], // floors that bite on the random scores
  ['prpo', { rvd: 'gate', groundingFloor: 1.5 }],
];

test('the random batches do hold clamps, ties and degenerate cases', () => {
  const seen = { k3AtMax: 0, logRatioBeyond20: 0, oneToken: 0, groupOfOne: 0, equalRewards: 0, tiedScores: 0 };
  for (let seed = 100; seed < 100 + 2 * variants.length; seed++) {
    const batch = randomBatch(seed);
    const groups = new Map<string, number[]>();
    for (const r of batch) {
      groups.set(r.group, [...(groups.get(r.group) ?? []), r.reward]);
      if (r.logp.image.length === 1) seen.oneToken++;
      const S = r.logp.image.map((a, t) => refK3(a, r.logp.perturbed[t]));
      if (S.some((x) => x === 10)) seen.k3AtMax++;
      if (r.logp.image.some((a, t) => Math.abs(r.logp.blind[t] - a) > 20)) seen.logRatioBeyond20++;
      if (new Set(S).size < S.length) seen.tiedScores++;
    }
    for (const rewards of groups.values()) {
      if (rewards.length === 1) seen.groupOfOne++;
      else if (rewards.every((x) => x === rewards[0])) seen.equalRewards++;
    }
  }
  for (const [what, n] of Object.entries(seen)) assert.ok(n > 0, `no ${what} in the random batches`);
});

test('CLI output matches the independent reference on random batches (clamps, ties, degenerate groups)', async () => {
  for (const [i, [algorithm, config]] of variants.entries()) {
    for (const seed of [100 + i, 200 + i]) {
      const batch = randomBatch(seed);
      const input = toInput(batch, algorithm, config);
      const { code, stdout, stderr } = await runCli([], JSON.stringify(input));
      assert.equal(code, 0, stderr);
      const out = JSON.parse(stdout) as { rollouts: Array<RefResult & { scores?: Record<string, number[]> }> };
      const ref = referenceAdvantages(algorithm, config, input.rollouts as never);
      assert.equal(out.rollouts.length, ref.length);
      out.rollouts.forEach((got, j) => {
        const want = ref[j];
        const what = `${algorithm} ${JSON.stringify(config)} seed ${seed} rollout ${want.id}`;
        assert.equal(got.id, want.id);
        close(got.advantage, want.advantage, `${what} advantage`);
        closeRow(got.tokenAdvantages, want.tokenAdvantages, `${what} tokenAdvantages`);
        closeRow(got.weights, want.weights, `${what} weights`);
        closeRow(got.scores?.rvd, want.rvd, `${what} rvd`);
        closeRow(got.scores?.G, want.G, `${what} G`);
        closeRow(got.scores?.U, want.U, `${what} U`);
        closeRow(got.scores?.S, want.S, `${what} S`);
        if (want.mask) assert.deepEqual(got.mask, want.mask, `${what} mask`);
        if (want.alpha !== undefined) close(got.alpha!, want.alpha, `${what} alpha`);
      });
    }
  }
});

const good = { id: 'r3', group: 'g', reward: 1, logp: { image: [-1, -2, -3, -1, -2, -3], blind: [-1, -2, -3, -1, -2, -4], mild: [-1, -2, -3, -1, -2, -3] } };
const batchWith = (algorithm: string, rollout: unknown, config: unknown = {}) => JSON.stringify({ algorithm, config, rollouts: [good, rollout].filter((r) => r !== good || rollout !== undefined) });
const r3 = (patch: Record<string, unknown>, logp: Record<string, unknown> = {}) => ({ ...good, id: 'r4', ...patch, logp: { ...good.logp, ...logp } });

const badInputs: Array<[string, string, RegExp]> = [
  ['not JSON', '{"algorithm": "grpo", rollouts: []}', /^stdin is not valid JSON \(/],
  ['not an object', '[1, 2]', /^stdin: expected a JSON object \{"algorithm", "config", "rollouts"\}, got an array$/],
  ['unknown algorithm', batchWith('ppo', r3({})), /^algorithm: expected one of grpo, dapo, vppo, pgpo, prpo, got "ppo"$/],
  ['missing algorithm', JSON.stringify({ rollouts: [] }), /^algorithm: missing/],
  ['unknown top-level key', JSON.stringify({ algorithm: 'grpo', rollouts: [], extra: 1 }), /^extra: unknown key/],
  ['rollouts not an array', JSON.stringify({ algorithm: 'grpo', rollouts: {} }), /^rollouts: expected an array of rollouts, got object$/],
  ['missing view', batchWith('pgpo', r3({}, { blind: undefined })), /^rollout "r4": logp\.blind is missing; pgpo needs the blind view$/],
  ['missing perturbed for vppo', batchWith('vppo', r3({})), /^rollout "r3": logp\.perturbed is missing; vppo needs the perturbed view$/],
  ['lengths differ', batchWith('pgpo', r3({}, { blind: [-1, -2, -3, -1, -2] })), /^rollout "r4": logp\.blind has 5 entries, logp\.image has 6$/],
  ['lengths differ in an unused view', batchWith('grpo', r3({}, { mild: [-1] })), /^rollout "r4": logp\.mild has 1 entries, logp\.image has 6$/],
  ['non-finite entry (null)', batchWith('prpo', r3({}, { mild: [-1, -2, null, -1, -2, -3] })), /^rollout "r4": logp\.mild\[2\] is null, expected a finite number$/],
  ['non-finite entry (1e999)', '{"algorithm": "grpo", "rollouts": [{"id": "r4", "group": "g", "reward": 1, "logp": {"image": [-1, 1e999]}}]}', /^rollout "r4": logp\.image\[1\] is Infinity, expected a finite number$/],
  ['string entry', batchWith('grpo', r3({}, { image: [-1, '2'], blind: undefined, mild: undefined })), /^rollout "r4": logp\.image\[1\] is "2", expected a finite number$/],
  ['non-finite reward', batchWith('grpo', r3({ reward: null })), /^rollout "r4": reward is null, expected a finite number$/],
  ['missing group', batchWith('grpo', r3({ group: undefined })), /^rollout "r4": group must be a string, got missing$/],
  ['missing id', batchWith('grpo', r3({ id: undefined })), /^rollouts\[1\]: id must be a string, got missing$/],
  ['duplicate id', batchWith('grpo', r3({ id: 'r3' })), /^rollout "r3": id is used by another rollout of the batch$/],
  ['empty response', batchWith('grpo', r3({}, { image: [], blind: undefined, mild: undefined })), /^rollout "r4": logp\.image is empty \(a response needs at least one token\)$/],
  ['missing logp', batchWith('grpo', { id: 'r4', group: 'g', reward: 0 }), /^rollout "r4": logp must be an object of per-token arrays, got missing$/],
  ['unknown view', batchWith('grpo', r3({}, { text: [1] })), /^rollout "r4": logp\.text is not a view \(expected image, blind, perturbed, mild\)$/],
  ['multimask needs several masks', batchWith('prpo', r3({}, { perturbed: [-1, -2, -3, -1, -2, -3] }), { rvd: 'multimask' }), /^rollout "r3": logp\.perturbed is missing; prpo needs the perturbed view$/],
  ['multimask given one array', JSON.stringify({ algorithm: 'prpo', config: { rvd: 'multimask' }, rollouts: [r3({}, { perturbed: [-1, -2, -3, -1, -2, -3] })] }), /^rollout "r4": logp\.perturbed must be an array of arrays \(one per perturbed mask\) for multimask RVD, got one array of numbers$/],
  ['multimask mask of wrong length', JSON.stringify({ algorithm: 'prpo', config: { rvd: 'multimask' }, rollouts: [r3({}, { perturbed: [[-1, -2, -3, -1, -2, -3], [-1]] })] }), /^rollout "r4": logp\.perturbed\[1\] has 1 entries, logp\.image has 6$/],
  ['vppo given several masks', JSON.stringify({ algorithm: 'vppo', rollouts: [r3({}, { perturbed: [[-1, -2, -3, -1, -2, -3], [-1, -2, -3, -1, -2, -3]] })] }), /^rollout "r4": logp\.perturbed has 2 masks, this algorithm reads one perturbed view$/],
  ['exact KL scores missing', batchWith('pgpo', r3({}), { kl: 'exact' }), /^rollout "r3": dependency\.blind is missing; pgpo needs the blind view \(config\.kl is "exact"\)$/],
  ['negative exact KL score', JSON.stringify({ algorithm: 'pgpo', config: { kl: 'exact' }, rollouts: [{ ...r3({}), dependency: { blind: [0, 0, -1, 0, 0, 0] } }] }), /^rollout "r4": dependency\.blind\[2\] is -1, expected a KL ≥ 0$/],
  ['unknown config key', batchWith('pgpo', r3({}), { tua: 0.3 }), /^config\.tua: unknown key \(known: /],
  ['wrongly typed config key', batchWith('pgpo', r3({}), { tau: 'x' }), /^config\.tau: expected a number in \[0, 1\), got "x"$/],
  ['config out of range', batchWith('prpo', r3({}), { beta: -1 }), /^config\.beta: expected a number ≥ 0, got -1$/],
  ['config not an object', batchWith('prpo', r3({}), [1]), /^config: expected an object, got an array$/],
  ['bad threshold', batchWith('prpo', r3({}), { threshold: { quantile: 2 } }), /^config\.threshold: expected null or \{"quantile": a number in \[0, 1\]\}, got \{"quantile":2\}$/],
];

test('every bad input gets exit code 2 and one message naming the rollout and field', async () => {
  for (const [what, stdin, re] of badInputs) {
    const { code, stdout, stderr } = await runCli([], stdin);
    assert.equal(code, 2, `${what}: exit code (stderr ${stderr})`);
    assert.equal(stdout, '', `${what}: nothing on stdout`);
    assert.ok(stderr.endsWith('\n') && stderr.split('\n').length === 2, `${what}: one line, got ${JSON.stringify(stderr)}`);
    const message = stderr.replace(/^prpo-studio advantages: /, '').trimEnd();
    assert.match(message, re, what);
  }
});

test('options: --input, --algorithm and --set override the input, --help, bad options', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'prpo-adv-'));
  try {
    const file = join(dir, 'batch.json');
    const batch = randomBatch(7);
    writeFileSync(file, JSON.stringify(toInput(batch, 'prpo', {})));
    const viaFile = await runCli(['--input', file, '--set', 'rvd=gate', '--config', '{"beta": 2}']);
    assert.equal(viaFile.code, 0, viaFile.stderr);
    const out = JSON.parse(viaFile.stdout);
    assert.equal(out.config.rvd, 'gate');
    assert.equal(out.config.beta, 2);
    const ref = referenceAdvantages('prpo', { rvd: 'gate', beta: 2 }, toInput(batch, 'prpo', {}).rollouts as never);
    out.rollouts.forEach((r: RefResult, j: number) => closeRow(r.tokenAdvantages, ref[j].tokenAdvantages, `--input ${r.id}`));
    const asPgpo = await runCli(['--input', file, '--algorithm', 'pgpo']);
    assert.equal(JSON.parse(asPgpo.stdout).algorithm, 'pgpo');
    assert.match((await runCli(['--input', join(dir, 'nope.json')])).stderr, /--input .*nope\.json: cannot be read \(ENOENT\)/);
    assert.match((await runCli(['--frobnicate'])).stderr, /unknown option "--frobnicate"/);
    assert.match((await runCli(['--set', 'tau'])).stderr, /--set expects KEY=VALUE/);
    const help = await runCli(['--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /usage: prpo-studio advantages/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('what-if: --rollouts re-reshapes a run\'s logged rollouts under other hyperparameters', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'prpo-run-'));
  try {
    mkdirSync(join(dir, 'rollouts'));
    const manifest = {
      schema: 'prpo-studio/run@1', id: 'run1', name: 'run1', created: '2026-01-01T00:00:00.000Z', source: 'prpo-studio',
      algorithm: 'pgpo', config: { tau: 0.3, lr: 1e-4 }, model: { name: 'tiny', config: {} }, task: { name: 'shapes', config: {} }, seed: 1,
    };
    writeFileSync(join(dir, 'run.json'), JSON.stringify(manifest));
    const batch = randomBatch(9);
    const lines = batch.map((r) => JSON.stringify({ ...r, step: 1, prompt: 'p', response: 'x', tokens: r.logp.image.map(() => 'x'), advantage: 0, tokenAdvantages: r.logp.image.map(() => 0) }));
    const file = join(dir, 'rollouts', 'step-000001.jsonl');
    writeFileSync(file, lines.join('\n') + '\n');
    // the run's own algorithm and config (tau 0.3; the trainer's lr is ignored) …
    const same = await runCli(['--rollouts', file]);
    assert.equal(same.code, 0, same.stderr);
    const out = JSON.parse(same.stdout);
    assert.equal(out.algorithm, 'pgpo');
    assert.equal(out.config.tau, 0.3);
    const ref = referenceAdvantages('pgpo', { tau: 0.3 }, batch);
    out.rollouts.forEach((r: RefResult & { logged: unknown }, j: number) => {
      closeRow(r.tokenAdvantages, ref[j].tokenAdvantages, `what-if ${r.id}`);
      assert.deepEqual(r.logged, { advantage: 0, tokenAdvantages: batch[j].logp.image.map(() => 0) });
    });
    // … or another algorithm with overrides
    const other = await runCli(['--rollouts', file, '--algorithm', 'prpo', '--set', 'rvd=gate']);
    const ref2 = referenceAdvantages('prpo', { rvd: 'gate', tau: 0.3 }, batch);
    JSON.parse(other.stdout).rollouts.forEach((r: RefResult, j: number) => closeRow(r.tokenAdvantages, ref2[j].tokenAdvantages, `what-if prpo ${r.id}`));
    // a malformed line is named by file and line
    writeFileSync(file, lines[0] + '\n{oops\n' + lines[1] + '\n');
    const bad = await runCli(['--rollouts', file]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /step-000001\.jsonl:2: not valid JSON/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the real process: exit code 2 with the named error, 0 with JSON on stdout', () => {
  // Through the CLI's entry point from source (no build needed); dist/cli.js too when it was built after
  // the last change to the sources it bundles from here (a stale bundle would test old code).
  const commands: string[][] = [[process.execPath, '--import', 'tsx', 'src/cli/main.ts', 'advantages']];
  const sources = ['src/cli/main.ts', 'src/cli/advantages.ts', ...readdirSync('src/core/algorithms').map((f) => join('src/core/algorithms', f))];
  if (existsSync('dist/cli.js') && sources.every((f) => statSync(f).mtimeMs <= statSync('dist/cli.js').mtimeMs)) {
    commands.push([process.execPath, 'dist/cli.js', 'advantages']);
  }
  const bad = JSON.stringify({ algorithm: 'pgpo', rollouts: [{ id: 'r3', group: 'g', reward: 1, logp: { image: [1, 2, 3, 4, 5, 6], blind: [1, 2, 3, 4, 5] } }] });
  const ok = JSON.stringify({ algorithm: 'grpo', rollouts: [{ id: 'a', group: 'g', reward: 1, logp: { image: [-1, -2] } }, { id: 'b', group: 'g', reward: 0, logp: { image: [-1] } }] });
  for (const [cmd, ...args] of commands) {
    const r = spawnSync(cmd, args, { input: bad, encoding: 'utf8' });
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stderr, 'prpo-studio advantages: rollout "r3": logp.blind has 5 entries, logp.image has 6\n');
    const g = spawnSync(cmd, args, { input: ok, encoding: 'utf8' });
    assert.equal(g.status, 0, g.stderr);
    const out = JSON.parse(g.stdout);
    assert.deepEqual(out.rollouts.map((r: { id: string }) => r.id), ['a', 'b']);
    assert.equal(out.rollouts[0].tokenAdvantages.length, 2);
  }
});
