// A training run on a Ray cluster, driven from the palette in real VS Code: a real local Ray head (token
// authentication on) is the cluster in the setting prpoStudio.clusters; Set Cluster Token… stores its token;
// Submit Run to Cluster… sends a PyTorch-backend PRPO-R run of a tiny model (made at test time) with a run
// config file (trainer keys + runtime_env, whose local working_dir is uploaded); the run appears in the explorer with Ray's status beside ours;
// Follow Cluster Logs streams its log into an output channel; its rollouts open in the trajectory view; Stop
// Cluster Run writes a checkpoint first; Resume Cluster Run from Checkpoint… resubmits it from that checkpoint
// (with the stopped job's runtime_env) for a few more steps, which it trains to the end. Then the token is looked for in every file the session wrote
// (workspace, runs, settings, logs) and in every process's command line.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { RayJobsClient } from '../../../src/core/cluster';
import { listCheckpoints, readEvents } from '../../../src/core/run';
import { commandLinesWith, filesHolding, filesUnder } from '../../unit/cluster/leaks';
import { PYTHON, ROOT, freePort, startRayHead, type RayHead } from '../../unit/cluster/rayHead';
import { onCleanup } from '../harness/cleanup';
import { scenario } from '../harness/studio';
import type { Workbench } from '../harness/workbench';
import { showStudio, until, widenSideBar } from '../suite/scenarioHelpers';

const TOKEN = `prpo-ui-token-${randomBytes(16).toString('hex')}`;
let head: RayHead | undefined;
let modelDir = '';
let dataDir = '';
let configFile = '';

/** User settings for code-server; setup() fills in the cluster once its port is known (they are read after it). */
// No periodic checkpoints: the one the stop writes is the run's only one.
const settings: Record<string, unknown> = { 'prpoStudio.checkpointEvery': 0 };

/** The tiny model, the dataset and the Ray head, prepared before the workbench opens. */
async function setup(workspaceDir: string): Promise<void> {
  const dashboardPort = await freePort();
  settings['prpoStudio.clusters'] = [{ name: 'local-ray', address: `http://127.0.0.1:${dashboardPort}`, python: PYTHON }];
  // A run config file: trainer keys (short answers keep the CPU steps quick) and Ray's runtime_env.
  configFile = join(workspaceDir, 'cluster-run.json');
  // Its working_dir is a local folder beside it, uploaded as `ray job submit` would.
  writeFileSync(configFile, JSON.stringify({ maxNewTokens: 4, promptsPerStep: 1, groupSize: 2, runtime_env: { working_dir: 'cluster-code', env_vars: { OMP_NUM_THREADS: '1' } } }, null, 2));
  mkdirSync(join(workspaceDir, 'cluster-code'), { recursive: true });
  writeFileSync(join(workspaceDir, 'cluster-code', 'README.txt'), 'shipped to the cluster as the job\'s working_dir\n');
  modelDir = join(workspaceDir, 'models', 'tiny-qwen2-vl');
  dataDir = join(workspaceDir, 'datasets', 'shapes');
  const py = spawnSync(PYTHON, ['-m', 'prpo_studio', 'tiny-model', '--family', 'qwen2-vl', '--out', modelDir], {
    encoding: 'utf8',
    env: { ...process.env, PYTHONPATH: join(ROOT, 'python', 'src'), PYTHONDONTWRITEBYTECODE: '1' },
    timeout: 300_000,
  });
  if (py.status !== 0) throw new Error(`python -m prpo_studio tiny-model failed (${py.status ?? py.signal}):\n${py.stderr}`);
  const data = spawnSync(process.execPath, [join(ROOT, 'dist', 'cli.js'), 'export-task', 'shapes', '--out', dataDir, '--n', '16'], { encoding: 'utf8', timeout: 120_000 });
  if (data.status !== 0) throw new Error(`export-task failed: ${data.stderr}`);
  // After the model: `ray start` allows its raylet a fixed 30 s to come up, which a busy machine can miss.
  const starting = startRayHead({ token: TOKEN, dashboardPort, log: (t) => process.stderr.write(`[cluster-runs] ${t}\n`) });
  // Stopped with the scenario, whatever happens (the head also stops itself when this process exits).
  let started: RayHead | undefined;
  onCleanup('ray head', async () => (await starting.catch(() => undefined))?.stop(), () => started?.kill());
  started = await starting;
  head = started;
}

