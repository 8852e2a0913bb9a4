/**
 * Validation of the run-directory records (schema.ts). Each validator takes a parsed JSON value and `where`
 * (usually `file:line`), and returns the typed value or throws a RunFormatError that names where and the
 * field: `rollouts/step-000003.jsonl:17: tokenAdvantages has 5 entries, tokens has 6`.
 *
 * Tolerance, on purpose:
 * - unknown fields are kept (a newer trainer may add fields; an older viewer still shows the rest);
 * - JSON has no NaN or ±Infinity (JSON.stringify writes them as null), so `null` inside a per-token number
 *   array and as a metrics value reads back as NaN — a diverging loss must still be charted;
 * - everything else of the wrong type is an error naming the field.
 * The validators return the same object (arrays converted in place): no copy of a 100 MB step.
 */
import {
  RUN_SCHEMA,
  type MetricsRow,
  type RolloutRecord,
  type RunEvent,
  type RunEventType,
  type RunManifest,
  type RunSource,
  type CheckpointManifest,
} from './schema';
import { TOKEN_FIELD_DEFS, type TokenFieldDef } from './tokenFields';
import { ALGORITHM_NAMES } from '../algorithms/config';

const FIELD_DEFS: readonly TokenFieldDef[] = TOKEN_FIELD_DEFS;

export class RunFormatError extends Error {
  constructor(
    /** Where the bad value is: `file:line`, or a file path. */
    readonly where: string,
    /** What is wrong, naming the field. */
    readonly reason: string,
  ) {
    super(`${where}: ${reason}`);
    this.name = 'RunFormatError';
  }
}

export const RUN_SOURCES: readonly RunSource[] = ['prpo-studio', 'verl', 'easyr1', 'trl'];
export const EVENT_TYPES: readonly RunEventType[] = ['started', 'paused', 'resumed', 'checkpoint', 'stopped', 'completed', 'failed'];

type Obj = Record<string, unknown>;

/** A short, safe rendering of a bad value for an error message. */
function show(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return `string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`;
  return `${typeof v} ${String(v)}`;
}

/** Field checks bound to one record; each throws a RunFormatError naming the field. */
class Fields {
  constructor(
    readonly o: Obj,
    readonly where: string,
    readonly prefix = '',
  ) {}

  fail(field: string, reason: string): never {
    throw new RunFormatError(this.where, `${this.prefix}${field} ${reason}`);
  }

  private present(k: string, optional: boolean): boolean {
    if (this.o[k] === undefined) {
      if (optional) return false;
      this.fail(k, 'is missing');
    }
    return true;
  }

  str(k: string, optional = false): void {
    if (this.present(k, optional) && typeof this.o[k] !== 'string') this.fail(k, `must be a string, got ${show(this.o[k])}`);
  }

  num(k: string, optional = false): void {
    if (this.present(k, optional) && typeof this.o[k] !== 'number') this.fail(k, `must be a number, got ${show(this.o[k])}`);
  }

  int(k: string, optional = false, min = 0): void {
    if (!this.present(k, optional)) return;
    const v = this.o[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
      this.fail(k, `must be an integer${min > Number.MIN_SAFE_INTEGER ? ` ≥ ${min}` : ''}, got ${show(v)}`);
    }
  }

  bool(k: string, optional = false): void {
    if (this.present(k, optional) && typeof this.o[k] !== 'boolean') this.fail(k, `must be true or false, got ${show(this.o[k])}`);
  }

  oneOf<T extends string>(k: string, allowed: readonly T[]): void {
    this.present(k, false);
    if (!allowed.includes(this.o[k] as T)) this.fail(k, `must be one of ${allowed.join(', ')}, got ${show(this.o[k])}`);
  }

  obj(k: string, optional = false): Obj | undefined {
    if (!this.present(k, optional)) return undefined;
    const v = this.o[k];
    if (v === null || typeof v !== 'object' || Array.isArray(v)) this.fail(k, `must be an object, got ${show(v)}`);
    return v as Obj;
  }

  sub(k: string, optional = false): Fields | undefined {
    const v = this.obj(k, optional);
    return v && new Fields(v, this.where, `${this.prefix}${k}.`);
  }

