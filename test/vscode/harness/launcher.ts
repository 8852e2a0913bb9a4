// One launcher for real VS Code (code-server) with the studio loaded — shared by the test harness (UI
// scenarios, the extension-host suite) and `npm start`.
//
// Each launch gets a fresh run folder (user data, extensions, HOME, XDG dirs, a short TMPDIR: unix socket
// paths are limited to 108 bytes), a free loopback port and quiet settings, and code-server runs in its own
// session (setsid) so that stop() — and the process-exit hooks in cleanup.ts — end the whole process group.
//
// Two ways to load the extension:
//  - 'installed': the repository is symlinked into the extensions folder as `prpo-studio.prpo-studio-0.1.0`
//    and the workbench opens at a plain `/?folder=…` URL (what `npm start` and the UI scenarios use);
//  - 'development': the Extension Development Host route (`--vscode-option enable-smoke-test-driver` plus a
//    `payload` with extensionDevelopmentPath, and extensionTestsPath to run a test module inside the
//    extension host — the extension-host suite).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { ensureToolchain, repoRoot } from '../../../scripts/toolchain/provision';
import { groupAlive, killGroup, onCleanup, removeDir, stopGroup } from './cleanup';

export { repoRoot };

/** Settings that keep the workbench quiet and deterministic. */
export const QUIET_SETTINGS: Record<string, unknown> = {
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.enableExperiments': false,
  'workbench.welcomePage.walkthroughs.openOnInstall': false,
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
  'workbench.layoutControl.enabled': false,
  'window.commandCenter': false,
  'git.enabled': false,
  'git.autoRepositoryDetection': false,
  'chat.disableAIFeatures': true,
  'chat.commandCenter.enabled': false,
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
  'extensions.autoUpdate': false,
  'extensions.autoCheckUpdates': false,
  'extensions.ignoreRecommendations': true,
  'security.workspace.trust.enabled': false,
  'files.watcherExclude': { '**/node_modules/**': true },
  'editor.minimap.enabled': false,
};

export interface LaunchOptions {
  /** The folder the workbench opens. */
  workspaceDir: string;
  /** The extension folder (default: the repository root; `dist/` must be built). */
  extensionPath?: string;
  mode?: 'installed' | 'development';
  /** A packaged VSIX to install with `code-server --install-extension` instead of linking the folder
   *  ('installed' mode only): the copy a user gets from `npm run package`. */
  vsix?: string;
  /** Absolute path of a CommonJS module exporting `run(): Promise<void>` (development mode only). */
  extensionTestsPath?: string;
  /** User settings merged over QUIET_SETTINGS. */
  settings?: Record<string, unknown>;
  /** A fixed port; default: a free one. */
  port?: number;
  /** Parent of the run folder (default $PRPO_VSCODE_TMP, else /tmp). Keep it short. */
  tmpRoot?: string;
  /** A user-data folder to keep across launches (npm start); default: fresh in the run folder. */
  userDataDir?: string;
  /** Extra environment for code-server and the extension host it forks. */
  env?: NodeJS.ProcessEnv;
  /** Each line code-server prints (default: kept in the log file only). */
  onOutput?: (line: string) => void;
  /**
   * On stop (also Ctrl-C), ask code-server alone to stop and wait this long before ending its process group,
   * so that the extension deactivates (live runs checkpoint). Default 0: the group is stopped at once.
   */
  stopGraceMs?: number;
  /** Milliseconds to wait for /healthz (default 90 s). */
  startTimeoutMs?: number;
}

export interface CodeServer {
  port: number;
  /** http://127.0.0.1:PORT */
  origin: string;
  /** The workbench URL that opens the workspace (with the development payload when asked). */
  url: string;
  /** The per-launch folder (removed by stop()). */
  runDir: string;
  userDataDir: string;
  logFile: string;
  pid: number;
  /** The last lines code-server printed. */
  outputTail(lines?: number): string;
  /** The extension host's log files (remote extension host, output channels), newest content last. */
  extensionHostLogs(maxChars?: number): string;
  /**
   * Stops the process group and removes the run folder. Safe to call twice. With `graceMs`, code-server
   * alone is asked to stop first (so the extension host can deactivate: live runs checkpoint), and the
   * group is ended after that long.
   */
  stop(opts?: { graceMs?: number }): Promise<void>;
  /** Resolves with the exit code when code-server exits. */
  exited: Promise<number | null>;
}

/**
 * The extension folder the harness loads: the repository, or $PRPO_EXTENSION_PATH (an unpacked VSIX, a
 * patched copy) — it needs package.json and dist/.
 */
export function defaultExtensionPath(): string {
  return resolve(process.env.PRPO_EXTENSION_PATH || repoRoot);
}

export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => res(port));
    });
  });
}

export function readManifest(extensionPath = defaultExtensionPath()): { publisher: string; name: string; version: string; contributes?: any } {
  return JSON.parse(readFileSync(join(extensionPath, 'package.json'), 'utf8'));
}

