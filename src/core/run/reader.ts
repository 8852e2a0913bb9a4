/**
 * Streaming reader of run directories. Append-only JSONL is read line by line from a stream, so a 100 MB
 * rollouts file never sits in memory whole. A line is read by the rules of lines.ts (a torn last line is
 * skipped silently; any other bad line is reported as `file:line: reason` and skipped).
 */
import { createReadStream, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, join } from 'node:path';
import {
  stepName,
  type LineIssue,
  type MetricsRow,
  type RolloutRecord,
  type RunDisplayStatus,
  type RunEvent,
  type RunInfo,
  type RunManifest,
  type RunStatus,
} from './schema';
import { RunFormatError, validateEvent, validateManifest, validateMetricsRow, validateRollout } from './validate';
import { cleanLine, isTorn, lineIssue, parseLine } from './lines';
import { listCheckpoints } from './checkpoint';
import { pidAlive } from './pid';

/** The run-directory paths, in one place. */
export const runFiles = {
  manifest: (dir: string) => join(dir, 'run.json'),
  metrics: (dir: string) => join(dir, 'metrics.jsonl'),
  events: (dir: string) => join(dir, 'events.jsonl'),
  rolloutsDir: (dir: string) => join(dir, 'rollouts'),
  rollouts: (dir: string, step: number) => join(dir, 'rollouts', `${stepName(step)}.jsonl`),
  images: (dir: string) => join(dir, 'images'),
  checkpoints: (dir: string) => join(dir, 'checkpoints'),
};

const NEWLINE = 0x0a;

/**
 * The lines of a file as it is streamed from byte `start`, each with its 1-based number (counting from
 * `firstLine`), whether a newline ended it, and the byte offset just after it.
 */
async function* lines(
  file: string,
  start = 0,
  firstLine = 1,
): AsyncGenerator<{ text: string; line: number; terminated: boolean; end: number }> {
  const stream = createReadStream(file, { highWaterMark: 1 << 16, start });
  let pending: Buffer[] = [];
  let line = firstLine - 1;
  let offset = start; // file offset of chunk[0]
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      let from = 0;
      for (let nl = chunk.indexOf(NEWLINE); nl !== -1; nl = chunk.indexOf(NEWLINE, from)) {
        const piece = chunk.subarray(from, nl);
        const buf = pending.length ? Buffer.concat([...pending, piece]) : piece;
        pending = [];
        from = nl + 1;
        line++;
        // A multi-byte UTF-8 character never contains the byte 0x0a, so splitting bytes on it is safe.
        yield { text: cleanLine(buf.toString('utf8'), line), line, terminated: true, end: offset + from };
      }
      if (from < chunk.length) pending.push(chunk.subarray(from));
      offset += chunk.length;
    }
    if (pending.length) {
      line++;
      yield { text: cleanLine(Buffer.concat(pending).toString('utf8'), line), line, terminated: false, end: offset };
    }
  } finally {
    stream.destroy();
  }
}

/**
 * Streams the records of a JSONL file, validated. Bad lines go to `onIssue` (never thrown); a torn last
 * line is skipped silently. A missing file yields nothing (a run that has not written it yet).
 */
export async function* readJsonl<T>(
  file: string,
  validate: (v: unknown, where: string) => T,
  onIssue: (i: LineIssue) => void = () => {},
): AsyncGenerator<T> {
  if (!existsSync(file)) return;
  for await (const l of lines(file)) {
    if (l.text.trim() === '') continue;
    if (!l.terminated && isTorn(l.text)) return;
    const r = parseLine(l.text, file, l.line, validate);
    if (r.issue) onIssue(r.issue);
    else yield r.record;
  }
}

/** Where a JsonlFollower has read up to: the byte after the last complete line, and that line's number. */
export interface JsonlPosition {
  offset: number;
  line: number;
  /** The file's inode when read: a different one means the file was replaced (written anew and renamed). */
  ino?: number;
}

/**
 * Reads the complete lines of a growing JSONL file that were appended since `from` (a live run). An
 * unterminated last line is left for the next call, so a line is never read half. If the file shrank or
 * was replaced (another inode), reading starts again from the beginning and `restarted` is true.
 */
