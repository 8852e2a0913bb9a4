/**
 * prpo-studio advantages — reshape the advantages of a batch of rollouts (ALGORITHMS.md §1–§4).
 *
 *   node dist/cli.js advantages < batch.json                 JSON on stdin
 *   node dist/cli.js advantages --input batch.json           … or from a file
 *   node dist/cli.js advantages --rollouts RUN/rollouts/step-000010.jsonl --algorithm prpo --set tau=0.3
 *                                                            "what if": re-reshape logged rollouts
 *
 * Input  {"algorithm": "prpo", "config": {…}, "rollouts": [{"id", "group", "reward", "logp": {"image": […], …}}]}
 * Output {"algorithm", "config" (resolved), "rollouts": [{"id", "advantage", "tokenAdvantages", "scores"?, "weights"?, "mask"?, "alpha"?}]}
 * Bad input: exit code 2 and one line on stderr that names the rollout and the field.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import {
  CONFIG_KEYS,
  ConfigError,
  InputError,
  advantageJson,
  computeAdvantages,
  resolveConfig,
  type AlgorithmConfig,
  type RolloutInput,
} from '../core/algorithms';
import { RunFormatError, formatIssue, readJsonl, readManifest, validateRollout } from '../core/run';
import { UsageError, parse } from './args';

export interface CliIo {
  /** The whole of stdin, or a stream to read it from. */
  stdin: string | NodeJS.ReadableStream;
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
}

const USAGE = `usage: prpo-studio advantages [--input FILE | --rollouts STEP.jsonl] [--algorithm NAME]
                                [--config JSON] [--set KEY=VALUE]... [--pretty]

Reads {"algorithm", "config", "rollouts"} as JSON on stdin (or --input FILE) and writes the outcome
advantage A_i and the per-token advantages of every rollout as JSON on stdout.
  --rollouts FILE   read logged rollouts (a run's rollouts/step-NNNNNN.jsonl) instead; the algorithm and
                    configuration default to the run's run.json
  --algorithm NAME  grpo, dapo, vppo, pgpo or prpo (overrides the input's)
  --config JSON     configuration overrides, merged over the input's
  --set KEY=VALUE   one override (VALUE is JSON, or else a string), e.g. --set tau=0.3 --set rvd=gate
  --pretty          indent the output
Configuration keys: ${Object.keys(CONFIG_KEYS).join(', ')}
Exit codes: 0 done, 2 bad input (one line on stderr says what and where).
`;

interface Options {
  input?: string;
  rollouts?: string;
  algorithm?: string;
  config: Record<string, unknown>;
  pretty: boolean;
  help: boolean;
}

const OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  pretty: { type: 'boolean' },
  input: { type: 'string' },
  rollouts: { type: 'string' },
  algorithm: { type: 'string' },
  config: { type: 'string', multiple: true },
  set: { type: 'string', multiple: true },
} as const;

function parseOptions(argv: string[]): Options {
  const { values, tokens } = parse(argv, OPTIONS);
  const opts: Options = { input: values.input, rollouts: values.rollouts, algorithm: values.algorithm, config: {}, pretty: !!values.pretty, help: !!values.help };
  // --config and --set merge in command-line order: a later one overrides an earlier one.
  for (const t of tokens) {
    if (t.kind !== 'option' || t.value === undefined) continue;
    if (t.name === 'config') {
      let parsed: unknown;
      try {
        parsed = JSON.parse(t.value);
      } catch (e) {
        throw new UsageError(`--config is not valid JSON (${(e as Error).message})`);
      }
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new UsageError('--config must be a JSON object');
      Object.assign(opts.config, parsed);
    } else if (t.name === 'set') {
      const at = t.value.indexOf('=');
      if (at <= 0) throw new UsageError(`--set expects KEY=VALUE, got ${JSON.stringify(t.value)}`);
      opts.config[t.value.slice(0, at)] = parseValue(t.value.slice(at + 1));
    }
  }
  if (opts.input !== undefined && opts.rollouts !== undefined) throw new UsageError('give --input or --rollouts, not both');
  return opts;
}

