/**
 * The tests that run the real CLI (dist/cli.js) build it first when it is missing or older than the sources,
 * instead of skipping (a silent skip, or a stale bundle tested in place of the code under review). A failed
 * build fails those tests. Concurrent test files share one build through a lock folder.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '..', '..');
export const CLI_BUNDLE = join(ROOT, 'dist', 'cli.js');

function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

const stale = (): boolean => !existsSync(CLI_BUNDLE) || statSync(CLI_BUNDLE).mtimeMs < Math.max(newest(join(ROOT, 'src')), statSync(join(ROOT, 'esbuild.mjs')).mtimeMs);

/** Builds dist/ when dist/cli.js is missing or stale; throws (failing the caller) when the build fails. Returns true. */
export function ensureCliBuilt(): true {
  if (!stale()) return true;
  const lock = join(ROOT, 'dist', '.build-lock');
  mkdirSync(join(ROOT, 'dist'), { recursive: true });
  const deadline = Date.now() + 180_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`timed out waiting for another test's build (remove ${lock} if no build is running)`);
      spawnSync(process.execPath, ['-e', 'setTimeout(() => {}, 200)']);
    }
  }
  try {
    if (!stale()) return true;
    const r = spawnSync(process.execPath, ['esbuild.mjs'], { cwd: ROOT, encoding: 'utf8', timeout: 170_000 });
    if (r.status !== 0) throw new Error(`node esbuild.mjs failed (exit ${r.status}):\n${r.stderr}${r.stdout}`);
    return true;
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}