export async function readJsonlFrom<T>(
  file: string,
  validate: (v: unknown, where: string) => T,
  from: JsonlPosition = { offset: 0, line: 0 },
  onIssue: (i: LineIssue) => void = () => {},
): Promise<{ records: T[]; next: JsonlPosition; restarted: boolean }> {
  let size: number;
  let ino: number;
  try {
    ({ size, ino } = statSync(file));
  } catch {
    return { records: [], next: from, restarted: false };
  }
  const restarted = size < from.offset || (from.ino !== undefined && from.ino !== ino);
  let next: JsonlPosition = restarted ? { offset: 0, line: 0, ino } : { ...from, ino };
  const records: T[] = [];
  if (size === next.offset) return { records, next, restarted };
  for await (const l of lines(file, next.offset, next.line + 1)) {
    if (!l.terminated) break;
    next = { offset: l.end, line: l.line, ino };
    if (l.text.trim() === '') continue;
    const r = parseLine(l.text, file, l.line, validate);
    if (r.issue) onIssue(r.issue);
    else records.push(r.record);
  }
  return { records, next, restarted };
}

/** Follows one JSONL file of a live run: each poll() returns the records appended since the last one. */
export class JsonlFollower<T> {
  private position: JsonlPosition = { offset: 0, line: 0 };

  /** Where the next poll starts (to persist and resume following). */
  get at(): JsonlPosition {
    return { ...this.position };
  }

  constructor(
    readonly file: string,
    private readonly validate: (v: unknown, where: string) => T,
    private readonly onIssue?: (i: LineIssue) => void,
  ) {}

  /** New records; `restarted` means the file was replaced and these records start from its beginning. */
  async poll(): Promise<{ records: T[]; restarted: boolean }> {
    const { records, next, restarted } = await readJsonlFrom(this.file, this.validate, this.position, this.onIssue);
    this.position = next;
    return { records, restarted };
  }
}

async function collect<T>(gen: AsyncGenerator<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of gen) out.push(x);
  return out;
}

/** The run's metrics as they stand: the rows of an abandoned continuation are dropped (see currentHistory). */
export async function readMetrics(dir: string, onIssue?: (i: LineIssue) => void): Promise<MetricsRow[]> {
  return currentHistory(await collect(readJsonl(runFiles.metrics(dir), validateMetricsRow, onIssue)));
}

/**
 * metrics.jsonl is append-only, so a run resumed from an earlier checkpoint leaves the rows of its abandoned
 * continuation in the file. The run's history as it stands: read in file order, a row whose step is not past
 * the previous one rewinds — rows at or after its step are dropped before it is kept.
 */
export function currentHistory(rows: MetricsRow[]): MetricsRow[] {
  const out: MetricsRow[] = [];
  for (const row of rows) {
    while (out.length && out[out.length - 1].step >= row.step) out.pop();
    out.push(row);
  }
  return out;
}

export async function readEvents(dir: string, onIssue?: (i: LineIssue) => void): Promise<RunEvent[]> {
  return collect(readJsonl(runFiles.events(dir), validateEvent, onIssue));
}

export async function readRolloutStep(dir: string, step: number, onIssue?: (i: LineIssue) => void): Promise<RolloutRecord[]> {
  return collect(streamRolloutStep(dir, step, onIssue));
}

/** One step's rollouts as they are read (a view shows the first ones before the file is read to its end). */
export function streamRolloutStep(dir: string, step: number, onIssue?: (i: LineIssue) => void): AsyncGenerator<RolloutRecord> {
  return readJsonl(runFiles.rollouts(dir, step), validateRollout, onIssue);
}

/**
 * The steps of the per-step files in `dir` (ascending): file names that `pattern` matches, its first group the
 * step. A missing folder has none. (Our step-NNNNNN.jsonl, verl's <step>.jsonl, TRL's completions_<step>.parquet.)
 */