  /** A per-token number array of `length` entries; null entries become NaN (JSON's NaN/Infinity). */
  numbers(k: string, length: number | undefined, optional: boolean, label = 'tokens'): void {
    if (!this.present(k, optional)) return;
    const v = this.o[k];
    if (!Array.isArray(v)) this.fail(k, `must be an array of numbers, got ${show(v)}`);
    for (let i = 0; i < v.length; i++) {
      const x = v[i];
      if (typeof x === 'number') continue;
      if (x === null) v[i] = NaN;
      else this.fail(`${k}[${i}]`, `must be a number, got ${show(x)}`);
    }
    if (length !== undefined && v.length !== length) this.fail(k, `has ${v.length} entries, ${label} has ${length}`);
  }

  strings(k: string, optional = false): void {
    if (!this.present(k, optional)) return;
    const v = this.o[k];
    if (!Array.isArray(v)) this.fail(k, `must be an array of strings, got ${show(v)}`);
    for (let i = 0; i < v.length; i++) if (typeof v[i] !== 'string') this.fail(`${k}[${i}]`, `must be a string, got ${show(v[i])}`);
  }
}

/**
 * How deep a record may nest. Unknown fields are kept, and JSON.parse takes any depth, but a record with a
 * 20,000-deep field throws RangeError wherever it is later serialised — posting it to a webview,
 * JSON.stringify, structuredClone give out at a few thousand levels. Real records nest a few levels.
 */
export const MAX_RECORD_DEPTH = 256;

/** Whether `value` nests arrays/objects more than `max` levels deep (counted without recursion). */
export function nestedDeeperThan(value: unknown, max: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    if (depth > max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v as Obj)) if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
  }
  return false;
}

function record(v: unknown, where: string, what: string): Obj {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new RunFormatError(where, `expected ${what} (a JSON object), got ${show(v)}`);
  const o = v as Obj;
  if (nestedDeeperThan(o, MAX_RECORD_DEPTH)) {
    const field = Object.keys(o).find((k) => o[k] !== null && typeof o[k] === 'object' && nestedDeeperThan(o[k], MAX_RECORD_DEPTH - 1));
    throw new RunFormatError(where, `${field} is nested too deeply (more than ${MAX_RECORD_DEPTH} levels)`);
  }
  return o;
}

function isoTime(f: Fields, k: string, optional = false): void {
  f.str(k, optional);
  const v = f.o[k];
  if (typeof v === 'string' && Number.isNaN(Date.parse(v))) f.fail(k, `must be an ISO-8601 time, got ${show(v)}`);
}

export function validateManifest(v: unknown, where: string): RunManifest {
  const o = record(v, where, 'a run manifest');
  const f: Fields = new Fields(o, where);
  if (o.schema !== RUN_SCHEMA) {
    if (typeof o.schema === 'string' && o.schema.startsWith('prpo-studio/run@')) {
      f.fail('schema', `is ${o.schema}; this version of PRPO Studio reads ${RUN_SCHEMA} — update the extension`);
    }
    f.fail('schema', `must be "${RUN_SCHEMA}", got ${show(o.schema)}`);
  }
  f.str('id');
  if (!isPlainFileName(o.id as string) || (o.id as string).startsWith('.')) f.fail('id', `must be a folder name (no separators, not starting with "."), got ${show(o.id)}`);
  f.str('name');
  isoTime(f, 'created');
  f.oneOf('source', RUN_SOURCES);
  f.oneOf('algorithm', ALGORITHM_NAMES);
  f.obj('config');
  for (const k of ['model', 'task'] as const) {
    const s = f.sub(k)!;
    s.str('name');
    s.obj('config');
  }
  f.int('seed', false, Number.MIN_SAFE_INTEGER);
  f.int('steps', true);
  return o as unknown as RunManifest;
}

export function validateMetricsRow(v: unknown, where: string): MetricsRow {
  const o = record(v, where, 'a metrics row');
  const f: Fields = new Fields(o, where);
  f.int('step');
  for (const k of Object.keys(o)) {
    const x = o[k];
    if (x === null) o[k] = NaN;
    else if (typeof x !== 'number') f.fail(k, `must be a number, got ${show(x)}`);
  }
  return o as unknown as MetricsRow;
}