const escapeRe = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

async function runRow(workbench: Workbench, description: RegExp, timeoutMs: number) {
  return until(
    `a run row ${description}`,
    async () => (await workbench.treeItems('Runs', { timeoutMs: 2000 })).find((i) => description.test(i.description)),
    timeoutMs,
  );
}

/** What the output channel "PRPO Studio: Cluster Logs" holds: VS Code writes each channel to a file in its logs. */
function channelText(userDataDir: string): string {
  const file = filesUnder(join(userDataDir, 'logs')).find((f) => f.endsWith('PRPO Studio Cluster Logs.log'));
  return file ? readFileSync(file, 'utf8') : '';
}

scenario(
  'a PRPO-R run on a Ray cluster: set the token, submit from the palette, Ray status in the explorer, follow logs, stop with a checkpoint',
  {
    runs: [],
    setup,
    timeoutMs: 900_000,
    settings,
  },
  async ({ workbench, page, screenshot, workspaceDir, runsDir, server }) => {
    await showStudio(workbench);
    await widenSideBar(page, 700);

    // The token goes into the secret store through a password box, and the cluster accepts it.
    await workbench.runCommand('prpoStudio.setClusterToken');
    await page.locator('.quick-input-widget .quick-input-box input[type="password"]').waitFor({ timeout: 15_000 });
    await workbench.answerInput(TOKEN);
    await workbench.waitForNotification(/Cluster "local-ray": token stored; the cluster accepts it\./, 60_000);
    await screenshot('token-stored');

    await workbench.runCommand('prpoStudio.submitClusterRun');
    await workbench.pickQuickItem(/Choose a run config file/);
    // The open dialog (a quick input here) fills in the workspace folder; typed before that, a path is overwritten.
    const input = page.locator('.quick-input-widget .quick-input-box input');
    await until('the open dialog with the workspace folder', async () => (await input.inputValue().catch(() => '')).startsWith(workspaceDir), 30_000);
    await workbench.answerInput(configFile);
    await workbench.pickQuickItem('PRPO-R');
    await workbench.answerInput('200', { title: /: steps$/ });
    await workbench.answerInput(modelDir, { title: /: model folder on the cluster$/ });
    await workbench.answerInput(dataDir, { title: /: dataset folder on the cluster$/ });
    await screenshot('submitting');

    const row = await runRow(workbench, /running · PRPO-R · Ray RUNNING/, 600_000);
    assert.match(row.description, /step \d+\/200/);
    await screenshot('cluster-run-in-explorer');
    const runDir = readdirSync(runsDir).map((d) => join(runsDir, d)).find((d) => existsSync(join(d, 'run.json')));
    assert.ok(runDir, `a run directory in ${runsDir}`);
    // The run config's runtime_env reached Ray; its trainer keys reached the trainer.
    const [job] = await new RayJobsClient({ address: head!.address, token: TOKEN }).list();
    assert.deepEqual(job.runtime_env?.env_vars, { PYTHONUNBUFFERED: '1', OMP_NUM_THREADS: '1' });
    const workingDir = String(job.runtime_env?.working_dir);
    assert.match(workingDir, /^gcs:\/\/_ray_pkg_[0-9a-f]{40}\.zip$/, 'the local working_dir went up as a package');
    assert.equal((JSON.parse(readFileSync(join(runDir, 'run.json'), 'utf8')) as { config: { maxNewTokens: number } }).config.maxNewTokens, 4);

    await workbench.runCommand('prpoStudio.followClusterLogs');
    await until('the trainer\'s steps in the output channel', async () => /step \d+: reward=/.test(channelText(server.userDataDir)), 300_000);
    const shown = channelText(server.userDataDir);
    assert.match(shown, /following/);
    assert.ok(shown.includes(runDir), 'the log shows the run directory line');
    // For the screenshot: the panel shows the lines once it has drawn them.
    await page.locator('.part.panel').getByText(/step \d+: reward=/).first().waitFor({ timeout: 20_000 }).catch(() => undefined);
    await screenshot('following-cluster-logs');

    await workbench.runCommand('prpoStudio.stopClusterRun');
    const done = await workbench.waitForNotification(/Ray STOPPED, checkpoint at step \d+ \(written now\)/, 240_000);
    const step = Number(/checkpoint at step (\d+)/.exec(done.message)![1]);
    await runRow(workbench, /stopped · PRPO-R · Ray STOPPED/, 60_000);
    await until('the follow to end', async () => /ended: STOPPED/.test(channelText(server.userDataDir)), 60_000);
    await screenshot('stopped-with-checkpoint');
    assert.deepEqual(listCheckpoints(runDir).map((c) => [c.step, c.complete]), [[step, true]]);
    assert.equal((await readEvents(runDir)).at(-1)?.type, 'stopped');

    // Its rollouts, written on the cluster's side of the shared runs directory, in the trajectory view.
    await workbench.runCommand('prpoStudio.openRun');
    const webview = await workbench.waitForWebview('.tok', 120_000);
    await webview.locator('.rollout').first().waitFor({ timeout: 60_000 });
    await screenshot('cluster-run-trajectory');
    await workbench.runCommand('View: Close All Editors');

    // Resume from the palette: the stopped run (named by the trainer on the cluster, "prpo <model> seed N") is
    // the one with a checkpoint; its latest complete checkpoint is
    // the one resumed from. A few steps past it, so that the resumed job trains to the end.
    const name = (JSON.parse(readFileSync(join(runDir, 'run.json'), 'utf8')) as { name: string }).name;
    const target = step + 3;
    await workbench.runCommand('prpoStudio.resumeClusterRun');
    await workbench.pickQuickItem(name);
    await workbench.answerInput(String(target), { title: /^Resume / });
    await workbench.waitForNotification(new RegExp(`Cluster "local-ray": .+ is (RUNNING|SUCCEEDED) and writes ${escapeRe(basename(runDir))}\\.`), 600_000);
    await runRow(workbench, new RegExp(`step \\d+/\\d+ · R [-\\d.]+ · (running · PRPO-R · Ray RUNNING|completed · PRPO-R · Ray SUCCEEDED)`), 120_000);
    const finished = await runRow(workbench, new RegExp(`^step ${target}/\\d+ · R [-\\d.]+ · completed · PRPO-R · Ray SUCCEEDED$`), 600_000);
    await screenshot('resumed-from-checkpoint');
    const events = await readEvents(runDir);
    const resumed = events.findIndex((e) => e.type === 'resumed');
    assert.ok(resumed > events.findIndex((e) => e.type === 'stopped'), `a 'resumed' event after the stop: ${events.map((e) => e.type).join(', ')}`);
    assert.equal(events[resumed].step, step, 'resumed from the checkpoint\'s step');
    assert.deepEqual([events.at(-1)?.type, events.at(-1)?.step], ['completed', target]);
    // The steps past the checkpoint are in the run's metrics.
    const steps = readFileSync(join(runDir, 'metrics.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { step: number }).step);
    assert.ok(steps.includes(target) && steps.includes(step + 1), `steps ${step + 1}..${target} in metrics.jsonl: ${steps.join(',')}`);
    // Both jobs are on the cluster: the stopped one and the resumed one, which succeeded.
    const jobs = await new RayJobsClient({ address: head!.address, token: TOKEN }).list();
    assert.deepEqual(jobs.map((j) => j.status).sort(), ['STOPPED', 'SUCCEEDED']);
    // The resumed job got the stopped one's runtime_env again: its working_dir package and its env vars.
    const resumedJob = jobs.find((j) => j.status === 'SUCCEEDED')!;
    assert.equal(resumedJob.runtime_env?.working_dir, workingDir);
    assert.deepEqual(resumedJob.runtime_env?.env_vars, { PYTHONUNBUFFERED: '1', OMP_NUM_THREADS: '1' });
    assert.ok(finished.description.includes('Ray SUCCEEDED'));

    // The token: in no file of the session (workspace, runs, user settings, extension host and output logs),
    // and in no command line. The browser's profile holds VS Code's secret store and is left out.
    const root = dirname(workspaceDir);
    const files = filesUnder(root, (p) => p === join(root, 'chrome'));
    assert.deepEqual(filesHolding(files, TOKEN), [], 'files that hold the token');
    assert.ok(files.some((f) => /exthost/.test(f)), 'the scan covered the extension host logs');
    assert.deepEqual(commandLinesWith(TOKEN), []);
    assert.ok(head, 'the head ran');
  },
);