export function listSteps(dir: string, pattern: RegExp): number[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .map((n) => pattern.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
}

/** Steps that have a rollouts file, ascending. */
export function listRolloutSteps(dir: string): number[] {
  return listSteps(runFiles.rolloutsDir(dir), /^step-(\d+)\.jsonl$/);
}

/**
 * Reads and validates run.json; throws RunFormatError whose `where` is `file:line` (the line of the bad
 * field, or of the JSON error where Node says; 0 for the file as a whole).
 */
export function readManifest(dir: string): RunManifest {
  const file = runFiles.manifest(dir);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new RunFormatError(file, (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'is missing' : `cannot be read (${(e as Error).message})`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    const msg = (e as Error).message;
    // Node ≥ 21 names the line ("line 4 column 1") or position; Node 20 neither: then the file as a whole.
    const at = /line (\d+)/.exec(msg);
    const pos = /position (\d+)/.exec(msg);
    const line = at ? Number(at[1]) : pos ? text.slice(0, Number(pos[1])).split('\n').length : 0;
    throw new RunFormatError(`${file}:${line}`, `not valid JSON (${msg})`);
  }
  try {
    return validateManifest(value, file);
  } catch (e) {
    if (!(e instanceof RunFormatError)) throw e;
    // Point at the line of the offending field (run.json is pretty-printed), so `file:line` leads there.
    const key = /^([A-Za-z_$][\w$]*)/.exec(e.reason)?.[1];
    const at = key ? text.split('\n').findIndex((l) => l.includes(`"${key}"`)) : -1;
    throw new RunFormatError(`${file}:${at + 1}`, e.reason);
  }
}

const STATUS_OF: Record<Exclude<RunEvent['type'], 'checkpoint'>, RunStatus> = {
  started: 'running',
  resumed: 'running',
  paused: 'paused',
  stopped: 'stopped',
  completed: 'completed',
  failed: 'failed',
};

/**
 * The run's status from its events: the last lifecycle event wins ('checkpoint' events do not change it).
 * A run that is 'running' or 'paused' whose writer (the pid of the last started/resumed event) is dead is
 * 'interrupted'. A pid recorded on another host cannot be checked and counts as alive. No events: 'stopped'.
 */
export function deriveStatus(events: RunEvent[], isAlive: (pid: number) => boolean = pidAlive): RunDisplayStatus {
  let status: RunStatus = 'stopped';
  for (const e of events) if (e.type !== 'checkpoint') status = STATUS_OF[e.type] ?? status;
  const writer = lastWriter(events);
  if ((status === 'running' || status === 'paused') && writer?.pid !== undefined) {
    const sameHost = writer.host === undefined || writer.host === hostname();
    if (sameHost && !isAlive(writer.pid)) return 'interrupted';
  }
  return status;
}

/** The event of the process that last wrote the run: the last 'started' or 'resumed' (its pid and host). */
export function lastWriter(events: readonly RunEvent[]): RunEvent | undefined {
  for (let i = events.length - 1; i >= 0; i--) if (events[i].type === 'started' || events[i].type === 'resumed') return events[i];
  return undefined;
}

/** Everything about one run directory. Never throws for bad content: problems land in `issues`. */
export async function readRun(dir: string, isAlive?: (pid: number) => boolean): Promise<RunInfo> {
  const issues: LineIssue[] = [];
  const onIssue = (i: LineIssue) => issues.push(i);
  let manifest: RunManifest | undefined;
  try {
    manifest = readManifest(dir);
  } catch (e) {
    if (!(e instanceof RunFormatError)) throw e;
    const m = /^(.*):(\d+)$/.exec(e.where);
    onIssue(lineIssue(m ? m[1] : e.where, m ? Number(m[2]) : 0, e.reason));
  }
  const events = await readEvents(dir, onIssue);
  const folder = basename(dir);
  return {
    dir,
    id: manifest?.id ?? folder,
    name: manifest?.name ?? folder,
    manifest,
    status: deriveStatus(events, isAlive),
    events,
    checkpoints: listCheckpoints(dir),
    rolloutSteps: listRolloutSteps(dir),
    issues,
  };
}

/**
 * Every run directory directly inside `root` (a subfolder with a run.json), newest first. A broken run.json
 * gives an entry with an issue; a missing root gives [].
 */
export async function listRuns(root: string, isAlive?: (pid: number) => boolean): Promise<RunInfo[]> {
  if (!existsSync(root)) return [];
  const runs: RunInfo[] = [];
  for (const e of readdirSync(root, { withFileTypes: true })) {
    if (!e.isDirectory() || e.name.startsWith('.')) continue;
    const dir = join(root, e.name);
    if (!existsSync(runFiles.manifest(dir))) continue;
    runs.push(await readRun(dir, isAlive));
  }
  const created = (r: RunInfo) => r.manifest?.created ?? safeMtime(r.dir);
  return runs.sort((a, b) => (created(a) < created(b) ? 1 : created(a) > created(b) ? -1 : a.dir.localeCompare(b.dir)));
}

function safeMtime(dir: string): string {
  try {
    return statSync(dir).mtime.toISOString();
  } catch {
    return '';
  }
}
