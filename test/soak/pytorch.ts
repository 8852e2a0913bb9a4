/**
 * Crash soak of the PyTorch backend (issue #14): `python -m prpo_studio train`, then `resume` after every
 * kill -9, on a tiny random-weight Qwen2-VL (`tiny-model`) with a checkpoint every step, on the CPU. The run
 * it writes is checked by the TypeScript readers (test/soak/checks.ts), as the extension would read it. Every
 * third kill lands mid-checkpoint for sure (PRPO_STUDIO_TEST_CHECKPOINT_STALL_MS, the Python trainer's hook).
 * Needs the Python environment (.toolchain/python, or PRPO_STUDIO_PYTHON). Not a test file itself.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { RunBusyError, RunWriter, readEvents, readMetrics, readRun } from '../../src/core/run';
import { checkAfterKill, newTally, type SoakTally } from './checks';
import { moments } from './builtin';

const ROOT = resolve(import.meta.dirname, '..', '..');
export const PYTHON = process.env.PRPO_STUDIO_PYTHON ?? join(ROOT, '.toolchain', 'python', 'bin', 'python');
/** The package of this checkout, not whatever copy the environment has installed. */
const ENV = { ...process.env, PYTHONPATH: join(ROOT, 'python', 'src'), OMP_NUM_THREADS: '1', TOKENIZERS_PARALLELISM: 'false' };
const FAST = { promptsPerStep: 2, groupSize: 2, maxNewTokens: 6, microBatchSize: 2, lr: 1e-3, checkpointEvery: 1, maxResampleTries: 1, reward: 'parity_reward:score' };

export function havePython(): boolean {
  return existsSync(PYTHON) && existsSync(join(ROOT, 'python', 'src', 'prpo_studio', 'run', 'writer.py'));
}

function py(args: string[]): string {
  const r = spawnSync(PYTHON, args, { env: ENV, encoding: 'utf8', timeout: 600_000 });
  if (r.status !== 0) throw new Error(`${PYTHON} ${args.join(' ')}: exit ${r.status}\n${r.stderr}`);
  return r.stdout;
}

