/**
 * Writes a run directory (schema.ts). Synchronous on purpose: the trainer runs in its own process, and a
 * synchronous append is never interleaved with another. JSONL files are append-only, one record per line,
 * each line written by one call; run.json, images and checkpoints are written under a temporary name and
 * renamed into place, so a reader never sees half of one.
 */
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  appendFileSync,
  writeSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { RUN_SCHEMA, stepName, type CheckpointManifest, type MetricsRow, type RolloutRecord, type RunEvent, type RunManifest } from './schema';
import { isPlainFileName, validateEvent, validateManifest, validateMetricsRow, validateRollout } from './validate';
import { deriveStatus, lastWriter, readEvents, readManifest, runFiles } from './reader';
import { CHECKPOINT_MANIFEST, cleanCheckpointLeftovers, sha256 } from './checkpoint';
import { pidAlive } from './pid';

export type NewRunManifest = Omit<RunManifest, 'id' | 'schema' | 'created'> & { id?: string };
export type ManifestPatch = Partial<Omit<RunManifest, 'id' | 'schema' | 'created'>>;

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** `<preset>-<yyyymmdd-hhmmss>-<4 random hex>`, the time in UTC. */
export function newRunId(preset: string, now = new Date()): string {
  const date = `${now.getUTCFullYear()}${pad(now.getUTCMonth() + 1)}${pad(now.getUTCDate())}`;
  const time = `${pad(now.getUTCHours())}${pad(now.getUTCMinutes())}${pad(now.getUTCSeconds())}`;
  return `${preset}-${date}-${time}-${randomBytes(2).toString('hex')}`;
}

