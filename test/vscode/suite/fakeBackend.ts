/**
 * A stand-in for `prpo-studio serve` that speaks the same protocol (src/core/protocol/backend.ts) and writes
 * a real run directory through RunWriter, with made-up numbers: lets the extension's UI be tested without
 * the trainer. Bundle it (esbuild, platform node) and point PRPO_STUDIO_BACKEND_CLI at the bundle.
 * Knobs (environment): FAKE_STEP_MS (default 400), FAKE_CRASH_AT_STEP (exit 3 at that step),
 * FAKE_NO_GPU (report ep 'cpu' whatever was asked), FAKE_STARTUP_MS (delay before answering),
 * FAKE_PID_FILE (write this process's pid there, so a test can check it was killed), FAKE_ROLLOUTS_PER_STEP
 * (default 4), FAKE_STREAM_RPS (send a step's rollouts one per notification at this rate instead of all at once:
 * the stream the webview benchmark measures).
 */
import { writeFileSync } from 'node:fs';
import { createMessageConnection, IPCMessageReader, IPCMessageWriter } from 'vscode-jsonrpc/node';
import { Notifications, Requests, type BackendStatus, type ExecutionProvider } from '../../../src/core/protocol/backend';
import { RunWriter } from '../../../src/core/run/writer';
import { latestCheckpoint } from '../../../src/core/run/checkpoint';
import { stepName, type MetricsRow } from '../../../src/core/run/schema';
import { fakeRollouts, writeCheckpoint } from './fixtures';

const STEP_MS = Number(process.env.FAKE_STEP_MS ?? 400);
const CRASH_AT = process.env.FAKE_CRASH_AT_STEP ? Number(process.env.FAKE_CRASH_AT_STEP) : undefined;
const STARTUP_MS = Number(process.env.FAKE_STARTUP_MS ?? 0);
const ROLLOUTS_PER_STEP = Number(process.env.FAKE_ROLLOUTS_PER_STEP ?? 4);
const STREAM_RPS = Number(process.env.FAKE_STREAM_RPS ?? 0);

if (process.env.FAKE_PID_FILE) writeFileSync(process.env.FAKE_PID_FILE, String(process.pid));

const connection = createMessageConnection(new IPCMessageReader(process), new IPCMessageWriter(process));
let writer: RunWriter | undefined;
let status: BackendStatus = { state: 'idle', step: 0 };
let timer: NodeJS.Timeout | undefined;
let checkpointEvery = 0;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function setState(patch: Partial<BackendStatus>): BackendStatus {
  status = { ...status, ...patch };
  connection.sendNotification(Notifications.state, status);
  return status;
}

function saveCheckpoint(step: number): string {
  const w = writer!;
  const final = writeCheckpoint(w.dir, step);
  w.appendEvent({ type: 'checkpoint', step, checkpoint: `checkpoints/${stepName(step)}` });
  connection.sendNotification(Notifications.checkpoint, { runId: w.manifest.id, step, path: final });
  return final;
}

function tick(): void {
  const w = writer!;
  const step = status.step + 1;
  if (CRASH_AT !== undefined && step >= CRASH_AT) {
    process.stderr.write(`fake backend: simulated crash at step ${step}\n`);
    process.exit(3);
  }
  const rollouts = fakeRollouts(step, ROLLOUTS_PER_STEP);
  const runId = w.manifest.id;
  if (STREAM_RPS > 0) {
    // Each rollout written and sent as it is made, as a trainer that streams would.
    rollouts.forEach((r, i) =>
      setTimeout(() => {
        w.appendRollouts(step, [r]);
        connection.sendNotification(Notifications.rollouts, { runId, step, rollouts: [r], sentAt: Date.now() });
      }, (i * 1000) / STREAM_RPS),
    );
  } else {
    w.appendRollouts(step, rollouts);
    connection.sendNotification(Notifications.rollouts, { runId, step, rollouts, sentAt: Date.now() });
  }
  const reward = rollouts.reduce((a, r) => a + r.reward, 0) / rollouts.length;
  const row: MetricsRow = { step, time: Date.now() / 1000, reward, accuracy: reward, loss: 1 / step, entropy: 1.5 - step / 100 };
  w.appendMetrics(row);
  connection.sendNotification(Notifications.metrics, { runId: w.manifest.id, row });
  setState({ step, lastReward: reward });
  if (checkpointEvery && step % checkpointEvery === 0) saveCheckpoint(step);
  if (step >= (status.steps ?? Infinity)) {
    stopLoop();
    saveCheckpoint(step);
    w.appendEvent({ type: 'completed', step });
    setState({ state: 'completed' });
    setTimeout(() => process.exit(0), 200);
  }
}

function startLoop(): void {
  stopLoop();
  timer = setInterval(tick, STEP_MS);
}
function stopLoop(): void {
  if (timer) clearInterval(timer);
  timer = undefined;
}

function epFor(ep: ExecutionProvider | undefined): ExecutionProvider {
  return process.env.FAKE_NO_GPU ? 'cpu' : ep ?? 'cpu';
}

connection.onRequest(Requests.status, async () => {
  if (STARTUP_MS) await sleep(STARTUP_MS);
  return status;
});

connection.onRequest(Requests.start, (p) => {
  writer = RunWriter.create(p.runsDir, {
    name: p.name ?? `${p.preset} run`,
    source: 'prpo-studio',
    algorithm: p.preset,
    config: { ...(p.config ?? {}), fake: true },
    model: { name: 'fake-vlm', config: {} },
    task: { name: 'shapes', config: {} },
    seed: p.seed ?? 0,
    steps: p.steps,
  });
  checkpointEvery = p.checkpointEvery ?? 0;
  writer.appendEvent({ type: 'started', step: 0 });
  status = { state: 'running', runId: writer.manifest.id, runDir: writer.dir, step: 0, steps: p.steps, ep: epFor(p.ep) };
  startLoop();
  return status;
});

connection.onRequest(Requests.resumeFrom, async (p) => {
  writer = RunWriter.open(p.runDir);
  const ckpt = p.checkpoint ?? latestCheckpoint(p.runDir);
  const step = ckpt ? Number(/step-(\d+)/.exec(ckpt)?.[1] ?? 0) : 0;
  // Steps after the checkpoint are redone: metrics rows past it stay in the file (append-only), and readers
  // drop them (currentHistory).
  writer.updateManifest({ steps: p.steps });
  writer.appendEvent({ type: 'resumed', step });
  status = { state: 'running', runId: writer.manifest.id, runDir: writer.dir, step, steps: p.steps, ep: epFor(p.ep) };
  startLoop();
  return status;
});

connection.onRequest(Requests.pause, async () => {
  stopLoop();
  await sleep(100);
  writer!.appendEvent({ type: 'paused', step: status.step });
  return setState({ state: 'paused' });
});

connection.onRequest(Requests.resume, () => {
  writer!.appendEvent({ type: 'resumed', step: status.step });
  startLoop();
  return setState({ state: 'running' });
});

connection.onRequest(Requests.checkpoint, async () => {
  await sleep(300);
  const path = saveCheckpoint(status.step);
  return { runId: writer!.manifest.id, step: status.step, path };
});

connection.onRequest(Requests.stop, async () => {
  stopLoop();
  await sleep(200);
  saveCheckpoint(status.step);
  writer!.appendEvent({ type: 'stopped', step: status.step });
  setTimeout(() => process.exit(0), 100);
  return setState({ state: 'stopped' });
});

connection.listen();
