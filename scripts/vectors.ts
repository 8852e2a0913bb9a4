/**
 * `npm run vectors`: writes test/vectors/advantages.json, the shared vectors both estimator implementations are
 * checked against (test/unit/algorithms/vectors.test.ts re-runs the TypeScript CLI on them; python/tests/
 * test_vectors.py runs `python -m prpo_studio advantages`), to 1e-6.
 *
 * Every case is a real run of the `advantages` CLI (src/cli/advantages.ts, in process) on a seeded random batch
 * (test/unit/algorithms/random.ts: quantized log-probs so scores tie, views far enough apart to hit the k3 clamps,
 * L = 1 responses, groups of one, groups whose rewards are all equal) or on a hand-made edge batch, over every
 * preset and option; plus bad inputs with the CLI's exact one-line message. Regenerate after any change to the
 * estimators that is meant to change their numbers, and say why in the commit.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { main } from '../src/cli/advantages';
import { k3 } from '../src/core/algorithms';
import { randomBatch, rng, type RandomRollout } from '../test/unit/algorithms/random';

export const VECTORS_FILE = join(__dirname, '..', 'test', 'vectors', 'advantages.json');

/** One in-process run of the `advantages` CLI. */
export async function runCli(argv: string[], stdin: string): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, { stdin, stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) } });
  return { code, stdout, stderr };
}

/** The contract's input for a random batch: the views the configuration reads, and every third rollout all of them. */
function toInput(batch: RandomRollout[], algorithm: string, config: Record<string, unknown>, seed: number) {
  const multimask = config.rvd === 'multimask';
  const exact = config.kl === 'exact';
  // The controls (oracle, random) read no probe view, only the ground-truth flags.
  const control = config.estimator === 'oracle' || config.estimator === 'random';
  const want = control ? [] : algorithm === 'vppo' ? ['perturbed'] : algorithm === 'pgpo' ? ['blind'] : algorithm === 'prpo' ? (multimask ? ['perturbed'] : ['blind', 'mild']) : [];
  const rand = rng(seed * 7919);
  // Their own stream, so the other cases' inputs stay as they were: about a third of the tokens perceptual,
  // every fifth response none and every seventh all.
  const flags = rng(seed * 104729);
  const labelsOf = (L: number, i: number) => Array.from({ length: L }, () => (i % 5 === 4 ? 0 : i % 7 === 6 ? 1 : flags() < 0.35 ? 1 : 0));
  return {
    algorithm,
    config,
    rollouts: batch.map((r, i) => {
      const logp: Record<string, unknown> = { image: r.logp.image };
      const dependency: Record<string, unknown> = {};
      for (const v of ['blind', 'perturbed', 'mild'] as const) {
        const rows = v === 'perturbed' && multimask ? r.masks : r.logp[v];
        if ((want.includes(v) && !exact) || i % 3 === 0) logp[v] = rows;
        if (exact && want.includes(v)) {
          // Exact KLs: the k3 of the views, with some scores replaced by other non-negative values (zeros, ties,
          // values beyond k3's cap of 10) that k3 of log-probs cannot give.
          const toKl = (row: number[]) =>
            row.map((b, t) => {
              const u = rand();
              return u < 0.15 ? 0 : u < 0.25 ? Math.round(rand() * 40) / 2 : k3(r.logp.image[t], b);
            });
          dependency[v] = multimask ? r.masks.map(toKl) : toKl(r.logp[v]);
        }
      }
      if (control) return { id: r.id, group: r.group, reward: r.reward, logp, labels: labelsOf(r.logp.image.length, i) };
      return exact ? { id: r.id, group: r.group, reward: r.reward, logp, dependency } : { id: r.id, group: r.group, reward: r.reward, logp };
    }),
  };
}