/** Writes `data` to `file` through a temporary sibling, fsync'd, then renamed over it (atomic on POSIX). */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(3).toString('hex')}`;
  writeDurable(tmp, data);
  renameSync(tmp, file);
}

function writeAll(fd: number, data: string | Uint8Array): void {
  const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  for (let off = 0; off < buf.length; ) off += writeSync(fd, buf, off, buf.length - off);
}

/** Best effort: makes a rename inside `dir` durable (not supported on every platform). */
function fsyncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Windows cannot open a folder for fsync; the rename is still atomic there.
  }
}

/** Whether a file is empty or ends with a newline (false: a torn last line left by a writer that died). */
function endsAtLineStart(file: string): boolean {
  let size: number;
  try {
    size = statSync(file).size;
  } catch {
    return true;
  }
  if (size === 0) return true;
  const fd = openSync(file, 'r');
  try {
    const b = Buffer.alloc(1);
    readSync(fd, b, 0, 1, size - 1);
    return b[0] === 0x0a;
  } finally {
    closeSync(fd);
  }
}

/** The file that says which process writes a run: `{"pid", "host"}` (run-format.md, "One writer at a time"). */
export const WRITER_LOCK = 'writer.lock';

/** Thrown when a run directory is being written by another live process. */
export class RunBusyError extends Error {
  constructor(
    readonly runDir: string,
    readonly pid: number,
    readonly host: string,
  ) {
    super(
      `${runDir} is being written by process ${pid} on ${host === hostname() ? 'this machine' : host}; stop that run first` +
        ` (if that process is gone, delete ${join(runDir, WRITER_LOCK)})`,
    );
    this.name = 'RunBusyError';
  }
}

/**
 * Makes this process the run's one writer: creates writer.lock exclusively, or takes over one whose process
 * is gone (or that is unreadable: torn by a crash). A lock held by a live process (on this host; a pid of
 * another host cannot be checked and counts as live) is refused with RunBusyError, before anything is written.
 */
function takeWriterLock(dir: string, isAlive: (pid: number) => boolean): void {
  const file = join(dir, WRITER_LOCK);
  const me = { pid: process.pid, host: hostname() };
  for (let attempt = 0; ; attempt++) {
    try {
      writeFileSync(file, JSON.stringify(me) + '\n', { flag: 'wx' });
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 3) throw e;
    }
    let holder: { pid?: unknown; host?: unknown } | undefined;
    try {
      holder = JSON.parse(readFileSync(file, 'utf8'));
    } catch {
      holder = undefined; // torn or vanished: nobody holds it
    }
    const pid = holder?.pid;
    const host = typeof holder?.host === 'string' ? holder.host : me.host;
    if (typeof pid === 'number' && Number.isInteger(pid) && pid > 0) {
      if (pid === me.pid && host === me.host) return;
      if (host !== me.host || isAlive(pid)) throw new RunBusyError(dir, pid, host);
    }
    rmSync(file, { force: true }); // stale: its writer died
  }
}

/** JSON with NaN/±Infinity written as null (what JSON.stringify does) — the reader turns null back to NaN. */
const line = (v: unknown) => JSON.stringify(v) + '\n';

export class RunWriter {
  /** Files checked for a torn last line since this writer opened them. */
  private readonly lineStart = new Set<string>();

  private constructor(
    /** Absolute path of the run directory. */
    readonly dir: string,
    private manifestValue: RunManifest,
  ) {}

  get manifest(): RunManifest {
    return this.manifestValue;
  }

  /**
   * Creates `<runsRoot>/<id>/` with run.json and the empty folders. The id is `<preset>-<time>-<hex>` unless
   * given; a generated id that exists already is drawn again, a given one that exists is an error.
   */
  static create(runsRoot: string, manifest: NewRunManifest): RunWriter {
    const root = resolve(runsRoot);
    const created = new Date();
    const { id: given, ...rest } = manifest;
    const draw = () => given ?? newRunId(manifest.algorithm, created);
    // Validate before creating anything, so a bad manifest leaves no empty folder behind.
    let full = validateManifest({ schema: RUN_SCHEMA, id: draw(), created: created.toISOString(), ...rest }, join(root, 'run.json'));
    mkdirSync(root, { recursive: true });
    for (let attempt = 1; ; attempt++) {
      try {
        mkdirSync(join(root, full.id)); // not recursive: fails if it exists, so two writers never share a folder
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        if (given !== undefined) throw new Error(`A run named ${given} already exists in ${root}; choose another id or open it to resume.`);
        if (attempt >= 20) throw new Error(`Could not find a free run id in ${root} after ${attempt} tries.`);
        full = { ...full, id: draw() };
      }
    }
    const dir = join(root, full.id);
    for (const sub of ['rollouts', 'images', 'checkpoints']) mkdirSync(join(dir, sub), { recursive: true });
    takeWriterLock(dir, pidAlive);
    writeFileAtomic(runFiles.manifest(dir), JSON.stringify(full, null, 2) + '\n');
    return new RunWriter(dir, full);
  }

  /**
   * Opens an existing run directory to append to it (resume). Throws RunFormatError for a bad run.json, and
   * RunBusyError when another live process writes the run (its writer.lock), before touching anything.
   */
  static open(runDir: string, isAlive: (pid: number) => boolean = pidAlive): RunWriter {
    const dir = resolve(runDir);
    const manifest = readManifest(dir);
    takeWriterLock(dir, isAlive);
    for (const sub of ['rollouts', 'images', 'checkpoints']) mkdirSync(join(dir, sub), { recursive: true });
    cleanCheckpointLeftovers(dir);
    return new RunWriter(dir, manifest);
  }

  /**
   * Lets another process write the run: removes writer.lock if it is this process's. appendEvent calls it
   * for 'stopped', 'completed' and 'failed'; a writer that exits need not (a lock whose process is gone is
   * taken over); a long-lived process that wrote into a run it leaves open (a test fixture) must.
   */
  release(): void {
    const file = join(this.dir, WRITER_LOCK);
    try {
      const holder = JSON.parse(readFileSync(file, 'utf8')) as { pid?: unknown; host?: unknown };
      if (holder.pid === process.pid && holder.host === hostname()) rmSync(file, { force: true });
    } catch {
      // no lock, or not readable: nothing of ours to remove
    }
  }

  /** Appends lines to a JSONL file; first repairs a torn last line (from a crashed writer) by ending it. */
  private append(file: string, text: string): void {
    if (!this.lineStart.has(file)) {
      if (!endsAtLineStart(file)) text = '\n' + text;
      this.lineStart.add(file);
    }
    appendFileSync(file, text);
  }

  appendMetrics(row: MetricsRow): void {
    validateMetricsRow(JSON.parse(JSON.stringify(row)), 'appendMetrics');
    this.append(runFiles.metrics(this.dir), line(row));
  }

  /** Appends rollouts to rollouts/step-NNNNNN.jsonl (several calls for one step append to the same file). */
  appendRollouts(step: number, rollouts: RolloutRecord[]): void {
    const parts: string[] = [];
    rollouts.forEach((r, i) => {
      const text = line(r);
      // Validate what a reader will read back (NaN → null → NaN), so a bad record fails here, not later.
      validateRollout(JSON.parse(text), `appendRollouts(step ${step}) rollout ${i}`);
      if (r.step !== step) throw new Error(`appendRollouts(step ${step}): rollout ${i} has step ${r.step}`);
      parts.push(text);
    });
    if (parts.length) this.append(runFiles.rollouts(this.dir, step), parts.join(''));
  }

  /** Appends a lifecycle event, stamped with the time; 'started'/'resumed' also record this pid and host. */
  appendEvent(e: Omit<RunEvent, 'time'>): RunEvent {
    const event: RunEvent = { ...e, time: new Date().toISOString() };
    if ((e.type === 'started' || e.type === 'resumed') && e.pid === undefined) {
      event.pid = process.pid;
      event.host = hostname();
    }
    validateEvent({ ...event }, 'appendEvent');
    this.append(runFiles.events(this.dir), line(event));
    // A run that stopped, completed or failed has no live writer: another process may resume it.
    if (e.type === 'stopped' || e.type === 'completed' || e.type === 'failed') this.release();
    return event;
  }

  /** Writes images/<name> (a PNG, see png.ts) and returns its path relative to the run directory. */
  writeImage(name: string, png: Uint8Array): string {
    if (!isPlainFileName(name)) throw new Error(`writeImage: ${JSON.stringify(name)} is not a plain file name`);
    writeFileAtomic(join(runFiles.images(this.dir), name), png);
    return `images/${name}`;
  }

  /** Changes run.json (not id, schema or created), written to a temporary file and renamed. */
  updateManifest(patch: ManifestPatch): RunManifest {
    const { id: _id, schema: _schema, created: _created, ...rest } = patch as Partial<RunManifest>;
    const next = validateManifest({ ...this.manifestValue, ...rest }, runFiles.manifest(this.dir));
    writeFileAtomic(runFiles.manifest(this.dir), JSON.stringify(next, null, 2) + '\n');
    this.manifestValue = next;
    return next;
  }

  /**
   * Writes checkpoints/step-NNNNNN/ with `files` and a manifest.json of their sizes and sha256. Built in
   * checkpoints/.tmp-…, every file fsync'd, then renamed into place; a crash before the rename leaves a
   * .tmp-* folder that readers ignore and the previous checkpoints intact. An existing folder for the same
   * step is first moved aside (.old-…), then removed once the new one is in place. Leftovers of a writer
   * that died mid-save are tidied first (cleanCheckpointLeftovers). Returns the folder's path.
   */
  writeCheckpoint(step: number, files: Record<string, Uint8Array>): string {
    const root = runFiles.checkpoints(this.dir);
    mkdirSync(root, { recursive: true });
    cleanCheckpointLeftovers(this.dir);
    const tag = `${stepName(step)}-${process.pid}-${randomBytes(3).toString('hex')}`;
    const tmp = join(root, `.tmp-${tag}`);
    const final = join(root, stepName(step));
    mkdirSync(tmp);
    try {
      const manifest: CheckpointManifest = { step, time: new Date().toISOString(), files: {} };
      for (const [name, data] of Object.entries(files)) {
        if (!isPlainFileName(name) || name === CHECKPOINT_MANIFEST) {
          throw new Error(`writeCheckpoint: ${JSON.stringify(name)} must be a plain file name other than ${CHECKPOINT_MANIFEST}`);
        }
        writeDurable(join(tmp, name), data);
        manifest.files[name] = { bytes: data.byteLength, sha256: sha256(data) };
      }
      // The manifest last: a folder with a valid manifest has all of its files.
      writeDurable(join(tmp, CHECKPOINT_MANIFEST), Buffer.from(JSON.stringify(manifest, null, 2) + '\n'));
      fsyncDir(tmp);
    } catch (e) {
      rmSync(tmp, { recursive: true, force: true });
      throw e;
    }
    let old: string | undefined;
    if (existsSync(final)) {
      old = join(root, `.old-${tag}`);
      renameSync(final, old);
    }
    renameSync(tmp, final);
    fsyncDir(root);
    if (old) rmSync(old, { recursive: true, force: true });
    return final;
  }
}

function writeDurable(file: string, data: string | Uint8Array): void {
  const fd = openSync(file, 'w');
  try {
    writeAll(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * For a run whose writer died ('interrupted': started/resumed by a pid that is gone, no final event),
 * appends the 'failed' event the writer could not, so every reader then agrees. Returns that event, or
 * undefined when the run was not interrupted.
 */
export async function markInterruptedAsFailed(runDir: string, isAlive?: (pid: number) => boolean): Promise<RunEvent | undefined> {
  const events = await readEvents(runDir);
  if (deriveStatus(events, isAlive) !== 'interrupted') return undefined;
  return appendFailure(runDir, `the trainer process (pid ${lastWriter(events)?.pid ?? '?'}) died without stopping the run; resume from the latest checkpoint`, 0, events);
}

/**
 * Appends the 'failed' event a writer that died could not write itself (at the run's latest step, or `step`
 * when later), unless the last event already says 'failed'. Returns the event appended, if any.
 */
export async function appendFailure(runDir: string, reason: string, step = 0, events?: RunEvent[]): Promise<RunEvent | undefined> {
  events ??= await readEvents(runDir);
  if (events.at(-1)?.type === 'failed') return undefined;
  const latest = events.reduce((m, e) => Math.max(m, e.step), 0);
  const writer = RunWriter.open(runDir);
  try {
    return writer.appendEvent({ type: 'failed', step: Math.max(step, latest), reason });
  } finally {
    writer.release();
  }
}
