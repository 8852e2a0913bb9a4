// Local runtime_env folders zipped and uploaded as `ray job submit` does (src/core/cluster/packages.ts): what
// goes in (Ray's default excludes, .gitignore / .rayignore at any depth, runtime_env.excludes), the content
// name, the upload skipped when the cluster has the package, and `jobs submit|resume --config` end to end
// against a stand-in dashboard. The real head unpacks one in ray.test.ts.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { unzipSync } from 'fflate';
import { RayJobsClient, packFolder, previousRuntimeEnv, uploadLocalPackages } from '../../../src/core/cluster';
import { CLI_BUNDLE, ensureCliBuilt } from '../cliBuild';
import { FakeRay } from './fakeRay';

const work = mkdtempSync(join(tmpdir(), 'prpo-pkg-'));
const servers: FakeRay[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
  rmSync(work, { recursive: true, force: true });
});

async function fake(): Promise<FakeRay> {
  const f = await FakeRay.start();
  servers.push(f);
  return f;
}

/** Writes `files` (path → text) under a new folder `name` of the test's folder; returns the folder. */
function tree(name: string, files: Record<string, string>): string {
  const root = join(work, name);
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, rel)), { recursive: true });
    writeFileSync(join(root, rel), text);
  }
  return root;
}

const unzipped = (zip: Uint8Array): Record<string, string> =>
  Object.fromEntries(Object.entries(unzipSync(zip)).map(([k, v]) => [k, Buffer.from(v).toString('utf8')]));

const PROJECT = {
  'reward.py': 'def score(r, a, e):\n    return 1.0\n',
  'sub/helper.py': 'X = 1\n',
  '.gitignore': '*.log\ndata/\n',
  'train.log': 'ignored by .gitignore',
  'data/big.bin': 'ignored: a folder .gitignore names',
  'sub/.rayignore': 'secret.txt\n',
  'sub/secret.txt': 'ignored by the .rayignore below the root',
  'notes/todo.md': 'ignored by runtime_env.excludes',
  '.git/HEAD': 'ref: refs/heads/main',
  '__pycache__/reward.cpython-311.pyc': 'x',
  '.venv/bin/python': 'x',
};

test('a working_dir is zipped as Ray does: default excludes, .gitignore and .rayignore at any depth, runtime_env.excludes', () => {
  const dir = tree('project', PROJECT);
  // An empty folder goes in, as Ray packs it; an ignored one (data/, named by .gitignore) does not.
  mkdirSync(join(dir, 'outputs'));
  const pkg = packFolder(dir, { excludes: ['notes/'] });
  const inside = unzipped(pkg.zip);
  assert.deepEqual(Object.keys(inside).sort(), ['.gitignore', 'outputs/', 'reward.py', 'sub/.rayignore', 'sub/helper.py']);
  assert.deepEqual(pkg.files, ['.gitignore', 'reward.py', 'sub/.rayignore', 'sub/helper.py']);
  assert.equal(inside['reward.py'], PROJECT['reward.py']);
  assert.match(pkg.uri, /^gcs:\/\/_ray_pkg_[0-9a-f]{40}\.zip$/);
  // Named by content: the same files give the same name (so a second submit uploads nothing), a changed byte another.
  assert.equal(packFolder(dir, { excludes: ['notes/'] }).uri, pkg.uri);
  writeFileSync(join(dir, 'sub', 'helper.py'), 'X = 2\n');
  assert.notEqual(packFolder(dir, { excludes: ['notes/'] }).uri, pkg.uri);
  // An ignored file changing does not change the package.
  const before = packFolder(dir, { excludes: ['notes/'] }).uri;
  writeFileSync(join(dir, 'train.log'), 'more');
  assert.equal(packFolder(dir, { excludes: ['notes/'] }).uri, before);
  // A link back up to the folder is followed once, not forever.
  symlinkSync(dir, join(dir, 'sub', 'loop'));
  assert.equal(packFolder(dir, { excludes: ['notes/'] }).uri, before);
  rmSync(join(dir, 'sub', 'loop'));
  // A py_modules folder keeps its name as the top folder, so that it imports by that name.
  assert.deepEqual(Object.keys(unzipped(packFolder(join(dir, 'sub'), { topFolder: true }).zip)).sort(), ['sub/.rayignore', 'sub/helper.py']);
});