async function until(predicate: () => boolean | Promise<boolean>, child: ChildProcess, ms = 300_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await predicate())) {
    if (child.exitCode !== null) throw new Error(`the backend exited (${child.exitCode}) before the soak could kill it`);
    if (Date.now() > end) throw new Error(`until: timed out after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const unfinished = (dir: string, pid?: number) =>
  existsSync(join(dir, 'checkpoints')) ? readdirSync(join(dir, 'checkpoints')).filter((f) => f.startsWith('.tmp-') && (pid === undefined || f.includes(`-${pid}-`))) : [];

export async function soakPytorch(opts: { kills: number; seed?: number; log?: (line: string) => void }): Promise<SoakTally> {
  const log = opts.log ?? (() => {});
  const rand = moments(opts.seed ?? 14);
  const tally = newTally('PyTorch');
  const work = mkdtempSync(join(tmpdir(), 'prpo-soak-py-'));
  try {
    const model = join(work, 'model');
    const data = join(work, 'data');
    py(['-m', 'prpo_studio', 'tiny-model', '--family', 'qwen2-vl', '--out', model]);
    py(['-c', `from prpo_studio.data import write_shapes_dataset; write_shapes_dataset(${JSON.stringify(data)}, n=6, size=32)`]);
    writeFileSync(join(data, 'parity_reward.py'), 'def score(response, answer, example):\n    return float(len(response) % 2)\n');
    const config = join(work, 'config.json');
    writeFileSync(config, JSON.stringify(FAST));
    const runsDir = join(work, 'runs');
    let runDir: string | undefined;
    let latestBefore = -1;
    const common = ['--device', 'cpu'];
    for (let round = 0; round < opts.kills; round++) {
      const args = runDir
        ? ['-m', 'prpo_studio', 'resume', runDir, '--steps', '100000', ...common]
        : ['-m', 'prpo_studio', 'train', '--model', model, '--data', data, '--preset', 'prpo', '--steps', '100000', '--runs-dir', runsDir, '--config', config, '--dtype', 'fp32', '--seed', '3', ...common];
      // Every third round holds a checkpoint open (the trainer's test hook): that kill lands mid-checkpoint for sure.
      const stall = round % 3 === 2;
      const child = spawn(PYTHON, args, { env: stall ? { ...ENV, PRPO_STUDIO_TEST_CHECKPOINT_STALL_MS: '60000' } : ENV, stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr!.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
      try {
        if (!runDir) {
          runDir = await new Promise<string>((res, rej) => {
            child.stdout!.once('data', (d) => res(String(d).trim().split('\n')[0]));
            child.once('exit', (c) => rej(new Error(`train exited ${c}: ${stderr}`)));
          });
        }
        const dir = runDir;
        const startStep = Math.max(latestBefore, 0);
        // Running: its own 'started'/'resumed' event, then a step past where it started (the first round: a
        // complete checkpoint, so that later kills have one to keep).
        await until(async () => {
          const last = (await readEvents(dir)).filter((e) => e.type === 'started' || e.type === 'resumed').at(-1);
          if (last?.pid !== child.pid) return false;
          const steps = (await readMetrics(dir)).map((r) => r.step);
          return round === 0 ? (steps.at(-1) ?? 0) >= 1 && existsSync(join(dir, 'checkpoints', 'step-000001')) : (steps.at(-1) ?? 0) > startStep;
        }, child);
        if (round > 0) {
          const resumed = (await readEvents(dir)).filter((e) => e.type === 'resumed').at(-1);
          if (resumed?.step === startStep) tally.resumedAtLatest++;
          else tally.violations.push(`round ${round}: resumed at step ${resumed?.step}, the latest complete checkpoint is ${latestBefore}`);
        }
        tally.progressed++;
        if (round % 5 === 1) {
          try {
            RunWriter.open(dir);
            tally.violations.push(`round ${round}: a TypeScript RunWriter opened the live run`);
          } catch (e) {
            if (e instanceof RunBusyError && e.pid === child.pid) tally.secondWriterRefused++;
            else tally.violations.push(`round ${round}: the second writer failed oddly: ${(e as Error).message}`);
          }
          const second = spawnSync(PYTHON, ['-m', 'prpo_studio', 'resume', dir, '--steps', '100000', ...common], { env: ENV, encoding: 'utf8', timeout: 300_000 });
          if (second.status === 2 && /in another process|is being written by process/.test(second.stderr)) tally.secondWriterRefused++;
          else tally.violations.push(`round ${round}: a second resume of the live run: exit ${second.status}, ${second.stderr.slice(-300)}`);
        }
        if (stall) await until(() => unfinished(dir, child.pid).length > 0, child);
        else await new Promise((r) => setTimeout(r, Math.floor(rand() * 1500)));
        child.kill('SIGKILL');
        await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(undefined) : child.once('exit', r)));
        tally.kills++;
        if (unfinished(dir, child.pid).length) tally.midCheckpoint++;
        const result = await checkAfterKill(dir, latestBefore, `round ${round}`);
        tally.violations.push(...result.violations);
        tally.checkpointsVerified += result.verified;
        latestBefore = result.latest;
        if ((await readRun(dir)).status === 'interrupted') tally.interrupted++;
        log(`kill ${round + 1}/${opts.kills}${stall ? ' (mid-checkpoint, stalled)' : ''}: latest complete checkpoint step ${result.latest}, metrics steps ${result.metricsSteps}, ${result.violations.length ? `PROBLEMS: ${result.violations.join('; ')}` : 'all checks hold'}${unfinished(dir, child.pid).length ? ', killed mid-checkpoint' : ''}`);
      } finally {
        child.kill('SIGKILL');
      }
    }
    if (runDir) {
      const target = Math.max(latestBefore, 0) + 2;
      py(['-m', 'prpo_studio', 'resume', runDir, '--steps', String(target), ...common]);
      const steps = (await readMetrics(runDir)).map((r) => r.step);
      if (steps.at(-1) !== target || new Set(steps).size !== steps.length) tally.violations.push(`final metrics steps ${steps.join(',')}`);
      if ((await readRun(runDir)).status !== 'completed') tally.violations.push('the final run is not completed');
      if (unfinished(runDir).length) tally.violations.push(`unfinished checkpoints left after a clean run: ${unfinished(runDir).join(', ')}`);
      const final = await checkAfterKill(runDir, latestBefore, 'final');
      tally.violations.push(...final.violations);
      tally.finalSteps = target;
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return tally;
}
