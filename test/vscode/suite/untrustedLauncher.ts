/**
 * code-server with Workspace Trust ON, for the untrusted-workspace scenario. The shared launcher
 * (test/vscode/harness/launcher.ts) always passes --disable-workspace-trust; this one does not, and opens the
 * folder in Restricted Mode (no start-up prompt). Built from the harness's own pieces: toolchain, cleanup,
 * quiet settings, browser.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureToolchain } from '../../../scripts/toolchain/provision';
import { onCleanup, removeDir, stopGroup, killGroup } from '../harness/cleanup';
import { QUIET_SETTINGS, defaultExtensionPath, freePort, readManifest } from '../harness/launcher';

export interface UntrustedServer {
  url: string;
  stop(): Promise<void>;
  output(): string;
}

export async function launchUntrusted(workspaceDir: string): Promise<UntrustedServer> {
  const tc = await ensureToolchain();
  const root = mkdtempSync(join('/tmp', 'pu-'));
  const d = { ud: join(root, 'ud'), ext: join(root, 'ext'), home: join(root, 'home'), tmp: join(root, 't') };
  for (const p of Object.values(d)) mkdirSync(p, { recursive: true });
  mkdirSync(join(d.ud, 'User'), { recursive: true });
  writeFileSync(
    join(d.ud, 'User', 'settings.json'),
    JSON.stringify({ ...QUIET_SETTINGS, 'security.workspace.trust.enabled': true, 'security.workspace.trust.startupPrompt': 'never', 'security.workspace.trust.banner': 'always' }),
  );
  writeFileSync(join(d.home, 'code-server.yaml'), 'auth: none\ncert: false\n');
  const ext = defaultExtensionPath();
  const m = readManifest(ext);
  symlinkSync(ext, join(d.ext, `${m.publisher}.${m.name}-${m.version}`), 'dir');
  const port = await freePort();
  const args = [
    tc.codeServerEntry, '--auth', 'none', '--bind-addr', `127.0.0.1:${port}`, '--disable-telemetry', '--disable-update-check',
    '--disable-getting-started-override', '--user-data-dir', d.ud, '--extensions-dir', d.ext, '--config', join(d.home, 'code-server.yaml'), workspaceDir,
  ];
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: d.home, XDG_CONFIG_HOME: join(d.home, '.config'), XDG_DATA_HOME: join(d.home, '.local'), TMPDIR: d.tmp };
  delete env.npm_config_nodedir;
  delete env.NODE_OPTIONS;
  const child = spawn(tc.node, args, { cwd: d.home, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const out: string[] = [];
  const keep = (b: Buffer) => out.push(...b.toString('utf8').split('\n').filter(Boolean).slice(-50));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const pgid = child.pid!;
  const stop = onCleanup(
    `untrusted code-server ${pgid}`,
    async () => {
      await stopGroup(pgid);
      removeDir(root);
    },
    () => {
      killGroup(pgid, 'SIGKILL');
      removeDir(root);
    },
  );
  const origin = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 90_000;
  for (;;) {
    const ok = await fetch(`${origin}/healthz`).then((r) => r.ok, () => false);
    if (ok) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`code-server did not start:\n${out.slice(-20).join('\n')}`);
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  return { url: `${origin}/?folder=${encodeURIComponent(workspaceDir)}`, stop, output: () => out.slice(-40).join('\n') };
}
