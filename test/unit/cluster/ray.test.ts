// The Ray Jobs client and `prpo-studio jobs` against a real local Ray head (one per file: it takes ~30–60 s
// to start on two cores), with Ray's token authentication on. A PyTorch-backend PRPO-R run of a tiny model is
// submitted from the CLI, followed, stopped with a checkpoint first and resubmitted from that checkpoint; the
// failure cases are a wrong port, a missing and a refused token, and a job that fails at start. Then the
// token is looked for everywhere a run could leak it; last, a local working_dir is uploaded and unpacked. If
// Ray is missing the tests fail and say why.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RayJobsClient, isTerminal, shellQuote, uploadLocalPackages } from '../../../src/core/cluster';
import { listCheckpoints, readEvents, readMetrics } from '../../../src/core/run';
import { commandLinesWith, filesHolding, filesUnder } from './leaks';
import { PYTHON, ROOT, freePort, startRayHead, type RayHead } from './rayHead';

const CLI = join(ROOT, 'dist', 'cli.js');
const TOKEN = `prpo-test-token-${randomBytes(16).toString('hex')}`;
const log = (text: string) => process.stderr.write(`[ray.test] ${text}\n`);

let head: RayHead | undefined;
let starting: Promise<RayHead> | undefined;
let work = '';
let runsDir = '';
let modelDir = '';
let dataDir = '';
/** Everything the CLI printed, for the token scan. */
const outputs: string[] = [];

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], env: Record<string, string | undefined> = { RAY_AUTH_TOKEN: TOKEN }, timeoutMs = 600_000): Promise<Result> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, RAY_AUTH_TOKEN: undefined, RAY_ADDRESS: undefined, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      outputs.push(stdout, stderr);
      resolve({ code, stdout, stderr });
    });
  });
}

const lines = (s: string) => s.split('\n').filter((l) => l.trim() !== '');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs: number): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await sleep(500);
  }
}

const pythonSrc = join(ROOT, 'python', 'src');

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'prpo-ray-'));
  runsDir = join(work, 'runs');
  modelDir = join(work, 'tiny-qwen2-vl');
  dataDir = join(work, 'shapes');
  if (!existsSync(CLI)) {
    const b = spawnSync(process.execPath, [join(ROOT, 'esbuild.mjs')], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(b.status, 0, `building dist/cli.js: ${b.stderr}`);
  }
  const py = spawnSync(PYTHON, ['-m', 'prpo_studio', 'tiny-model', '--family', 'qwen2-vl', '--out', modelDir], {
    encoding: 'utf8',
    env: { ...process.env, PYTHONPATH: pythonSrc, PYTHONDONTWRITEBYTECODE: '1' },
    timeout: 300_000,
  });
  assert.equal(py.status, 0, `python -m prpo_studio tiny-model: ${py.stderr || py.error}`);
  const data = spawnSync(process.execPath, [CLI, 'export-task', 'shapes', '--out', dataDir, '--n', '16'], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(data.status, 0, `export-task: ${data.stderr}`);
  // After the model: `ray start` allows its raylet a fixed 30 s to come up, which a busy machine can miss.
  starting = startRayHead({ token: TOKEN, log });
  head = await starting;
});

after(async () => {
  // Also when before() failed while the head was still starting.
  await starting?.then((h) => h.stop(), () => {});
  if (work) rmSync(work, { recursive: true, force: true });
});

test('a wrong port: "unreachable", naming the address', async () => {
  const port = await freePort();
  const r = await cli(['jobs', 'list', '--address', `127.0.0.1:${port}`]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, new RegExp(`Cannot reach the Ray cluster at http://127\\.0\\.0\\.1:${port} \\(connection refused\\)\\. Is the head node running`));
});

test('token authentication: no token → 401 message; a wrong token (from --token-file) → 403 message; the token never echoed', async () => {
  const address = head!.address;
  const none = await cli(['jobs', 'list', '--address', address], {});
  assert.equal(none.code, 1);
  assert.match(none.stderr, /requires a token \(401\) and none is set/);
  const wrongToken = `wrong-${randomBytes(12).toString('hex')}`;
  const file = join(work, 'wrong-token');
  writeFileSync(file, wrongToken + '\n', { mode: 0o600 });
  const wrong = await cli(['jobs', 'list', '--address', address, '--token-file', file], {});
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /refused the token \(403\)/);
  assert.ok(!wrong.stderr.includes(wrongToken) && !wrong.stdout.includes(wrongToken));
  const argv = await cli(['jobs', 'list', '--address', address, '--token', 'abc'], {});
  assert.equal(argv.code, 2);
  assert.match(argv.stderr, /--token is not accepted: a command line is visible to every user \(ps\)/);
  const ok = await cli(['jobs', 'list', '--address', address]);
  assert.equal(ok.code, 0, ok.stderr);
});

