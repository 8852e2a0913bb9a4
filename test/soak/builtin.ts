/**
 * Crash soak of the built-in backend (issue #14): the `dist/cli.js serve` child trains with a checkpoint every
 * step and is killed with SIGKILL again and again — at random moments, and every third time while a checkpoint
 * is held open (PRPO_STUDIO_TEST_CHECKPOINT_STALL_MS), so many kills land mid-checkpoint — and resumed each
 * time. After every kill it checks the promises of docs/reliability.md and counts them; `npm run soak` runs 50
 * kills, the unit test (test/unit/soak/builtin.test.ts) a few. Not a test file itself.
 */
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { Requests } from '../../src/core/protocol/backend';
import { RunBusyError, RunWriter, latestCheckpoint, listCheckpoints, readCheckpoint, readMetrics, readRun } from '../../src/core/run';
import { forkBackend } from '../unit/trainer/client';
import { checkAfterKill, type SoakTally, newTally } from './checks';

/** Tiny real-engine settings: a step takes a fraction of a second. */
const TINY = { promptsPerStep: 2, groupSize: 2, maxNewTokens: 8, valSize: 4, valEvery: 0, dynamicSampling: false };

export interface SoakOptions {
  kills: number;
  runsDir: string;
  /** Seeded: the kill moments are drawn from it, so a soak can be replayed. */
  seed?: number;
  /** Every how many rounds the checkpoint is held open so that the kill lands mid-checkpoint for sure (default 3). */
  stallEvery?: number;
  log?: (line: string) => void;
}

/** A small seeded generator for the kill moments (xorshift32). */
export function moments(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

async function until(predicate: () => boolean, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > end) throw new Error(`until: timed out after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const unfinished = (dir: string, pid?: number) =>
  existsSync(join(dir, 'checkpoints')) ? readdirSync(join(dir, 'checkpoints')).filter((f) => f.startsWith('.tmp-') && (pid === undefined || f.includes(`-${pid}-`))) : [];

/** Bytes of every file of the run that a second writer could touch (to prove it touched none). */
function snapshot(dir: string): string {
  return ['run.json', 'metrics.jsonl', 'events.jsonl'].map((f) => (existsSync(join(dir, f)) ? readFileSync(join(dir, f), 'utf8') : '')).join('\u0000');
}

export async function soakBuiltin(opts: SoakOptions): Promise<SoakTally> {
  const log = opts.log ?? (() => {});
  const rand = moments(opts.seed ?? 14);
  const tally = newTally('built-in');
  let runDir: string | undefined;
  let latestBefore = -1;
  for (let round = 0; round < opts.kills; round++) {
    const every = opts.stallEvery ?? 3;
    const stall = round % every === every - 1;
    const c = forkBackend(stall ? { PRPO_STUDIO_TEST_CHECKPOINT_STALL_MS: '30000' } : {});
    try {
      const status = runDir
        ? await c.connection.sendRequest(Requests.resumeFrom, { runDir, steps: 100_000 })
        : await c.connection.sendRequest(Requests.start, { runsDir: opts.runsDir, preset: 'prpo', steps: 100_000, seed: 3, config: TINY, checkpointEvery: 1 });
      const dir = (runDir = status.runDir!);
      if (round > 0) {
        // Resume continues from the latest complete checkpoint (or the start, before the first one).
        if (status.step === Math.max(latestBefore, 0)) tally.resumedAtLatest++;
        else tally.violations.push(`round ${round}: resumed at step ${status.step}, the latest complete checkpoint is ${latestBefore}`);
      }
      if (stall) {
        await until(() => unfinished(dir, c.child.pid).length > 0);
      } else {
        // The first round waits for a complete checkpoint, so that later kills have one to keep.
        await c.waitFor(() => (round === 0 ? c.checkpoints.length >= 1 : c.metrics.some((m) => m.step >= status.step + 1)));
        await new Promise((r) => setTimeout(r, Math.floor(rand() * 400)));
      }
      if (c.metrics.some((m) => m.step > status.step)) tally.progressed++;
      // A second writer while this one lives: refused, and nothing changes.
      if (round % 5 === 1) {
        const before = snapshot(dir);
        try {
          RunWriter.open(dir);
          tally.violations.push(`round ${round}: a second RunWriter opened the live run`);
        } catch (e) {
          if (e instanceof RunBusyError && e.pid === c.child.pid) tally.secondWriterRefused++;
          else tally.violations.push(`round ${round}: the second writer failed oddly: ${(e as Error).message}`);
        }
        const other = forkBackend();
        try {
          await other.connection.sendRequest(Requests.resumeFrom, { runDir: dir, steps: 100_000 });
          tally.violations.push(`round ${round}: a second backend resumed the live run`);
        } catch (e) {
          if (/is (running|paused) in another process|is being written by process/.test((e as Error).message)) tally.secondWriterRefused++;
          else tally.violations.push(`round ${round}: the second backend failed oddly: ${(e as Error).message}`);
        } finally {
          other.kill();
          await other.exited;
        }
        // Only the live writer's own appends may have happened meanwhile: what was there is still there.
        const after = snapshot(dir);
        const [b, a] = [before.split('\u0000'), after.split('\u0000')];
        if (b.some((part, i) => !a[i].startsWith(part)) || b[0] !== a[0]) tally.violations.push(`round ${round}: run files changed under the refused writer`);
      }
      c.kill('SIGKILL');
      await c.exited;
      tally.kills++;
      if (unfinished(dir, c.child.pid).length) tally.midCheckpoint++;
      const result = await checkAfterKill(dir, latestBefore, `round ${round}`);
      tally.violations.push(...result.violations);
      tally.checkpointsVerified += result.verified;
      latestBefore = result.latest;
      if ((await readRun(dir)).status === 'interrupted') tally.interrupted++;
      log(`kill ${round + 1}/${opts.kills}${stall ? ' (mid-checkpoint, stalled)' : ''}: latest complete checkpoint step ${result.latest}, metrics steps ${result.metricsSteps}, ${result.violations.length ? `PROBLEMS: ${result.violations.join('; ')}` : 'all checks hold'}${unfinished(dir, c.child.pid).length ? ', unfinished checkpoint left behind' : ''}`);
    } finally {
      c.kill();
    }
  }
  // Finally a clean resume to completion: the run ends completed, with every step once and no leftovers.
  if (runDir) {
    const c = forkBackend();
    try {
      const target = Math.max(latestBefore, 0) + 2;
      const st = await c.connection.sendRequest(Requests.resumeFrom, { runDir, steps: target });
      if (st.step !== Math.max(latestBefore, 0)) tally.violations.push(`final resume at ${st.step}, expected ${latestBefore}`);
      await c.waitFor(() => c.states.some((s) => s.state === 'completed'));
      await c.connection.sendRequest(Requests.stop);
      await c.exited;
      const steps = (await readMetrics(runDir)).map((r) => r.step);
      if (steps.at(-1) !== target || new Set(steps).size !== steps.length) tally.violations.push(`final metrics steps ${steps.join(',')}`);
      if ((await readRun(runDir)).status !== 'completed') tally.violations.push('the final run is not completed');
      if (unfinished(runDir).length) tally.violations.push(`unfinished checkpoints left after a clean run: ${unfinished(runDir).join(', ')}`);
      if (latestCheckpoint(runDir) !== join(runDir, 'checkpoints', `step-${String(target).padStart(6, '0')}`)) tally.violations.push('the final checkpoint is not the last step');
      for (const ck of listCheckpoints(runDir)) readCheckpoint(ck.path);
      tally.finalSteps = target;
    } finally {
      c.kill();
    }
  }
  return tally;
}
