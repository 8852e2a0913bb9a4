/**
 * Starting runs: the quick-pick flow (preset, steps, seed, execution provider, run name), a run config file,
 * and the built-in default (auto-start). Resuming from a checkpoint is `resumeFromCheckpoint` in commands/index.ts.
 */
import { readFile } from 'node:fs/promises';
import * as vscode from 'vscode';
import type { ExecutionProvider, StartParams } from '../../core/protocol/backend';
import type { AlgorithmName } from '../../core/run/schema';
import * as config from '../config';
import { PRESETS, presetLabel } from '../../core/presets';

const EPS: ReadonlyArray<{ ep: ExecutionProvider; detail: string }> = [
  { ep: 'cpu', detail: 'Always available. The tiny model trains on two cores.' },
  { ep: 'cuda', detail: 'NVIDIA GPU through onnxruntime\'s CUDA 12 provider; falls back to CPU with a warning.' },
  { ep: 'webgpu', detail: 'GPU through WebGPU (Vulkan); falls back to CPU with a warning.' },
];

/** The run name used when the user gives none. */
export function defaultRunName(preset: AlgorithmName, seed: number): string {
  return `${presetLabel(preset)} seed ${seed}`;
}

/** The built-in default run (auto-start, "Start PRPO-R Run with Built-in Defaults"). */
export function defaultStartParams(runsDir: string): StartParams {
  const preset = config.defaultPreset();
  return { runsDir, preset, steps: config.defaultSteps(), seed: 0, ep: config.executionProvider(), name: defaultRunName(preset, 0), checkpointEvery: config.checkpointEvery() };
}

function integerValidator(min: number): (v: string) => string | undefined {
  return (v) => (/^\s*\d+\s*$/.test(v) && Number(v) >= min ? undefined : `Enter a whole number ≥ ${min}.`);
}

const FROM_CONFIG = 'from-config' as const;

/**
 * Asks for the run's settings, one quick input after another (Escape anywhere cancels). Returns
 * 'config' when the user chose to start from a config file instead.
 */
export async function askStartParams(runsDir: string): Promise<StartParams | 'config' | undefined> {
  const preferred = config.defaultPreset();
  const presets = [...PRESETS].sort((a, b) => (a.name === preferred ? -1 : b.name === preferred ? 1 : 0));
  const presetPick = await vscode.window.showQuickPick(
    [
      ...presets.map((p) => ({ label: p.label, description: p.name === preferred ? `${p.name} (default)` : p.name, detail: p.detail, preset: p.name as AlgorithmName | typeof FROM_CONFIG })),
      { label: '', kind: vscode.QuickPickItemKind.Separator, preset: FROM_CONFIG },
      { label: '$(file-code) From a config file…', description: 'JSON: preset, steps, seed, ep, name, config', detail: undefined, preset: FROM_CONFIG },
    ],
    { title: 'Start a training run (1/5): algorithm preset', placeHolder: 'Which credit-assignment algorithm?', matchOnDetail: true, ignoreFocusOut: true },
  );
  if (!presetPick) return undefined;
  if (presetPick.preset === FROM_CONFIG) return 'config';
  const preset: AlgorithmName = presetPick.preset;

  const steps = await vscode.window.showInputBox({
    title: `Start a ${presetLabel(preset)} run (2/5): steps`,
    prompt: 'Train until this step',
    value: String(config.defaultSteps()),
    validateInput: integerValidator(1),
    ignoreFocusOut: true,
  });
  if (steps === undefined) return undefined;

  const seed = await vscode.window.showInputBox({
    title: `Start a ${presetLabel(preset)} run (3/5): seed`,
    prompt: 'Seed of every random stream (data, sampling, perturbations); the same seed reproduces the run',
    value: '0',
    validateInput: integerValidator(0),
    ignoreFocusOut: true,
  });
  if (seed === undefined) return undefined;

  const preferredEp = config.executionProvider();
  const epPick = await vscode.window.showQuickPick(
    [...EPS].sort((a, b) => (a.ep === preferredEp ? -1 : b.ep === preferredEp ? 1 : 0)).map((e) => ({ label: e.ep, description: e.ep === preferredEp ? '(setting prpoStudio.executionProvider)' : '', detail: e.detail, ep: e.ep })),
    { title: `Start a ${presetLabel(preset)} run (4/5): execution provider`, ignoreFocusOut: true },
  );
  if (!epPick) return undefined;

  const name = await vscode.window.showInputBox({
    title: `Start a ${presetLabel(preset)} run (5/5): run name`,
    prompt: `Shown in the explorer; the run folder is created under ${runsDir}`,
    value: defaultRunName(preset, Number(seed)),
    validateInput: (v) => (v.trim() ? undefined : 'Give the run a name.'),
    ignoreFocusOut: true,
  });
  if (name === undefined) return undefined;

  return { runsDir, preset, steps: Number(steps), seed: Number(seed), ep: epPick.ep, name: name.trim(), checkpointEvery: config.checkpointEvery() };
}

/**
 * A run config file: `{ "preset": "prpo", "steps": 50, "seed": 0, "ep": "cpu", "name": "…",
 * "checkpointEvery": 10, "config": { …preset overrides… } }`. Only `preset` is required.
 */
export async function readStartConfig(file: vscode.Uri, runsDir: string): Promise<StartParams> {
  const where = file.fsPath;
  let value: unknown;
  try {
    value = JSON.parse(await readFile(file.fsPath, 'utf8'));
  } catch (e) {
    throw new Error(`${where}: not a readable JSON file (${(e as Error).message}).`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`${where}: expected a JSON object with at least "preset".`);
  const v = value as Record<string, unknown>;
  const preset = (v.preset ?? v.algorithm) as AlgorithmName;
  if (!PRESETS.some((p) => p.name === preset)) throw new Error(`${where}: "preset" must be one of ${PRESETS.map((p) => p.name).join(', ')} (got ${JSON.stringify(v.preset)}).`);
  const int = (key: string, min: number, fallback: number | undefined): number | undefined => {
    const x = v[key];
    if (x === undefined) return fallback;
    if (typeof x !== 'number' || !Number.isInteger(x) || x < min) throw new Error(`${where}: "${key}" must be a whole number ≥ ${min} (got ${JSON.stringify(x)}).`);
    return x;
  };
  const ep = (v.ep ?? v.executionProvider ?? config.executionProvider()) as ExecutionProvider;
  if (!EPS.some((e) => e.ep === ep)) throw new Error(`${where}: "ep" must be cpu, cuda or webgpu (got ${JSON.stringify(ep)}).`);
  if (v.config !== undefined && (typeof v.config !== 'object' || v.config === null || Array.isArray(v.config))) throw new Error(`${where}: "config" must be an object of preset overrides.`);
  if (v.name !== undefined && typeof v.name !== 'string') throw new Error(`${where}: "name" must be a string.`);
  const seed = int('seed', 0, 0)!;
  return {
    runsDir,
    preset,
    steps: int('steps', 1, config.defaultSteps())!,
    seed,
    ep,
    name: (v.name as string | undefined) ?? defaultRunName(preset, seed),
    checkpointEvery: int('checkpointEvery', 0, config.checkpointEvery()),
    config: v.config as Record<string, unknown> | undefined,
  };
}