test('a job that fails at start: its last log lines in the message, its id still the last stdout line', async () => {
  const r = await cli(['jobs', 'submit', '--address', head!.address, '--backend', 'pytorch', '--model', join(work, 'no-such-model'), '--data', dataDir, '--preset', 'prpo', '--steps', '2', '--runs-dir', runsDir]);
  assert.equal(r.code, 1, r.stderr);
  const id = lines(r.stdout).at(-1)!;
  assert.match(id, /^prpo-train-\d{8}-\d{6}-[0-9a-f]{6}$/);
  assert.match(r.stderr, new RegExp(`Job "${id}" failed at start: .*exit code 2.*\\nLast log lines:\\n`, 's'));
  assert.match(r.stderr, /no-such-model/);
  const status = await cli(['jobs', 'status', '--address', head!.address, id]);
  assert.equal(lines(status.stdout)[0], 'FAILED');
});

test('a PRPO-R run of a tiny model on the PyTorch backend: submit, status, follow, stop with a checkpoint first, resubmit from it', async () => {
  const address = head!.address;
  const config = join(work, 'run-config.json');
  writeFileSync(config, JSON.stringify({ maxNewTokens: 4, promptsPerStep: 1, groupSize: 2, runtime_env: { env_vars: { PRPO_RUN_MARK: 'from-the-run-config', OMP_NUM_THREADS: '1' } } }));
  const submitted = await cli(['jobs', 'submit', '--address', address, '--backend', 'pytorch', '--model', modelDir, '--data', dataDir, '--preset', 'prpo', '--steps', '200', '--checkpoint-every', '0', '--runs-dir', runsDir, '--config', config]);
  assert.equal(submitted.code, 0, submitted.stderr);
  const [runDir, id] = lines(submitted.stdout);
  assert.equal(lines(submitted.stdout).length, 2);
  assert.match(id, /^prpo-train-/);
  assert.ok(runDir.startsWith(runsDir + '/') && existsSync(join(runDir, 'run.json')), `run directory ${runDir}`);

  // Ray's view of it: RUNNING, our metadata, the run config's runtime_env.
  const status = await cli(['jobs', 'status', '--address', address, id]);
  assert.deepEqual(lines(status.stdout).slice(0, 2), ['RUNNING', `run directory: ${runDir}`]);
  const details = await new RayJobsClient({ address, token: TOKEN }).status(id);
  assert.deepEqual(details.runtime_env?.env_vars, { PYTHONUNBUFFERED: '1', PRPO_RUN_MARK: 'from-the-run-config', OMP_NUM_THREADS: '1' });
  assert.equal(details.metadata?.prpo_studio, 'train');
  const listed = await cli(['jobs', 'list', '--address', address]);
  assert.match(lines(listed.stdout)[0], new RegExp(`^${id} +RUNNING +prpo-studio train`));

  // Follow the log (the WebSocket tail) while it trains.
  const follow = cli(['jobs', 'logs', '--follow', '--address', address, id]);
  await until('two training steps', async () => ((await readMetrics(runDir)).filter((r) => r.step >= 1).length >= 2 ? true : undefined), 400_000);
  assert.deepEqual(commandLinesWith(TOKEN), [], 'the token is in no command line while the job runs');
  assert.equal(listCheckpoints(runDir).length, 0, 'no checkpoint before the stop (checkpoint-every 0)');

  // Stop: the trainer is asked to checkpoint first (it runs on this machine), then Ray stops the job.
  const stopped = await cli(['jobs', 'stop', '--address', address, id]);
  assert.equal(stopped.code, 0, stopped.stderr);
  assert.match(stopped.stderr, /Asking the trainer \(pid \d+\) to write a checkpoint and stop/);
  const m = new RegExp(`^${id}: STOPPED; checkpoint written at step (\\d+)$`).exec(lines(stopped.stdout).at(-1)!);
  assert.ok(m, stopped.stdout);
  const ckStep = Number(m[1]);
  const checkpoints = listCheckpoints(runDir);
  assert.deepEqual(checkpoints.map((c) => [c.step, c.complete]), [[ckStep, true]]);
  const events = (await readEvents(runDir)).map((e) => e.type);
  assert.deepEqual(events.slice(-2), ['checkpoint', 'stopped']);

  const followed = await follow;
  assert.equal(followed.code, 0, followed.stderr);
  assert.ok(followed.stdout.includes(runDir), 'the followed log holds the run directory line');
  assert.match(followed.stdout, /step 2: reward=/);
  assert.match(followed.stdout, /SIGTERM: stopping at the next safe point with a checkpoint/);
  assert.match(followed.stderr, new RegExp(`${id}: STOPPED`));
  assert.equal(lines((await cli(['jobs', 'status', '--address', address, id])).stdout)[0], 'STOPPED');

  // Resubmit from the checkpoint: the same run continues to step ckStep + 1.
  const resumed = await cli(['jobs', 'resume', '--address', address, runDir, '--steps', String(ckStep + 1)]);
  assert.equal(resumed.code, 0, resumed.stderr);
  const [sameDir, resumeId] = lines(resumed.stdout);
  assert.equal(sameDir, runDir);
  assert.match(resumeId, /^prpo-resume-/);
  await until('the resumed job to succeed', async () => (lines((await cli(['jobs', 'status', '--address', address, resumeId])).stdout)[0] === 'SUCCEEDED' ? true : undefined), 400_000);
  const added = (await readEvents(runDir)).map((e) => e.type).slice(events.length);
  assert.equal(added[0], 'resumed', added.join(','));
  assert.equal(added.at(-1), 'completed', added.join(','));
  assert.ok((await readMetrics(runDir)).some((r) => r.step === ckStep + 1), `step ${ckStep + 1} trained after the resume`);

  // Nowhere: not in a file the runs wrote (run directory, the submitted config), not in any CLI output,
  // not in the jobs' logs or their entrypoint/runtime_env/metadata, not in any command line.
  const client = new RayJobsClient({ address, token: TOKEN });
  const leaks: string[] = [];
  leaks.push(...filesHolding(filesUnder(work), TOKEN));
  for (const j of await client.list()) {
    const text = JSON.stringify(j) + (j.submission_id ? await client.logs(j.submission_id) : '');
    if (text.includes(TOKEN)) leaks.push(`job ${j.submission_id}`);
  }
  if (outputs.some((o) => o.includes(TOKEN))) leaks.push('CLI output');
  leaks.push(...commandLinesWith(TOKEN));
  assert.deepEqual(leaks, [], 'the token leaked');
  assert.ok(filesUnder(runDir).length > 10, 'the scan looked at the run files');
});

