// What the TypeScript tests that drive the Python package share: the project's interpreter, with this checkout's
// python/src first on the import path (the environment may be shared with another checkout).
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, toolchainPaths } from '../../../scripts/toolchain/provision';

export const PYTHON = process.env.PRPO_TEST_PYTHON ?? toolchainPaths().python;
export const PYTHON_SRC = join(repoRoot, 'python', 'src');

/** Why the Python tests cannot run here (for `skip`), or false. */
export const noPython: string | false = existsSync(PYTHON) ? false : `needs the Python environment (${PYTHON}): npm run toolchain`;

export function pythonEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { ...process.env, PYTHONPATH: PYTHON_SRC, PYTHONDONTWRITEBYTECODE: '1', ...extra };
}

/** Runs `python ARGS` synchronously; throws with its stderr when it fails. */
export function python(args: string[], opts: { timeoutMs?: number; input?: string } = {}): SpawnSyncReturns<string> {
  const r = spawnSync(PYTHON, args, { encoding: 'utf8', env: pythonEnv(), timeout: opts.timeoutMs ?? 300_000, input: opts.input, maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`python ${args.join(' ')} failed (${r.status ?? r.signal}):\n${r.stderr}`);
  return r;
}
