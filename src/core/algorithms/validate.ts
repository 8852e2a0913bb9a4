/**
 * Checks of a batch before any estimator runs, with messages that name the rollout and the field:
 *   rollout "r3": logp.blind has 5 entries, logp.image has 6
 */
import type { AlgorithmConfig } from './config';
import type { RolloutInput, Row, ViewRequirements } from './types';

/** Bad input data (as opposed to a bad configuration, ConfigError). */
export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}

export function isRow(x: unknown): x is Row {
  return Array.isArray(x) || (ArrayBuffer.isView(x) && !(x instanceof DataView));
}

function show(v: unknown): string {
  if (v === undefined) return 'missing';
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') return JSON.stringify(v);
  if (v === null) return 'null';
  return Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object' : typeof v;
}

/** The name of rollout `i` in messages: its id when it has a usable one, else its index. */
export function rolloutName(r: unknown, i: number): string {
  const id = (r as { id?: unknown } | null)?.id;
  return typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id)) ? `rollout ${JSON.stringify(String(id))}` : `rollouts[${i}]`;
}

/**
 * A row of finite numbers (non-negative ones for KL scores); returns its length. Without `reference` it is
 * the response's first row and must not be empty; with it, it must have the reference's length.
 */
function checkRow(where: string, field: string, row: unknown, reference?: { field: string; length: number }): number {
  if (!isRow(row)) throw new InputError(`${where}: ${field} must be an array of numbers, got ${show(row)}`);
  if (reference && row.length !== reference.length) {
    throw new InputError(`${where}: ${field} has ${row.length} entries, ${reference.field} has ${reference.length}`);
  }
  if (!reference && row.length === 0) throw new InputError(`${where}: ${field} is empty (a response needs at least one token)`);
  const isKl = field.startsWith('dependency.');
  for (let t = 0; t < row.length; t++) {
    const v = row[t] as unknown;
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      throw new InputError(`${where}: ${field}[${t}] is ${show(v)}, expected a finite number`);
    }
    if (isKl && v < 0) {
      throw new InputError(`${where}: ${field}[${t}] is ${v}, expected a KL ≥ 0`);
    }
  }
  return row.length;
}

/**
 * Checks the perturbed view: one row, or a list of rows (one per mask). `samples` is how many masks the
 * estimator reads: 1 (one row, or a list of one), M ≥ 2 (multimask: a list of at least two), or 0 when
 * the view is not used (either form).
 */
function checkPerturbed(
  where: string,
  field: string,
  value: unknown,
  reference: { field: string; length: number },
  samples: number,
): void {
  const nested = Array.isArray(value) && value.length > 0 && value.every((v) => isRow(v));
  if (samples > 1 && !nested) {
    throw new InputError(`${where}: ${field} must be an array of arrays (one per perturbed mask) for multimask RVD, got ${isRow(value) ? 'one array of numbers' : show(value)}`);
  }
  if (!nested) {
    checkRow(where, field, value, reference);
    return;
  }
  const rows = value as Row[];
  if (samples > 1 && rows.length < 2) throw new InputError(`${where}: ${field} has 1 mask, multimask RVD needs at least 2`);
  if (samples === 1 && rows.length !== 1) throw new InputError(`${where}: ${field} has ${rows.length} masks, this algorithm reads one perturbed view`);
  rows.forEach((row, m) => checkRow(where, `${field}[${m}]`, row, reference));
}

/**
 * Throws InputError for the first problem in the batch: a missing or duplicate id, a group or reward of
 * the wrong type, an empty response, a view the configuration needs but the rollout lacks, rows of
 * different lengths, a non-finite entry. Views that are present but unused are checked too.
 */
export function checkRollouts(config: AlgorithmConfig, rollouts: readonly unknown[], needs: ViewRequirements): void {
  if (!Array.isArray(rollouts)) throw new InputError(`rollouts: expected an array, got ${show(rollouts)}`);
  const seen = new Set<string>();
  const exact = config.kl === 'exact';
  rollouts.forEach((raw, i) => {
    const where = rolloutName(raw, i);
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new InputError(`${where}: expected an object, got ${show(raw)}`);
    const r = raw as Record<string, unknown>;
    if (typeof r.id !== 'string') throw new InputError(`${where}: id must be a string, got ${show(r.id)}`);
    if (seen.has(r.id)) throw new InputError(`${where}: id is used by another rollout of the batch`);
    seen.add(r.id);
    if (typeof r.group !== 'string') throw new InputError(`${where}: group must be a string, got ${show(r.group)}`);
    if (typeof r.reward !== 'number' || !Number.isFinite(r.reward)) {
      throw new InputError(`${where}: reward is ${show(r.reward)}, expected a finite number`);
    }
    const logp = r.logp as Record<string, unknown> | undefined;
    if (logp === null || typeof logp !== 'object' || Array.isArray(logp)) throw new InputError(`${where}: logp must be an object of per-token arrays, got ${show(logp)}`);
    const L = checkRow(where, 'logp.image', logp.image);
    const reference = { field: 'logp.image', length: L };
    for (const key of Object.keys(logp)) {
      if (key !== 'image' && key !== 'blind' && key !== 'perturbed' && key !== 'mild') {
        throw new InputError(`${where}: logp.${key} is not a view (expected image, blind, perturbed, mild)`);
      }
    }
    const dependency = r.dependency as Record<string, unknown> | undefined;
    if (dependency !== undefined && (dependency === null || typeof dependency !== 'object' || Array.isArray(dependency))) {
      throw new InputError(`${where}: dependency must be an object of per-token arrays, got ${show(dependency)}`);
    }
    // The controls' ground-truth flags: checked like a view, whichever estimator runs.
    if (r.labels !== undefined) checkRow(where, 'labels', r.labels, reference);
    for (const view of ['blind', 'perturbed', 'mild'] as const) {
      const needed = needs.views.includes(view);
      for (const [source, rows] of [['logp', logp], ['dependency', dependency]] as const) {
        const value = rows?.[view];
        const field = `${source}.${view}`;
        const required = needed && (source === 'dependency') === exact;
        if (value === undefined) {
          if (required) {
            throw new InputError(
              `${where}: ${field} is missing; ${config.preset}${config.estimator !== config.preset ? ` (estimator ${config.estimator})` : ''} needs the ${view} view${exact && source === 'dependency' ? ' (config.kl is "exact")' : ''}`,
            );
          }
          continue;
        }
        if (view === 'perturbed') checkPerturbed(where, field, value, reference, needed ? needs.perturbedSamples : 0);
        else checkRow(where, field, value, reference);
      }
    }
  });
}

/** The M perturbed rows of a checked rollout field (one row becomes a list of one). */
export function perturbedRows(value: Row | Row[]): Row[] {
  return Array.isArray(value) && value.length > 0 && isRow(value[0]) ? (value as Row[]) : [value as Row];
}
