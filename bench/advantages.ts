/**
 * Benchmark: per-token advantages of a 1M-token batch for each preset (and PRPO-R's RVD modes), in
 * process, plus the whole CLI path (JSON parse → compute → JSON stringify) for one preset.
 *
 *   npm run bench:advantages            (node --import tsx bench/advantages.ts)
 *   npm run bench:advantages -- --tokens 250000 --repeats 5
 */
import { computeAdvantages, resolveConfig, type RolloutInput } from '../src/core/algorithms';
import { main } from '../src/cli/advantages';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const TOKENS = arg('tokens', 1_000_000);
const REPEATS = arg('repeats', 5);
const GROUP = 8;
const MASKS = 4;

/** A seeded batch of exactly TOKENS tokens: groups of 8, response lengths 32–480 (mean ≈ 256). */
function makeBatch(): RolloutInput[] {
  let s = 12345;
  const rand = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 4294967296);
  const rollouts: RolloutInput[] = [];
  let left = TOKENS;
  for (let i = 0; left > 0; i++) {
    const L = Math.min(left, 32 + Math.floor(rand() * 449));
    left -= L;
    const image = Array.from({ length: L }, () => -rand() * 4);
    const near = () => image.map((x) => x - rand() * (rand() < 0.1 ? 6 : 0.3));
    rollouts.push({
      id: `r${i}`,
      group: `g${Math.floor(i / GROUP)}`,
      reward: rand() < 0.5 ? 1 : 0,
      logp: { image, blind: near(), perturbed: near(), mild: near() },
    });
  }
  return rollouts;
}

function timeIt(fn: () => void): number {
  const times: number[] = [];
  fn(); // warm-up
  for (let r = 0; r < REPEATS; r++) {
    const t0 = process.hrtime.bigint();
    fn();
    times.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)];
}

const fmt = (x: number) => (x >= 1e6 ? `${(x / 1e6).toFixed(2)} M` : `${(x / 1e3).toFixed(1)} k`);

async function run(): Promise<void> {
  const batch = makeBatch();
  const multimask = batch.map((r) => ({ ...r, logp: { image: r.logp.image, perturbed: Array.from({ length: MASKS }, () => (r.logp.perturbed as number[]).map((x) => x - 0.1)) } }));
  console.log(`advantages benchmark: ${TOKENS.toLocaleString('en')} tokens in ${batch.length} rollouts (groups of ${GROUP}), median of ${REPEATS}, node ${process.version}`);
  const cases: Array<[string, ReturnType<typeof resolveConfig>, RolloutInput[]]> = [
    ['grpo', resolveConfig('grpo'), batch],
    ['dapo', resolveConfig('dapo'), batch],
    ['vppo', resolveConfig('vppo'), batch],
    ['pgpo', resolveConfig('pgpo'), batch],
    ['prpo (rvd soft)', resolveConfig('prpo'), batch],
    ['prpo (rvd gate)', resolveConfig('prpo', { rvd: 'gate' }), batch],
    [`prpo (rvd multimask, M=${MASKS})`, resolveConfig('prpo', { rvd: 'multimask', masks: MASKS }), multimask],
    ['prpo (quantile τ, mass-conserving)', resolveConfig('prpo', { threshold: { quantile: 0.8 }, massConserving: true }), batch],
  ];
  const tokensPerSecond: Record<string, number> = {};
  for (const [name, config, rollouts] of cases) {
    const s = timeIt(() => computeAdvantages(config, rollouts));
    tokensPerSecond[name] = Math.round(TOKENS / s);
    console.log(`  ${name.padEnd(36)} ${(s * 1000).toFixed(0).padStart(6)} ms   ${fmt(TOKENS / s)} tokens/s`);
  }
  // The whole CLI path, in process: parse the JSON batch, compute, serialise the answer.
  const input = JSON.stringify({ algorithm: 'prpo', config: {}, rollouts: batch });
  const sink = { write: () => true };
  const t0 = process.hrtime.bigint();
  const code = await main([], { stdin: input, stdout: sink, stderr: { write: (x: string) => process.stderr.write(x) } });
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(`  ${'CLI prpo (parse+compute+stringify)'.padEnd(36)} ${(s * 1000).toFixed(0).padStart(6)} ms   ${fmt(TOKENS / s)} tokens/s   (${(input.length / 1e6).toFixed(0)} MB of JSON in, exit ${code})`);
  tokensPerSecond['CLI prpo'] = Math.round(TOKENS / s);
  // One machine-readable line last (issue #13): the same figures, for scripts.
  console.log(JSON.stringify({ bench: 'advantages', figures: { tokens: TOKENS, tokensPerSecond } }));
}

void run();