/** Every preset and option; each runs on two seeded batches. */
const VARIANTS: Array<[string, Record<string, unknown>]> = [
  ['grpo', {}],
  ['grpo', { normalizeByStd: false }],
  ['dapo', {}],
  ['vppo', {}],
  ['vppo', { topK: 0.25, betaMin: 0.5 }],
  ['vppo', { topK: 1, normalizeByStd: false }],
  ['vppo', { topK: 0.28 }],
  ['vppo', { kl: 'exact' }],
  ['pgpo', {}],
  ['pgpo', { tau: 0.1, beta: 0.5, normalizeByStd: false }],
  ['pgpo', { kl: 'exact', tau: 0 }],
  ['prpo', {}],
  ['prpo', { groundingFloor: 0, instabilityFloor: 0 }],
  ['prpo', { groundingFloor: 2, instabilityFloor: 3 }],
  ['prpo', { lambda: 3, tau: 0.2, beta: 2 }],
  ['prpo', { lambda: 0 }],
  ['prpo', { rvd: 'gate', quantile: 0.5 }],
  ['prpo', { rvd: 'gate', groundingFloor: 1.5, quantile: 1 }],
  ['prpo', { rvd: 'multimask', kappa: 0.5 }],
  ['prpo', { rvd: 'multimask', masks: 3, massConserving: true }],
  ['prpo', { threshold: { quantile: 0.7 } }],
  ['prpo', { threshold: { quantile: 1 }, normalizeByStd: false }],
  ['prpo', { rvd: 'gate', massConserving: true, threshold: { quantile: 0.3 } }],
  ['prpo', { kl: 'exact', groundingFloor: 0.5 }],
  ['prpo', { kl: 'exact', rvd: 'multimask', kappa: 2 }],
  // The study's controls: PAR on the ground-truth flags, and on a seeded random set of their size (the drawn
  // set is in the output's scores.rvd; Python draws it with the same mulberry32 and FNV-1a as src/core/random.ts).
  ['prpo', { estimator: 'oracle' }],
  ['prpo', { estimator: 'oracle', tau: 0.5, beta: 2, massConserving: true }],
  ['prpo', { estimator: 'random' }],
  ['prpo', { estimator: 'random', massConserving: true, normalizeByStd: false }],
];

