/**
 * Checkpoint folders: checkpoints/step-NNNNNN/ holds the trainer's files (weights and optimizer state as
 * safetensors, trainer.json) and manifest.json, which lists every file with its size and sha256. The writer
 * (writer.ts) builds a folder under a temporary name and renames it into place, so a folder with a valid
 * manifest was completely written; reading still verifies sizes and hashes, so a truncated or corrupt file
 * (a disk full, a bad copy) is refused with a message naming it instead of resuming from garbage.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseStepName, type CheckpointEntry, type CheckpointManifest } from './schema';
import { RunFormatError, validateCheckpointManifest } from './validate';
import { pidAlive } from './pid';

export const CHECKPOINT_MANIFEST = 'manifest.json';

export class CheckpointError extends Error {
  constructor(
    /** Absolute path of the checkpoint folder. */
    readonly checkpoint: string,
    message: string,
  ) {
    super(message);
    this.name = 'CheckpointError';
  }
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function fail(dir: string, what: string): never {
  throw new CheckpointError(dir, `checkpoint ${basename(dir)}: ${what} — pick an earlier checkpoint`);
}

/** Reads and validates manifest.json of a checkpoint folder; throws CheckpointError. */
export function readCheckpointManifest(dir: string): CheckpointManifest {
  const file = join(dir, CHECKPOINT_MANIFEST);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if (!existsSync(dir)) throw new CheckpointError(dir, `checkpoint ${dir} does not exist`);
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') fail(dir, `${CHECKPOINT_MANIFEST} is missing (the checkpoint was not completely written)`);
    fail(dir, `${CHECKPOINT_MANIFEST} cannot be read (${(e as Error).message})`);
  }
  try {
    return validateCheckpointManifest(JSON.parse(text), CHECKPOINT_MANIFEST);
  } catch (e) {
    fail(dir, e instanceof RunFormatError ? e.message : `${CHECKPOINT_MANIFEST} is not valid JSON (${(e as Error).message})`);
  }
}

/** What is wrong with one listed file, judged by its size only (cheap); undefined when it looks right. */
function sizeProblem(dir: string, name: string, bytes: number): string | undefined {
  let size: number;
  try {
    size = statSync(join(dir, name)).size;
  } catch {
    return `${name} is missing`;
  }
  if (size < bytes) return `${name} is truncated (${size} of ${bytes} bytes)`;
  if (size > bytes) return `${name} has ${size} bytes, the manifest says ${bytes}`;
  return undefined;
}

/**
 * Reads a checkpoint folder, verifying that every file of its manifest is present with the right size and
 * sha256. Throws CheckpointError: `checkpoint step-000004: weights.safetensors is truncated (1200 of 4096
 * bytes) — pick an earlier checkpoint`.
 */
export function readCheckpoint(dir: string): { manifest: CheckpointManifest; files: Record<string, Uint8Array> } {
  const manifest = readCheckpointManifest(dir);
  const files: Record<string, Uint8Array> = {};
  for (const [name, { bytes, sha256: expected }] of Object.entries(manifest.files)) {
    const problem = sizeProblem(dir, name, bytes);
    if (problem) fail(dir, problem);
    const data = readFileSync(join(dir, name));
    if (data.length !== bytes) fail(dir, `${name} changed while being read (${data.length} of ${bytes} bytes)`);
    if (sha256(data) !== expected) fail(dir, `${name} is corrupt (its sha256 does not match the manifest)`);
    files[name] = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  }
  return { manifest, files };
}

/**
 * Whether a checkpoint folder looks complete without hashing it: a valid manifest, every file present with
 * its size. readCheckpoint still verifies the hashes.
 */
export function checkpointComplete(dir: string): boolean {
  try {
    const m = readCheckpointManifest(dir);
    return Object.entries(m.files).every(([name, { bytes }]) => sizeProblem(dir, name, bytes) === undefined);
  } catch {
    return false;
  }
}

/** The checkpoint folders of a run (step-NNNNNN only; leftover .tmp-* folders are ignored), by step. */
export function listCheckpoints(runDir: string): CheckpointEntry[] {
  const root = join(runDir, 'checkpoints');
  if (!existsSync(root)) return [];
  const out: CheckpointEntry[] = [];
  for (const e of readdirSync(root, { withFileTypes: true })) {
    const step = e.isDirectory() ? parseStepName(e.name) : undefined;
    if (step === undefined || e.name.endsWith('.jsonl')) continue;
    const path = join(root, e.name);
    out.push({ step, path, complete: checkpointComplete(path) });
  }
  return out.sort((a, b) => a.step - b.step);
}

/** Absolute path of the latest complete checkpoint, or undefined. */
export function latestCheckpoint(runDir: string): string | undefined {
  const done = listCheckpoints(runDir).filter((c) => c.complete);
  return done.length ? done[done.length - 1].path : undefined;
}

/**
 * Tidies what a writer that died mid-save left in checkpoints/: a `.tmp-step-N-<pid>-…` folder (an
 * unfinished checkpoint, possibly gigabytes) is removed; a `.old-step-N-<pid>-…` folder (a checkpoint moved
 * aside to be replaced) is put back as step-N when no step-N exists, else removed. Folders of a writer
 * that is still alive are left alone. Returns what was done, one line each.
 */
export function cleanCheckpointLeftovers(runDir: string, isAlive: (pid: number) => boolean = pidAlive): string[] {
  const root = join(runDir, 'checkpoints');
  if (!existsSync(root)) return [];
  const done: string[] = [];
  for (const name of readdirSync(root)) {
    const m = /^\.(tmp|old)-(step-\d+)-(\d+)-[0-9a-f]+$/.exec(name);
    if (!m) continue;
    const [, kind, step, pid] = m;
    if (Number(pid) !== process.pid && isAlive(Number(pid))) continue;
    const path = join(root, name);
    if (kind === 'old' && !existsSync(join(root, step))) {
      renameSync(path, join(root, step));
      done.push(`restored ${step} from ${name}`);
    } else {
      rmSync(path, { recursive: true, force: true });
      done.push(`removed ${name}`);
    }
  }
  return done;
}