/** A --set value: JSON where it parses (0.3, true, {"quantile": 0.8}), else the bare string (gate). */
function parseValue(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

async function readAll(stdin: CliIo['stdin']): Promise<string> {
  if (typeof stdin === 'string') return stdin;
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

function describe(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'string' ? JSON.stringify(v) : typeof v;
}

/** The batch from a JSON document: {"algorithm", "config", "rollouts"}. */
function parseBatch(text: string, source: string): { algorithm: unknown; config: Record<string, unknown>; rollouts: unknown[] } {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${source} is not valid JSON (${(e as Error).message})`);
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new UsageError(`${source}: expected a JSON object {"algorithm", "config", "rollouts"}, got ${describe(doc)}`);
  const d = doc as Record<string, unknown>;
  for (const key of Object.keys(d)) {
    if (key !== 'algorithm' && key !== 'config' && key !== 'rollouts') throw new UsageError(`${key}: unknown key (expected algorithm, config, rollouts)`);
  }
  const config = d.config ?? {};
  if (config === null || typeof config !== 'object' || Array.isArray(config)) throw new UsageError(`config: expected an object, got ${describe(config)}`);
  if (!Array.isArray(d.rollouts)) throw new UsageError(`rollouts: expected an array of rollouts, got ${d.rollouts === undefined ? 'nothing' : describe(d.rollouts)}`);
  return { algorithm: d.algorithm, config: config as Record<string, unknown>, rollouts: d.rollouts };
}

/** Logged rollouts (RolloutRecord lines) and, where the run has a run.json, its algorithm and configuration. */
async function readLoggedBatch(file: string): Promise<{ algorithm: unknown; config: Record<string, unknown>; rollouts: unknown[]; logged: Map<string, unknown> }> {
  const rollouts: unknown[] = [];
  const logged = new Map<string, unknown>();
  let problem: string | undefined;
  if (!existsSync(file)) throw new UsageError(`--rollouts ${file}: no such file`);
  // Read as every viewer reads a rollouts file (validated; a torn last line is skipped): the first bad line stops the CLI.
  for await (const r of readJsonl(file, validateRollout, (issue) => (problem ??= formatIssue(issue)))) {
    rollouts.push({ id: r.id, group: r.group, reward: r.reward, logp: r.logp });
    if (typeof r.id === 'string') logged.set(r.id, { advantage: r.advantage, tokenAdvantages: r.tokenAdvantages });
  }
  if (problem) throw new UsageError(problem);
  let algorithm: unknown;
  const config: Record<string, unknown> = {};
  const runDir = dirname(dirname(file));
  if (!existsSync(join(runDir, 'run.json'))) return { algorithm, config, rollouts, logged };
  const manifest = readManifest(runDir);
  algorithm = manifest.algorithm;
  // run.json holds the trainer's settings too: keep the algorithm's keys.
  for (const [k, v] of Object.entries(manifest.config ?? {})) if (Object.hasOwn(CONFIG_KEYS, k)) config[k] = v;
  return { algorithm, config, rollouts, logged };
}

function run(config: AlgorithmConfig, rollouts: unknown[], logged?: Map<string, unknown>) {
  const results = computeAdvantages(config, rollouts as RolloutInput[]).map(advantageJson);
  return {
    algorithm: config.preset,
    config,
    rollouts: logged ? results.map((r) => (logged.has(r.id) ? { ...r, logged: logged.get(r.id) } : r)) : results,
  };
}

export async function main(argv: string[], io: CliIo = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  try {
    const opts = parseOptions(argv);
    if (opts.help) {
      io.stdout.write(USAGE);
      return 0;
    }
    let batch: { algorithm: unknown; config: Record<string, unknown>; rollouts: unknown[]; logged?: Map<string, unknown> };
    if (opts.rollouts !== undefined) {
      batch = await readLoggedBatch(opts.rollouts);
      if (opts.algorithm !== undefined && batch.algorithm !== opts.algorithm) delete batch.config.estimator;
    } else if (opts.input !== undefined) {
      let text: string;
      try {
        text = readFileSync(opts.input, 'utf8');
      } catch (e) {
        throw new UsageError(`--input ${opts.input}: cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
      }
      batch = parseBatch(text, opts.input);
    } else {
      if (typeof io.stdin !== 'string' && (io.stdin as { isTTY?: boolean }).isTTY) throw new UsageError('no input: pipe a batch on stdin or pass --input FILE (see --help)');
      batch = parseBatch(await readAll(io.stdin), 'stdin');
    }
    const algorithm = opts.algorithm ?? batch.algorithm;
    if (algorithm === undefined) throw new UsageError('algorithm: missing (one of grpo, dapo, vppo, pgpo, prpo)');
    const config = resolveConfig(algorithm as string, { ...batch.config, ...opts.config });
    const out = run(config, batch.rollouts, batch.logged);
    io.stdout.write(JSON.stringify(out, null, opts.pretty ? 2 : undefined) + '\n');
    return 0;
  } catch (e) {
    if (e instanceof UsageError || e instanceof ConfigError || e instanceof InputError || e instanceof RunFormatError) {
      io.stderr.write(`prpo-studio advantages: ${(e as Error).message.replace(/\s*\n\s*/g, ' ')}\n`);
      return 2;
    }
    throw e;
  }
}