/** Hand-made batches for the edges a random batch rarely reaches. */
function edgeCases(): Array<{ name: string; args: string[]; input: unknown }> {
  const ramp = (L: number, f: (t: number) => number) => Array.from({ length: L }, (_, t) => f(t));
  // TGF's ceil of the real product: 0.28·25 and 0.07·100 are 7.000000000000001 in doubles (7 tokens, not 8);
  // all scores equal (ties to the earliest tokens).
  const tgf = [
    { id: 'L25', group: 'g', reward: 1, logp: { image: ramp(25, () => -1), perturbed: ramp(25, (t) => -1 - (t % 5) * 0.25) } },
    { id: 'L100', group: 'g', reward: 0, logp: { image: ramp(100, () => -2), perturbed: ramp(100, (t) => -2 - (t % 7) * 0.5) } },
    { id: 'flat', group: 'h', reward: 0.5, logp: { image: ramp(9, () => -1), perturbed: ramp(9, () => -3) } },
    { id: 'one', group: 'h', reward: 0.25, logp: { image: [-0.5], perturbed: [-30] } },
  ];
  // PRPO-R: a response whose G never reaches G₀ (no boost), tiny U everywhere (no damping), a constant response.
  const floors = [
    { id: 'weakG', group: 'g', reward: 1, logp: { image: [-1, -1, -1, -1], blind: [-1, -1.03, -1.05, -1.08], mild: [-1, -1, -1.01, -1] } },
    { id: 'tinyU', group: 'g', reward: 0, logp: { image: [-1, -2, -1, -3], blind: [-4, -2, -1, -9], mild: [-1.02, -2, -1.03, -3.01] } },
    { id: 'const', group: 'g', reward: 0, logp: { image: [-1, -1, -1], blind: [-2, -2, -2], mild: [-1, -1, -1] } },
    { id: 'solo', group: 'solo', reward: 0.75, logp: { image: [-1, -2], blind: [-30, -2], mild: [-1, 25] } },
  ];
  // The controls at their edges: L = 1, an all-perceptual response, none perceptual, ids that need escaping
  // and a non-ASCII group (the random control's seed hashes UTF-16 code units).
  const controls = [
    { id: 'one', group: 'g', reward: 1, logp: { image: [-0.5] }, labels: [1] },
    { id: 'all', group: 'g', reward: 0, logp: { image: [-1, -2, -3] }, labels: [1, 1, 1] },
    { id: 'none', group: 'g', reward: 0.5, logp: { image: [-1, -2, -3, -4] }, labels: [0, 0, 0, 0] },
    { id: 'say "hi"', group: 'gé😀', reward: 1, logp: { image: ramp(12, (t) => -t / 4) }, labels: ramp(12, (t) => (t % 3 === 0 ? 1 : 0)) },
    { id: 'soft', group: 'gé😀', reward: 0, logp: { image: ramp(6, () => -1) }, labels: [0.2, 0.6, 0.5, 0.51, 1, 0] },
  ];
  return [
    { name: 'edge: oracle, L = 1, all and none perceptual, soft labels', args: [], input: { algorithm: 'prpo', config: { estimator: 'oracle' }, rollouts: controls } },
    { name: 'edge: random, L = 1, all and none perceptual, escaped id, non-ASCII group', args: ['--set', 'estimator=random'], input: { algorithm: 'prpo', rollouts: controls } },
    { name: 'edge: TGF ceil 0.28·25, ties, L = 1', args: ['--set', 'topK=0.28'], input: { algorithm: 'vppo', rollouts: tgf } },
    { name: 'edge: TGF ceil 0.07·100', args: ['--set', 'topK=0.07'], input: { algorithm: 'vppo', rollouts: tgf } },
    { name: 'edge: PRPO-R floors (defaults)', args: [], input: { algorithm: 'prpo', rollouts: floors } },
    { name: 'edge: PRPO-R floors 0', args: ['--set', 'groundingFloor=0', '--set', 'instabilityFloor=0'], input: { algorithm: 'prpo', rollouts: floors } },
    { name: 'edge: PRPO-R gate, mass-conserving', args: ['--set', 'rvd=gate', '--set', 'massConserving=true'], input: { algorithm: 'prpo', rollouts: floors } },
    { name: 'edge: PGPO', args: [], input: { algorithm: 'pgpo', rollouts: floors } },
    // Command-line options: --algorithm overrides the input's, --config merges over it, --pretty only indents.
    { name: 'options: --algorithm, --config, --set', args: ['--algorithm', 'prpo', '--config', '{"tau": 0.2, "beta": 3}', '--set', 'lambda=0.5'], input: { algorithm: 'pgpo', config: { tau: 0.9 }, rollouts: floors } },
    { name: 'options: --pretty, --set threshold', args: ['--pretty', '--config={"threshold": {"quantile": 0.5}}'], input: { algorithm: 'prpo', rollouts: floors } },
  ];
}

const good = { id: 'r3', group: 'g', reward: 1, logp: { image: [-1, -2, -3, -1, -2, -3], blind: [-1, -2, -3, -1, -2, -4], mild: [-1, -2, -3, -1, -2, -3] } };
const r4 = (patch: Record<string, unknown>, logp: Record<string, unknown> = {}) => ({ ...good, id: 'r4', ...patch, logp: { ...good.logp, ...logp } });
const batchWith = (algorithm: unknown, rollout: unknown, config: unknown = {}) => JSON.stringify({ algorithm, config, rollouts: [good, rollout] });
const oneRollout = (algorithm: string, rollout: unknown, config: unknown = {}) => JSON.stringify({ algorithm, config, rollouts: [rollout] });