test('a local working_dir goes up as `ray job submit` sends it: the job runs in it, ignored files left out', async () => {
  const client = new RayJobsClient({ address: head!.address, token: TOKEN });
  const dir = join(work, 'job-code');
  mkdirSync(join(dir, 'pkg'), { recursive: true });
  writeFileSync(join(dir, 'marker.txt'), 'unpacked on the cluster');
  writeFileSync(join(dir, 'pkg', 'mod.py'), 'VALUE = 42\n');
  writeFileSync(join(dir, '.gitignore'), '*.log\n');
  writeFileSync(join(dir, 'local.log'), 'stays here');
  const said: string[] = [];
  const env = await uploadLocalPackages(client, { working_dir: dir }, work, (t) => said.push(t));
  assert.match(String(env?.working_dir), /^gcs:\/\/_ray_pkg_[0-9a-f]{40}\.zip$/);
  assert.equal(await client.packageExists(String(env!.working_dir)), true);
  const script = "import os, sys; sys.path.insert(0, '.'); from pkg.mod import VALUE; print(sorted(os.listdir('.')), VALUE, open('marker.txt').read())";
  const { submission_id: id } = await client.submit({ entrypoint: `${shellQuote(PYTHON)} -c ${shellQuote(script)}`, runtime_env: env });
  const done = await until('the job to end', async () => {
    const d = await client.status(id);
    return isTerminal(d.status) ? d : undefined;
  }, 180_000);
  const logs = await client.logs(id);
  assert.equal(done.status, 'SUCCEEDED', `${done.message}\n${logs}`);
  assert.match(logs, /\['\.gitignore', 'marker\.txt', 'pkg'\] 42 unpacked on the cluster/);
  // A second upload of the same folder is skipped: the cluster has it.
  await uploadLocalPackages(client, { working_dir: dir }, work, (t) => said.push(t));
  assert.match(said.at(-1)!, /is on the cluster already/);
});
