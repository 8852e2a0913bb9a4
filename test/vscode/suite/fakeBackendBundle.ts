/**
 * Bundles test/vscode/suite/fakeBackend.ts (a protocol-compatible stand-in for `prpo-studio serve`) into one
 * CommonJS file, and points the extension at it: PRPO_STUDIO_BACKEND_CLI is inherited by code-server and the
 * extension host it forks. Knobs go the same way (FAKE_STEP_MS, FAKE_CRASH_AT_STEP, FAKE_NO_GPU…).
 */
import { buildSync } from 'esbuild';
import { join, resolve } from 'node:path';

const repo = resolve(__dirname, '..', '..', '..');

export function useFakeBackend(knobs: Record<string, string> = {}): string {
  const outfile = join(repo, '.test-output', 'fake-backend', 'fake-backend.js');
  buildSync({
    entryPoints: [join(repo, 'test', 'vscode', 'suite', 'fakeBackend.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    logLevel: 'warning',
  });
  process.env.PRPO_STUDIO_BACKEND_CLI = outfile;
  Object.assign(process.env, knobs);
  return outfile;
}