/** Bad inputs: [name, stdin, args]. The CLI's message is recorded; a JSON syntax error's text is the engine's own. */
const BAD_INPUTS: Array<[string, string, string[]]> = [
  ['not JSON', '{"algorithm": "grpo", rollouts: []}', []],
  ['NaN literal', '{"algorithm": "grpo", "rollouts": [{"id": "a", "group": "g", "reward": NaN, "logp": {"image": [1]}}]}', []],
  ['not an object', '[1, 2]', []],
  ['a string document', '"grpo"', []],
  ['unknown algorithm', batchWith('ppo', r4({})), []],
  ['algorithm not a string', batchWith(3, r4({})), []],
  ['algorithm null', batchWith(null, r4({})), []],
  ['missing algorithm', JSON.stringify({ rollouts: [] }), []],
  ['unknown top-level key', JSON.stringify({ algorithm: 'grpo', rollouts: [], extra: 1 }), []],
  ['rollouts not an array', JSON.stringify({ algorithm: 'grpo', rollouts: {} }), []],
  ['rollouts missing', JSON.stringify({ algorithm: 'grpo' }), []],
  ['config not an object', batchWith('prpo', r4({}), [1]), []],
  ['config a string', batchWith('prpo', r4({}), 'tau'), []],
  ['missing view', batchWith('pgpo', r4({}, { blind: undefined })), []],
  ['missing perturbed for vppo', batchWith('vppo', r4({})), []],
  ['missing view, user estimator named', batchWith('dapo', r4({}), { estimator: 'pgpo' }).replace('"blind":[-1,-2,-3,-1,-2,-4],', ''), []],
  ['lengths differ', batchWith('pgpo', r4({}, { blind: [-1, -2, -3, -1, -2] })), []],
  ['lengths differ in an unused view', batchWith('grpo', r4({}, { mild: [-1] })), []],
  ['null entry', batchWith('prpo', r4({}, { mild: [-1, -2, null, -1, -2, -3] })), []],
  ['1e999 entry', '{"algorithm": "grpo", "rollouts": [{"id": "r4", "group": "g", "reward": 1, "logp": {"image": [-1, 1e999]}}]}', []],
  ['string entry', batchWith('grpo', r4({}, { image: [-1, '2'], blind: undefined, mild: undefined })), []],
  ['boolean entry', oneRollout('grpo', { id: 'r4', group: 'g', reward: 1, logp: { image: [-1, true] } }), []],
  ['array entry', oneRollout('grpo', { id: 'r4', group: 'g', reward: 1, logp: { image: [[-1], -2] } }), []],
  ['object as a row', oneRollout('grpo', { id: 'r4', group: 'g', reward: 1, logp: { image: { 0: -1 } } }), []],
  ['non-finite reward', batchWith('grpo', r4({ reward: null })), []],
  ['reward a string', batchWith('grpo', r4({ reward: '1' })), []],
  ['missing group', batchWith('grpo', r4({ group: undefined })), []],
  ['group a number', batchWith('grpo', r4({ group: 7 })), []],
  ['missing id', batchWith('grpo', r4({ id: undefined })), []],
  ['numeric id', batchWith('grpo', r4({ id: 0.5 })), []],
  ['duplicate id', batchWith('grpo', r4({ id: 'r3' })), []],
  ['rollout not an object', JSON.stringify({ algorithm: 'grpo', rollouts: [good, 'r4'] }), []],
  ['empty response', batchWith('grpo', r4({}, { image: [], blind: undefined, mild: undefined })), []],
  ['missing logp', batchWith('grpo', { id: 'r4', group: 'g', reward: 0 }), []],
  ['logp an array', batchWith('grpo', { id: 'r4', group: 'g', reward: 0, logp: [[-1]] }), []],
  ['unknown view', batchWith('grpo', r4({}, { text: [1] })), []],
  ['multimask needs several masks', batchWith('prpo', r4({}, { perturbed: [-1, -2, -3, -1, -2, -3] }), { rvd: 'multimask' }), []],
  ['multimask given one array', oneRollout('prpo', r4({}, { perturbed: [-1, -2, -3, -1, -2, -3] }), { rvd: 'multimask' }), []],
  ['multimask given one mask', oneRollout('prpo', r4({}, { perturbed: [[-1, -2, -3, -1, -2, -3]] }), { rvd: 'multimask' }), []],
  ['multimask mask of wrong length', oneRollout('prpo', r4({}, { perturbed: [[-1, -2, -3, -1, -2, -3], [-1]] }), { rvd: 'multimask' }), []],
  ['vppo given several masks', oneRollout('vppo', r4({}, { perturbed: [[-1, -2, -3, -1, -2, -3], [-1, -2, -3, -1, -2, -3]] })), []],
  ['exact KL scores missing', batchWith('pgpo', r4({}), { kl: 'exact' }), []],
  ['negative exact KL score', oneRollout('pgpo', { ...r4({}), dependency: { blind: [0, 0, -1, 0, 0, 0] } }, { kl: 'exact' }), []],
  ['dependency not an object', oneRollout('pgpo', { ...r4({}), dependency: [0] }), []],
  ['unknown config key', batchWith('pgpo', r4({}), { tua: 0.3 }), []],
  ['wrongly typed config key', batchWith('pgpo', r4({}), { tau: 'x' }), []],
  ['config out of range', batchWith('prpo', r4({}), { beta: -1 }), []],
  ['negative grounding floor', batchWith('prpo', r4({}), { groundingFloor: -0.01 }), []],
  ['instability floor a string', batchWith('prpo', r4({}), { instabilityFloor: '0.05' }), []],
  ['bad threshold', batchWith('prpo', r4({}), { threshold: { quantile: 2 } }), []],
  ['threshold with another key', batchWith('prpo', r4({}), { threshold: { quantile: 0.5, q: 1 } }), []],
  ['masks not an integer', batchWith('prpo', r4({}), { masks: 2.5 }), []],
  ['rvd unknown', batchWith('prpo', r4({}), { rvd: 'hard' }), []],
  ['kl unknown', batchWith('prpo', r4({}), { kl: 'full' }), []],
  ['estimator unknown', batchWith('prpo', r4({}), { estimator: 'mine' }), []],
  ['oracle without labels', batchWith('prpo', { ...r4({}), labels: [0, 1, 1, 0, 0, 0] }, { estimator: 'oracle' }), []],
  ['random without labels', oneRollout('prpo', r4({}), { estimator: 'random' }), []],
  ['labels of the wrong length', oneRollout('prpo', { ...r4({}), labels: [1, 0] }, { estimator: 'random' }), []],
  ['a labels entry a string, checked whatever the estimator', batchWith('grpo', { ...r4({}), labels: [1, 0, '1', 0, 0, 0] }), []],
  ['labels not an array', oneRollout('prpo', { ...r4({}), labels: { 0: 1 } }, { estimator: 'oracle' }), []],
  ['preset mismatch', batchWith('prpo', r4({}), { preset: 'vppo' }), []],
  ['accuracy bounds crossed', batchWith('dapo', r4({}), { accuracyLow: 0.5, accuracyHigh: 0.25 }), []],
  ['dualClip 1', batchWith('dapo', r4({}), { dualClip: 1 }), []],
  ['a tiny number in a message', batchWith('prpo', r4({}), { beta: -1e-7 }), []],
  ['a huge number in a message', batchWith('prpo', r4({}), { tau: 1e21 }), []],
  ['reward a boolean', batchWith('grpo', r4({ reward: true })), []],
  ['id a boolean', batchWith('grpo', r4({ id: true })), []],
  ['id a huge number', batchWith('grpo', r4({ id: 1e21 })), []],
  ['image a number', batchWith('grpo', r4({}, { image: -1 })), []],
  ['negative exact KL in a mask', oneRollout('prpo', { ...r4({}), dependency: { perturbed: [[0, 0, 0, 0, 0, 0], [0, 0, 0, 0, -1e-9, 0]] } }, { kl: 'exact', rvd: 'multimask' }), []],
  ['the first bad config key is reported', '{"algorithm": "prpo", "config": {"tau": "x", "tua": 1}, "rollouts": []}', []],
  ['an integer-like config key comes first (JavaScript key order)', '{"algorithm": "prpo", "config": {"tau": "x", "7": 1}, "rollouts": []}', []],
  ['an integer-like top-level key comes first', '{"algorithm": "prpo", "rollouts": [], "extra": 1, "0": 1}', []],
  ['--set without =', batchWith('grpo', r4({})), ['--set', 'tau']],
  ['--set bad value', batchWith('pgpo', r4({})), ['--set', 'tau=high']],
  ['--set unknown key', batchWith('pgpo', r4({})), ['--set', 'tua=0.3']],
  ['--config not JSON', batchWith('pgpo', r4({})), ['--config', '{tau: 1}']],
  ['--config not an object', batchWith('pgpo', r4({})), ['--config', '[1]']],
  ['--algorithm unknown', batchWith('pgpo', r4({})), ['--algorithm', 'ppo']],
  ['option without its value', batchWith('pgpo', r4({})), ['--algorithm']],
  ['unknown option', batchWith('pgpo', r4({})), ['--fast']],
  ['--input and --rollouts', '', ['--input', 'a.json', '--rollouts', 'b.jsonl']],
  ['--input missing file', '', ['--input', 'test/vectors/no-such-batch.json']],
];