function shortTmpRoot(explicit?: string): string {
  const root = explicit ?? process.env.PRPO_VSCODE_TMP ?? '/tmp';
  // code-server puts sockets under the user-data dir and TMPDIR: keep the run folder well under 108 bytes.
  return root.length <= 40 ? root : '/tmp';
}

function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? listFiles(p) : e.isFile() ? [p] : [];
  });
}

/** Installs a VSIX into the run's extensions folder as a user would (`code-server --install-extension`). */
function installVsix(node: string, entry: string, vsix: string, dirs: { userData: string; extensions: string; home: string; tmp: string }): void {
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: dirs.home, TMPDIR: dirs.tmp };
  delete env.NODE_OPTIONS;
  delete env.npm_config_nodedir;
  const r = spawnSync(
    node,
    [entry, '--user-data-dir', dirs.userData, '--extensions-dir', dirs.extensions, '--install-extension', resolve(vsix)],
    { cwd: dirs.home, env, encoding: 'utf8', timeout: 180_000 },
  );
  if (r.status !== 0) {
    throw new Error(`code-server --install-extension ${vsix} failed (exit ${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
  }
}

export async function launchCodeServer(opts: LaunchOptions): Promise<CodeServer> {
  const tc = await ensureToolchain();
  const extensionPath = resolve(opts.extensionPath ?? defaultExtensionPath());
  const mode = opts.mode ?? 'installed';
  if (!existsSync(join(extensionPath, 'dist', 'extension.js'))) {
    throw new Error(`${extensionPath}/dist/extension.js is missing: build first (npm run build)`);
  }
  const tmpRoot = shortTmpRoot(opts.tmpRoot);
  mkdirSync(tmpRoot, { recursive: true });
  const runDir = mkdtempSync(join(tmpRoot, 'pv-'));
  const removeRunDir = onCleanup(`run folder ${runDir}`, async () => removeDir(runDir), () => removeDir(runDir));
  const dirs = {
    userData: opts.userDataDir ?? join(runDir, 'ud'),
    extensions: join(runDir, 'ext'),
    home: join(runDir, 'home'),
    tmp: join(runDir, 'tmp'),
  };
  for (const d of Object.values(dirs)) mkdirSync(d, { recursive: true });
  mkdirSync(join(dirs.userData, 'User'), { recursive: true });
  const settingsFile = join(dirs.userData, 'User', 'settings.json');
  const previous = existsSync(settingsFile) ? safeJson(readFileSync(settingsFile, 'utf8')) : {};
  writeFileSync(settingsFile, JSON.stringify({ ...previous, ...QUIET_SETTINGS, ...opts.settings }, null, 2));
  const configFile = join(dirs.home, 'code-server.yaml');
  writeFileSync(configFile, 'auth: none\ncert: false\n');

  if (mode === 'installed' && opts.vsix) {
    installVsix(tc.node, tc.codeServerEntry, opts.vsix, dirs);
  } else if (mode === 'installed') {
    const m = readManifest(extensionPath);
    symlinkSync(extensionPath, join(dirs.extensions, `${m.publisher}.${m.name}-${m.version}`), 'dir');
  }

  const logFile = join(runDir, 'code-server.log');
  const logStream = createWriteStream(logFile, { flags: 'a' });
  const tail: string[] = [];
  let attempt = 0;
  let child: ChildProcess | undefined;
  let port = 0;
  for (;;) {
    attempt++;
    port = opts.port ?? (await freePort());
    const args = [
      tc.codeServerEntry,
      '--auth', 'none',
      '--bind-addr', `127.0.0.1:${port}`,
      '--disable-telemetry',
      '--disable-update-check',
      '--disable-workspace-trust',
      '--disable-getting-started-override',
      '--disable-file-downloads',
      '--user-data-dir', dirs.userData,
      '--extensions-dir', dirs.extensions,
      '--config', configFile,
      ...(mode === 'development' ? ['--vscode-option', 'enable-smoke-test-driver'] : []),
      // PRPO_CODE_SERVER_ARGS: more of code-server's own options, e.g. the benchmarks' `--disable-websocket-compression`.
      ...(process.env.PRPO_CODE_SERVER_ARGS?.split(' ').filter(Boolean) ?? []),
      opts.workspaceDir,
    ];
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...opts.env,
      HOME: dirs.home,
      XDG_CONFIG_HOME: join(dirs.home, '.config'),
      XDG_DATA_HOME: join(dirs.home, '.local', 'share'),
      XDG_CACHE_HOME: join(dirs.home, '.cache'),
      TMPDIR: dirs.tmp,
      // The enclosing npm's variables would leak Node 20 paths into the extension host's environment.
      npm_config_nodedir: undefined,
      NODE_OPTIONS: undefined,
    };
    for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
    const c = spawn(tc.node, args, { cwd: dirs.home, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    child = c;
    const onData = (buf: Buffer) => {
      logStream.write(buf);
      for (const line of buf.toString('utf8').split('\n')) {
        if (!line) continue;
        tail.push(line);
        if (tail.length > 400) tail.shift();
        opts.onOutput?.(line);
      }
    };
    c.stdout!.on('data', onData);
    c.stderr!.on('data', onData);
    const pgid = c.pid!;
    const exited = new Promise<number | null>((r) => c.once('exit', (code) => r(code)));
    let grace = opts.stopGraceMs ?? 0;
    const stopServer = onCleanup(
      `code-server pid ${pgid}`,
      async () => {
        if (grace > 0 && killPid(pgid, 'SIGTERM')) {
          const deadline = Date.now() + grace;
          while (Date.now() < deadline && groupAlive(pgid)) await new Promise((r) => setTimeout(r, 200));
        }
        await stopGroup(pgid);
      },
      () => void killGroup(pgid, 'SIGKILL'),
    );
    const origin = `http://127.0.0.1:${port}`;
    const ok = await waitHealthy(origin, exited, opts.startTimeoutMs ?? 90_000);
    if (ok === true) {
      const url = workbenchUrl(origin, port, opts.workspaceDir, mode, extensionPath, opts.extensionTestsPath);
      let stopped: Promise<void> | undefined;
      return {
        port,
        origin,
        url,
        runDir,
        userDataDir: dirs.userData,
        logFile,
        pid: pgid,
        exited,
        outputTail: (n = 60) => tail.slice(-n).join('\n'),
        extensionHostLogs: (maxChars = 8000) => extensionHostLogs(dirs.userData, maxChars),
        stop: ({ graceMs } = {}) =>
          (stopped ??= (async () => {
            if (graceMs !== undefined) grace = graceMs;
            await stopServer();
            await new Promise<void>((r) => logStream.end(r));
            await removeRunDir();
          })()),
      };
    }
    await stopServer();
    const inUse = tail.some((l) => l.includes('EADDRINUSE'));
    if (inUse && !opts.port && attempt < 4) continue;
    await new Promise<void>((r) => logStream.end(r));
    const out = tail.slice(-30).join('\n');
    await removeRunDir();
    throw new Error(`code-server did not become healthy (${ok}):\n${out}`);
  }
}

