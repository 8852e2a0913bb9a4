// `npm start`: PRPO Studio in real VS Code (code-server), in your browser.
//
//   npm ci && npm start                   provisions code-server when missing (~2 min once), then serves; the
//                                         PyTorch backend's Python environment is set up in the background
//   npm start -- --port 8080              a fixed port (default 3140, or a free one when that is taken)
//   npm start -- --no-auto-start          do not start the built-in PRPO-R run on launch
//   npm start -- --workspace ../my-runs   another workspace folder (runs are read from <folder>/runs)
//
// Opens ./studio-workspace (created, with its own .gitignore so git ignores it) whose runs/ holds the runs;
// prints the URL to open and stays up until Ctrl-C, which stops code-server and everything it started.
// Uses the same launcher as the VS Code tests (test/vscode/harness/launcher.ts).
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { openSync } from 'node:fs';
import { checkPython, ensureToolchain, toolchainDir } from './toolchain/provision';
import { isShuttingDown } from '../test/vscode/harness/cleanup';
import { launchCodeServer, repoRoot } from '../test/vscode/harness/launcher';

const DEFAULT_PORT = 3140;

function arg(name: string): string | undefined {
  const argv = process.argv.slice(2);
  const i = argv.indexOf(`--${name}`);
  if (i >= 0) return argv[i + 1];
  return argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
}
const flag = (name: string) => process.argv.slice(2).includes(`--${name}`);

function portFree(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = createServer();
    s.once('error', () => res(false));
    s.listen(port, '127.0.0.1', () => s.close(() => res(true)));
  });
}

async function main(): Promise<void> {
  if (flag('help') || flag('h')) {
    console.log('npm start [-- --port N] [--workspace DIR] [--no-auto-start]');
    return;
  }
  // The built-in default needs only code-server; the PyTorch backend's environment (several GB cold) must not
  // hold the studio up, so it is provisioned by a detached `npm run toolchain` while the studio serves.
  await ensureToolchain({ python: false });
  const pythonMissing = checkPython();
  if (pythonMissing) {
    mkdirSync(toolchainDir, { recursive: true });
    const log = join(toolchainDir, 'python-setup.log');
    const out = openSync(log, 'a');
    spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'scripts', 'toolchain', 'provision.ts')], {
      cwd: repoRoot,
      detached: true,
      stdio: ['ignore', out, out],
    }).unref();
    console.log(`[studio] setting up the PyTorch backend's Python environment in the background (${pythonMissing}); progress: ${log}`);
  }
  if (!existsSync(join(repoRoot, 'dist', 'extension.js')) || flag('build')) {
    console.log('[studio] building dist/ …');
    const r = spawnSync(process.execPath, ['esbuild.mjs'], { cwd: repoRoot, stdio: 'inherit' });
    if (r.status !== 0) throw new Error('the build failed');
  }
  const workspaceDir = resolve(arg('workspace') ?? join(repoRoot, 'studio-workspace'));
  mkdirSync(join(workspaceDir, 'runs'), { recursive: true });
  if (!arg('workspace') && !existsSync(join(workspaceDir, '.gitignore'))) {
    writeFileSync(join(workspaceDir, '.gitignore'), '# created by `npm start`: runs and settings stay out of git\n*\n');
  }
  const asked = arg('port') ?? process.env.PRPO_STUDIO_PORT;
  const port = asked ? Number(asked) : (await portFree(DEFAULT_PORT)) ? DEFAULT_PORT : undefined;
  if (asked && !(await portFree(Number(asked)))) throw new Error(`port ${asked} is in use`);
  const autoStart = !flag('no-auto-start');

  console.log(`[studio] starting code-server on ${workspaceDir} …`);
  const server = await launchCodeServer({
    workspaceDir,
    mode: 'installed',
    port,
    settings: { 'prpoStudio.autoStart': autoStart },
    stopGraceMs: 10_000,
  });
  const url = server.url;
  console.log('');
  console.log('  PRPO Studio is running in VS Code (code-server). Open:');
  console.log('');
  console.log(`    ${url}`);
  console.log('');
  console.log(`  runs: ${join(workspaceDir, 'runs')}${autoStart ? '   (a PRPO-R run on the built-in defaults starts when the window opens)' : ''}`);
  console.log(`  log:  ${server.logFile}`);
  console.log('  Ctrl-C stops the studio.');
  process.once('SIGINT', () => console.log('\n[studio] stopping…'));
  process.once('SIGTERM', () => console.log('[studio] stopping…'));
  const code = await server.exited;
  if (isShuttingDown()) return;
  console.error(`[studio] code-server exited (${code}); see the output above`);
  await server.stop();
  process.exitCode = 1;
}

main().catch((e: Error) => {
  console.error(`[studio] ${e.message}`);
  process.exit(1);
});