export function validateRollout(v: unknown, where: string): RolloutRecord {
  const o = record(v, where, 'a rollout');
  const f: Fields = new Fields(o, where);
  f.str('id');
  f.int('step');
  f.str('group');
  f.str('prompt');
  f.str('image', true);
  f.str('answer', true);
  f.str('response');
  f.num('reward');
  f.bool('correct', true);
  f.num('advantage');
  f.num('alpha', true);
  f.strings('tokens');
  const L = (o.tokens as string[]).length;
  f.numbers('tokenIds', L, true);
  const ids = o.tokenIds as number[] | undefined;
  if (ids) for (let i = 0; i < ids.length; i++) if (!Number.isInteger(ids[i])) f.fail(`tokenIds[${i}]`, `must be an integer, got ${show(ids[i])}`);
  // The per-token number arrays, from the catalogue: top-level ones, and ones inside an object (logp, scores)
  // that must be there when one of its arrays is required.
  const groups = new Map<string, Fields | undefined>();
  for (const def of FIELD_DEFS) {
    const [key, sub] = def.path as readonly string[];
    if (sub === undefined) {
      f.numbers(key, L, !def.required);
      continue;
    }
    if (!groups.has(key)) groups.set(key, f.sub(key, !FIELD_DEFS.some((d) => d.path[0] === key && d.required)));
    groups.get(key)?.numbers(sub, L, !def.required);
  }
  // Every perturbed mask's row (PRPO-R multimask), where the trainer recorded several.
  const masks: unknown = (o.logp as Obj | undefined)?.perturbedMasks;
  if (masks !== undefined) {
    const logp = groups.get('logp') ?? f.sub('logp')!;
    if (!Array.isArray(masks)) return logp.fail('perturbedMasks', `must be an array of per-token arrays, got ${show(masks)}`);
    const rows = new Fields(Object.fromEntries(masks.map((m, i) => [String(i), m])), where, 'logp.perturbedMasks.');
    masks.forEach((_, i) => rows.numbers(String(i), L, false));
  }
  if (o.topAlternatives !== undefined) {
    const alts = o.topAlternatives;
    if (!Array.isArray(alts)) f.fail('topAlternatives', `must be an array, got ${show(alts)}`);
    if (alts.length !== L) f.fail('topAlternatives', `has ${alts.length} entries, tokens has ${L}`);
    alts.forEach((pos, t) => {
      if (!Array.isArray(pos)) f.fail(`topAlternatives[${t}]`, `must be an array of [token, logp] pairs, got ${show(pos)}`);
      pos.forEach((pair, j) => {
        if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string' || !(typeof pair[1] === 'number' || pair[1] === null)) {
          f.fail(`topAlternatives[${t}][${j}]`, `must be a [token, logp] pair, got ${show(pair)}`);
        }
        if (pair[1] === null) pair[1] = NaN;
      });
    });
  }
  f.strings('synthetic', true);
  f.obj('extra', true);
  return o as unknown as RolloutRecord;
}

export function validateEvent(v: unknown, where: string): RunEvent {
  const o = record(v, where, 'a run event');
  const f: Fields = new Fields(o, where);
  f.oneOf('type', EVENT_TYPES);
  isoTime(f, 'time');
  f.int('step');
  f.str('reason', true);
  f.str('checkpoint', true);
  f.int('pid', true, 1);
  f.str('host', true);
  return o as unknown as RunEvent;
}

export function validateCheckpointManifest(v: unknown, where: string): CheckpointManifest {
  const o = record(v, where, 'a checkpoint manifest');
  const f: Fields = new Fields(o, where);
  f.int('step');
  isoTime(f, 'time');
  const files = f.obj('files')!;
  for (const name of Object.keys(files)) {
    if (!isPlainFileName(name) || name === 'manifest.json') f.fail(`files.${name}`, 'must be a plain file name other than manifest.json');
    const e = new Fields(files as Obj, where, 'files.').sub(name)!;
    e.int('bytes');
    e.str('sha256');
    if (!/^[0-9a-f]{64}$/.test(e.o.sha256 as string)) e.fail('sha256', `must be 64 hex digits, got ${show(e.o.sha256)}`);
  }
  return o as unknown as CheckpointManifest;
}

/** A file name without folders, safe to join to a directory: no separators, not "." or "..", no NUL. */
export function isPlainFileName(name: string): boolean {
  return name.length > 0 && name !== '.' && name !== '..' && !/[\\/\0]/.test(name);
}