function killPid(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

function safeJson(s: string): Record<string, unknown> {
  try {
    return JSON.parse(s);
  } catch {
    return {};
  }
}

async function waitHealthy(origin: string, exited: Promise<number | null>, timeoutMs: number): Promise<true | string> {
  let gone: string | undefined;
  void exited.then((code) => (gone = `exited with ${code}`));
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (gone) return gone;
    try {
      const r = await fetch(`${origin}/healthz`, { signal: AbortSignal.timeout(2000) });
      if (r.ok) return true;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return `no answer on ${origin}/healthz after ${timeoutMs} ms`;
}

export function workbenchUrl(
  origin: string,
  port: number,
  folder: string,
  mode: 'installed' | 'development',
  extensionPath: string,
  extensionTestsPath?: string,
): string {
  // Slashes stay readable in the printed URL; everything else is encoded.
  const enc = (v: string) => encodeURIComponent(v).replace(/%2F/g, '/');
  let url = `${origin}/?folder=${enc(folder)}`;
  if (mode === 'development') {
    const remote = (p: string) => `vscode-remote://127.0.0.1:${port}${p}`;
    const payload: [string, string][] = [['extensionDevelopmentPath', remote(extensionPath)]];
    if (extensionTestsPath) payload.push(['extensionTestsPath', remote(extensionTestsPath)]);
    url += `&payload=${encodeURIComponent(JSON.stringify(payload))}`;
  }
  return url;
}

function extensionHostLogs(userDataDir: string, maxChars: number): string {
  const files = listFiles(join(userDataDir, 'logs'))
    .filter((f) => {
      const rel = f.slice(userDataDir.length);
      return rel.endsWith('.log') && (/prpo/i.test(rel) || /^(remote)?exthost\.log$/i.test(rel.split('/').pop() ?? ''));
    })
    .map((f) => ({ f, m: statSync(f).mtimeMs }))
    .sort((a, b) => a.m - b.m);
  const parts: string[] = [];
  for (const { f } of files) {
    let text = readFileSync(f, 'utf8').trim();
    // The extension host's own log: keep what concerns this extension, and warnings and errors.
    if (/exthost\.log$/i.test(f)) text = text.split('\n').filter((l) => /prpo[-.]studio|prpoStudio|\[(error|warning)\]/i.test(l) && !/github|open-vsx/i.test(l)).join('\n');
    if (text) parts.push(`--- ${f.slice(userDataDir.length + 1)}\n${text}`);
  }
  const all = parts.join('\n');
  return all.length > maxChars ? '…' + all.slice(-maxChars) : all;
}