test('what cannot go up says so: not a folder, over the size limit (with the largest files), excludes that are not patterns', async () => {
  assert.throws(() => packFolder(join(work, 'nowhere')), /runtime_env: .*nowhere is not a folder on this machine/);
  const dir = tree('heavy', { 'weights.bin': 'x'.repeat(4000), 'small.py': 'y' });
  assert.throws(() => packFolder(dir, { maxBytes: 1000 }), /holds 3\.9 KiB of files, over Ray's package limit of 1\.0 KiB\. The largest: weights\.bin \(3\.9 KiB\), small\.py/);
  const store = { packageExists: async () => false, uploadPackage: async () => {} };
  await assert.rejects(uploadLocalPackages(store, { working_dir: dir, excludes: 'x' }, work), /runtime_env\.excludes: expected a list of gitignore patterns/);
  await assert.rejects(uploadLocalPackages(store, { working_dir: 3 }, work), /runtime_env\.working_dir: expected a folder or a URI/);
  await assert.rejects(uploadLocalPackages(store, { working_dir: join(dir, 'small.py') }, work), /small\.py is a file; give a folder or a \.zip/);
});

test('uploadLocalPackages: relative folders from the config\'s folder, uploaded once; URIs untouched; a wheel by its name', async () => {
  const ray = await fake();
  const client = new RayJobsClient({ address: ray.address });
  const base = join(work, 'configs');
  tree('configs/code', { 'main.py': 'print(1)\n' });
  tree('configs/mylib', { '__init__.py': '' });
  writeFileSync(join(base, 'mylib-0.1-py3-none-any.whl'), 'PK wheel bytes');
  const said: string[] = [];
  const env = { working_dir: 'code', py_modules: ['mylib', 'mylib-0.1-py3-none-any.whl', 's3://bucket/mod.zip'], pip: ['numpy'], env_vars: { A: '1' } };
  const out = (await uploadLocalPackages(client, env, base, (t) => said.push(t)))!;
  assert.match(out.working_dir as string, /^gcs:\/\/_ray_pkg_[0-9a-f]{40}\.zip$/);
  const [lib, wheel, s3] = out.py_modules as string[];
  assert.match(lib, /^gcs:\/\/_ray_pkg_[0-9a-f]{40}\.zip$/);
  assert.equal(wheel, 'gcs://mylib-0.1-py3-none-any.whl');
  assert.equal(s3, 's3://bucket/mod.zip');
  assert.deepEqual([out.pip, out.env_vars], [['numpy'], { A: '1' }]);
  assert.deepEqual(env.working_dir, 'code', 'the caller\'s object is left as it was');
  assert.deepEqual(unzipped(ray.packages.get(out.working_dir as string)!), { 'main.py': 'print(1)\n' });
  assert.deepEqual(Object.keys(unzipped(ray.packages.get(lib)!)), ['mylib/__init__.py']);
  assert.equal(ray.packages.get(wheel)!.toString(), 'PK wheel bytes');
  assert.equal(said.filter((t) => /uploading/.test(t)).length, 3, said.join('\n'));
  // Again: the cluster has them, nothing goes up.
  const puts = () => ray.requests.filter((r) => r.method === 'PUT').length;
  const before = puts();
  said.length = 0;
  assert.deepEqual(await uploadLocalPackages(client, env, base, (t) => said.push(t)), out);
  assert.equal(puts(), before);
  assert.ok(said.every((t) => /on the cluster already/.test(t)), said.join('\n'));
});

test('a resumed run gets its previous job\'s runtime_env again, with the packages the cluster dropped named', async () => {
  const ray = await fake();
  const client = new RayJobsClient({ address: ray.address });
  ray.packages.set('gcs://_ray_pkg_kept.zip', Buffer.from('x'));
  const details = { runtime_env: { working_dir: 'gcs://_ray_pkg_kept.zip', py_modules: ['gcs://_ray_pkg_gone.zip', 's3://b/m.zip'], env_vars: { A: '1' } } };
  assert.deepEqual(await previousRuntimeEnv(client, details), { runtimeEnv: details.runtime_env, missing: ['gcs://_ray_pkg_gone.zip'] });
  assert.deepEqual(await previousRuntimeEnv(client, { runtime_env: null }), { missing: [] });
});

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI_BUNDLE, ...args], { env: { ...process.env, RAY_AUTH_TOKEN: undefined, RAY_ADDRESS: undefined } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

test('jobs submit|resume --config: the runtime_env\'s local working_dir goes up, the job gets its URI', { skip: !ensureCliBuilt() }, async () => {
  const ray = await fake();
  const dir = tree('cli/code', { 'reward.py': 'R = 1\n' });
  const config = join(work, 'cli', 'run.json');
  writeFileSync(config, JSON.stringify({ lr: 1e-5, runtime_env: { working_dir: './code', env_vars: { A: '1' } } }));
  const paths = ['--model', '/m', '--data', '/d', '--runs-dir', '/runs'];
  const r = await cli(['jobs', 'submit', '--address', ray.address, ...paths, '--steps', '2', '--config', config, '--no-wait']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`runtime_env\\.working_dir: uploading ${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(1 files, `));
  const id = r.stdout.trim().split('\n').at(-1)!;
  const env = ray.jobs.get(id)!.details.runtime_env!;
  assert.match(env.working_dir as string, /^gcs:\/\/_ray_pkg_[0-9a-f]{40}\.zip$/);
  assert.deepEqual(unzipped(ray.packages.get(env.working_dir as string)!), { 'reward.py': 'R = 1\n' });
  assert.deepEqual(env.env_vars, { PYTHONUNBUFFERED: '1', A: '1' });
  // resume takes the runtime_env from --config (the trainer's keys are the run's own, and said to be ignored).
  const again = await cli(['jobs', 'resume', '--address', ray.address, '/runs/r1', '--steps', '4', '--config', config, '--no-wait']);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /a resumed run keeps its configuration; only runtime_env is taken \(ignored: lr\)/);
  assert.match(again.stderr, /runtime_env\.working_dir: .* is on the cluster already/);
  assert.equal(ray.jobs.get(again.stdout.trim().split('\n').at(-1)!)!.details.runtime_env!.working_dir, env.working_dir);
});