export const VECTORS_DIR = dirname(VECTORS_FILE);
/** Stands for the absolute path of test/vectors in the arguments and messages of the vectors. */
export const VECTORS_DIR_MARK = '{vectors}';

/**
 * Logged rollouts for the what-if path (`--rollouts`): a step file as the trainer writes it (RolloutRecord lines
 * with the logged advantages) and one with a malformed line. No run.json beside them (a run.json would make the
 * folder look like a run to the explorer), so the cases name the algorithm.
 */
function writeLoggedRollouts(): void {
  const dir = join(VECTORS_DIR, 'logged');
  mkdirSync(dir, { recursive: true });
  const batch = randomBatch(77, { groups: 3, maxLen: 6 });
  const lines = batch.map((r) =>
    JSON.stringify({
      id: r.id, group: r.group, step: 1, prompt: 'p', response: 'x', reward: r.reward, logp: r.logp,
      tokens: r.logp.image.map(() => 'x'), advantage: 0.5, tokenAdvantages: r.logp.image.map(() => 0.5),
    }),
  );
  writeFileSync(join(dir, 'step-000001.jsonl'), lines.join('\n') + '\n');
  writeFileSync(join(dir, 'step-000002.jsonl'), `${lines[0]}\n{"id": oops}\n${lines[1]}\n`);
}

const LOGGED = `${VECTORS_DIR_MARK}/logged/step-000001.jsonl`;
const LOGGED_CASES: Array<{ name: string; args: string[] }> = [
  { name: 'what-if: --rollouts with --algorithm and --set', args: ['--rollouts', LOGGED, '--algorithm', 'pgpo', '--set', 'tau=0.3'] },
  { name: 'what-if: --rollouts under PRPO-R gate', args: ['--rollouts', LOGGED, '--algorithm', 'prpo', '--set', 'rvd=gate'] },
  { name: 'what-if: --rollouts under VPPO', args: ['--rollouts', LOGGED, '--algorithm=vppo'] },
];
const LOGGED_ERRORS: Array<[string, string, string[]]> = [
  ['--rollouts without an algorithm (no run.json)', '', ['--rollouts', LOGGED]],
  ['--rollouts with a malformed line', '', ['--rollouts', `${VECTORS_DIR_MARK}/logged/step-000002.jsonl`, '--algorithm', 'grpo']],
  ['--rollouts of a missing file', '', ['--rollouts', `${VECTORS_DIR_MARK}/logged/step-999999.jsonl`, '--algorithm', 'grpo']],
];

/** The arguments with the vectors folder put in, as the tests do. */
export const withVectorsDir = (args: string[], dir = VECTORS_DIR): string[] => args.map((a) => a.split(VECTORS_DIR_MARK).join(dir));

export async function buildVectors() {
  writeLoggedRollouts();
  const cases: Array<{ name: string; args: string[]; input: unknown; output: unknown }> = [];
  let seed = 1000;
  for (const [algorithm, config] of VARIANTS) {
    for (let k = 0; k < 2; k++) {
      seed++;
      const input = toInput(randomBatch(seed, { groups: 4, maxLen: 10, masks: 3 }), algorithm, config, seed);
      const name = `${algorithm} ${JSON.stringify(config)} seed ${seed}`;
      cases.push({ name, args: [], input, output: undefined });
    }
  }
  cases.push(...edgeCases().map((c) => ({ ...c, output: undefined })));
  cases.push(...LOGGED_CASES.map((c) => ({ ...c, input: null, output: undefined })));
  for (const c of cases) {
    const { code, stdout, stderr } = await runCli(withVectorsDir(c.args), c.input === null ? '' : JSON.stringify(c.input));
    if (code !== 0) throw new Error(`${c.name}: exit ${code}: ${stderr}`);
    c.output = JSON.parse(stdout);
  }
  const errors: Array<{ name: string; args: string[]; stdin: string; message: string; match: 'exact' | 'prefix' }> = [];
  for (const [name, stdin, args] of [...BAD_INPUTS, ...LOGGED_ERRORS]) {
    const { code, stdout, stderr } = await runCli(withVectorsDir(args), stdin);
    if (code !== 2 || stdout !== '' || !stderr.endsWith('\n') || stderr.split('\n').length !== 2) {
      throw new Error(`${name}: expected exit 2 and one line, got ${code} ${JSON.stringify(stderr)}`);
    }
    const message = stderr.replace(/^prpo-studio advantages: /, '').trimEnd().split(VECTORS_DIR).join(VECTORS_DIR_MARK);
    // A JSON syntax error carries the parser's own words: only the part up to them is the contract.
    const syntax = /not valid JSON \(/.exec(message);
    errors.push({ name, args, stdin, message: syntax ? message.slice(0, syntax.index + syntax[0].length) : message, match: syntax ? 'prefix' : 'exact' });
  }
  const rollouts = cases.reduce((n, c) => n + ((c.input as { rollouts: unknown[] } | null)?.rollouts.length ?? 0), 0);
  return {
    about:
      'Shared vectors of the advantages contract, written by `npm run vectors` (scripts/vectors.ts) from the TypeScript CLI. ' +
      'Each case: the CLI arguments, the JSON on stdin (null: none), the JSON it wrote. Each error: exit code 2 and this message on stderr ' +
      "after 'prpo-studio advantages: ' (match 'prefix': the message starts with it). Numbers agree to 1e-6 (relative above 1). " +
      `${VECTORS_DIR_MARK} in arguments and messages stands for the absolute path of this folder. Do not edit by hand.`,
    tolerance: 1e-6,
    rollouts,
    cases,
    errors,
  };
}

async function cli(): Promise<void> {
  const vectors = await buildVectors();
  mkdirSync(dirname(VECTORS_FILE), { recursive: true });
  // One case or error per line: a regeneration's diff shows which cases moved.
  const list = (xs: unknown[]) => `[\n${xs.map((x) => JSON.stringify(x)).join(',\n')}\n]`;
  const { cases, errors, ...head } = vectors;
  const text = `${JSON.stringify(head).slice(0, -1)},\n"cases": ${list(cases)},\n"errors": ${list(errors)}}\n`;
  writeFileSync(VECTORS_FILE, text);
  process.stdout.write(`${VECTORS_FILE}: ${vectors.cases.length} cases, ${vectors.rollouts} rollouts, ${vectors.errors.length} bad inputs, ${(text.length / 1024).toFixed(0)} KiB\n`);
}

if (require.main === module) {
  cli().catch((e) => {
    process.stderr.write(`${(e as Error).stack ?? e}\n`);
    process.exit(1);
  });
}
