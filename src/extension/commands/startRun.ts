/**
 * Starting runs: the quick-pick flow (backend; preset; for PyTorch the model and the dataset; steps, seed,
 * execution provider or device, run name), a run config file, and the built-in default (auto-start). Resuming
 * from a checkpoint is `resumeFromCheckpoint` in commands/index.ts.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ExecutionProvider, StartParams, TorchDevice, TorchDtype } from '../../core/protocol/backend';
import type { AlgorithmName } from '../../core/run/schema';
import type { BackendKind } from '../backend/backendClient';
import { checkDatasetFolder, checkModelFolder, exportShapesTask, isHubId } from '../backend/python';
import * as config from '../config';
import { PRESETS, defaultRunName, presetLabel } from '../../core/presets';

const DEVICES: ReadonlyArray<{ device: TorchDevice; detail: string }> = [
  { device: 'auto', detail: 'A CUDA GPU when torch sees one, else the CPU (with a notice).' },
  { device: 'cuda', detail: 'A CUDA GPU; the CPU with a warning when there is none.' },
  { device: 'cpu', detail: 'The CPU in fp32: fine for tiny test models, slow for real ones.' },
];

/** The shapes task exported for the PyTorch backend when the user has no dataset of their own. */
const SHAPES_EXPORT_SIZE = 256;

const EPS: ReadonlyArray<{ ep: ExecutionProvider; detail: string }> = [
  { ep: 'cpu', detail: 'Always available. The tiny model trains on two cores.' },
  { ep: 'cuda', detail: 'NVIDIA GPU through onnxruntime\'s CUDA 12 provider; falls back to CPU with a warning.' },
  { ep: 'webgpu', detail: 'GPU through WebGPU (Vulkan); falls back to CPU with a warning.' },
];

/** The built-in default run (auto-start, "Start PRPO-R Run with Built-in Defaults"). */
export function defaultStartParams(runsDir: string): StartParams {
  const preset = config.defaultPreset();
  return { runsDir, preset, steps: config.defaultSteps(), seed: 0, ep: config.executionProvider(), name: defaultRunName(preset, 0), checkpointEvery: config.checkpointEvery() };
}

function integerValidator(min: number): (v: string) => string | undefined {
  return (v) => (/^\s*\d+\s*$/.test(v) && Number(v) >= min ? undefined : `Enter a whole number ≥ ${min}.`);
}

const FROM_CONFIG = 'from-config' as const;

/** What the start flow remembers between runs (the extension's globalState). */
const RECENT_MODELS = 'prpoStudio.recentModels';
const RECENT_DATASETS = 'prpoStudio.recentDatasets';
const RECENT_MAX = 8;

function recent(memento: vscode.Memento, key: string): string[] {
  // Hub ids stay; folders that went away are dropped.
  return (memento.get<string[]>(key) ?? []).filter((p) => !path.isAbsolute(p) || existsSync(p));
}

export async function remember(memento: vscode.Memento, key: 'models' | 'datasets', value: string): Promise<void> {
  const k = key === 'models' ? RECENT_MODELS : RECENT_DATASETS;
  await memento.update(k, [value, ...recent(memento, k).filter((v) => v !== value)].slice(0, RECENT_MAX));
}

interface PathItem extends vscode.QuickPickItem {
  value?: string;
  action?: 'browse' | 'export' | 'typed';
}

/**
 * A quick pick of paths: the offers, "Browse…", and whatever the user types (a path, or a Hub id) as the first item.
 * The choice is checked with `check`; a failed check is shown in the pick, which stays open.
 */
async function pickPath(opts: {
  title: string;
  placeholder: string;
  offers: PathItem[];
  browseLabel: string;
  check: (value: string) => void;
  onAction?: (action: 'export') => Promise<string | undefined>;
}): Promise<string | undefined> {
  const qp = vscode.window.createQuickPick<PathItem>();
  qp.title = opts.title;
  qp.placeholder = opts.placeholder;
  qp.ignoreFocusOut = true;
  qp.matchOnDescription = true;
  const browse: PathItem = { label: `$(folder-opened) ${opts.browseLabel}`, action: 'browse', alwaysShow: true };
  const base = [...opts.offers, browse];
  qp.items = base;
  const typedItem = (v: string): PathItem => ({ label: `$(arrow-right) Use ${v}`, description: 'typed', value: v, action: 'typed', alwaysShow: true });
  const listFor = (v: string) => (v.trim() ? [typedItem(v.trim()), ...base] : base);
  // A choice that fails its check is shown on top of the list (with the reason), and the pick stays open.
  const showProblem = (message: string) => {
    qp.items = [{ label: `$(error) ${message.split(/(?<=\.)\s/)[0]}`, detail: message, alwaysShow: true }, ...listFor(qp.value)];
  };
  const checkProblem = (value: string): string | undefined => {
    try {
      opts.check(value);
      return undefined;
    } catch (e) {
      return (e as Error).message;
    }
  };
  let hidden = false;
  try {
    return await new Promise<string | undefined>((resolve) => {
      qp.onDidChangeValue((v) => {
        qp.items = listFor(v);
        if (v.trim()) qp.activeItems = [qp.items[0]];
      });
      qp.onDidHide(() => {
        hidden = true;
        resolve(undefined);
      });
      qp.onDidAccept(async () => {
        const item = qp.selectedItems[0] ?? qp.activeItems[0];
        if (!item?.action && !item?.value) return;
        let value = item.value;
        if (item.action === 'browse') {
          qp.hide();
          value = (await vscode.window.showOpenDialog({ title: opts.title, canSelectFiles: false, canSelectFolders: true, canSelectMany: false }))?.[0]?.fsPath;
          if (!value) return resolve(undefined);
        } else if (item.action === 'export' && opts.onAction) {
          // The pick stays disabled until the exported folder is checked: typing meanwhile would go to this pick.
          qp.busy = true;
          qp.enabled = false;
          try {
            value = await opts.onAction('export');
          } catch (e) {
            value = undefined;
            showProblem((e as Error).message);
          } finally {
            qp.busy = false;
          }
        }
        const problem = value ? checkProblem(value) : undefined;
        if (!value || problem !== undefined) {
          qp.enabled = true;
          if (problem === undefined) return;
          if (hidden) {
            void vscode.window.showErrorMessage(`PRPO Studio: ${problem}`);
            return resolve(undefined);
          }
          return showProblem(problem);
        }
        resolve(value);
        qp.hide();
      });
      qp.show();
    });
  } finally {
    qp.dispose();
  }
}

/**
 * Asks for the run's settings, one quick input after another (Escape anywhere cancels): the backend first, then
 * the preset and, for PyTorch, the model and the dataset. Returns 'config' when the user chose to start from a
 * config file instead.
 */
export async function askStartParams(runsDir: string, context: { globalState: vscode.Memento; extensionPath: string }): Promise<StartParams | 'config' | undefined> {
  const backendPick = await vscode.window.showQuickPick(
    [
      { label: 'Built-in · onnxruntime', description: 'tiny VLM, CPU', detail: "The studio's own 0.26M-parameter VLM on the shapes task, on two CPU cores. Nothing to install.", backend: 'builtin' as BackendKind | typeof FROM_CONFIG },
      { label: 'PyTorch', description: 'Hugging Face VLMs, GPU', detail: 'A Qwen2-VL, Qwen2.5-VL or SmolVLM model from a local folder, with transformers + peft (LoRA), on a GPU or the CPU.', backend: 'pytorch' as const },
      { label: '', kind: vscode.QuickPickItemKind.Separator, backend: FROM_CONFIG },
      { label: '$(file-code) From a config file…', description: 'JSON: preset, steps, seed, ep, name, config (model, data, device for PyTorch)', detail: undefined, backend: FROM_CONFIG },
    ],
    { title: 'Start a training run: backend', placeHolder: 'Which backend trains the run?', matchOnDetail: true, ignoreFocusOut: true },
  );
  if (!backendPick) return undefined;
  if (backendPick.backend === FROM_CONFIG) return 'config';
  const pytorch = backendPick.backend === 'pytorch';
  const total = pytorch ? 8 : 6;
  let n = 1;
  const title = (what: string, preset?: AlgorithmName) => `Start a ${preset ? `${presetLabel(preset)} ` : ''}${pytorch ? 'PyTorch' : 'built-in'} run (${++n}/${total}): ${what}`;

  const preferred = config.defaultPreset();
  const presets = [...PRESETS].sort((a, b) => (a.name === preferred ? -1 : b.name === preferred ? 1 : 0));
  const presetPick = await vscode.window.showQuickPick(
    presets.map((p) => ({ label: p.label, description: p.name === preferred ? `${p.name} (default)` : p.name, detail: p.detail, preset: p.name })),
    { title: title('algorithm preset'), placeHolder: 'Which credit-assignment algorithm?', matchOnDetail: true, ignoreFocusOut: true },
  );
  if (!presetPick) return undefined;
  const preset: AlgorithmName = presetPick.preset;

  let model: string | undefined;
  let data: string | undefined;
  if (pytorch) {
    model = await pickPath({
      title: title('model', preset),
      placeholder: 'A model folder (config.json + *.safetensors) or a Hub id in the local cache — type a path, or pick',
      offers: recent(context.globalState, RECENT_MODELS).map((m) => ({ label: path.basename(m), description: m, detail: 'recent', value: m })),
      browseLabel: 'Browse for a model folder…',
      check: checkModelFolder,
    });
    if (!model) return undefined;
    await remember(context.globalState, 'models', model);

    const exportDir = path.join(path.dirname(runsDir), 'datasets', `shapes-train-${SHAPES_EXPORT_SIZE}`);
    data = await pickPath({
      title: title('dataset', preset),
      placeholder: 'A dataset folder (data.jsonl + images) — type a path, or pick',
      offers: [
        { label: '$(package) Export the built-in shapes task', description: exportDir, detail: `${SHAPES_EXPORT_SIZE} examples, the task the built-in backend trains on (node dist/cli.js export-task shapes)`, action: 'export' },
        ...recent(context.globalState, RECENT_DATASETS).filter((d) => d !== exportDir).map((d) => ({ label: path.basename(d), description: d, detail: 'recent', value: d })),
      ],
      browseLabel: 'Browse for a dataset folder…',
      check: checkDatasetFolder,
      onAction: () => exportShapesTask(context.extensionPath, exportDir, SHAPES_EXPORT_SIZE),
    });
    if (!data) return undefined;
    await remember(context.globalState, 'datasets', data);
  }

  const steps = await vscode.window.showInputBox({
    title: title('steps', preset),
    prompt: 'Train until this step',
    value: String(config.defaultSteps()),
    validateInput: integerValidator(1),
    ignoreFocusOut: true,
  });
  if (steps === undefined) return undefined;

  const seed = await vscode.window.showInputBox({
    title: title('seed', preset),
    prompt: 'Seed of every random stream (data, sampling, perturbations); the same seed reproduces the run',
    value: '0',
    validateInput: integerValidator(0),
    ignoreFocusOut: true,
  });
  if (seed === undefined) return undefined;

  let ep: ExecutionProvider | undefined;
  let device: TorchDevice | undefined;
  if (pytorch) {
    const preferredDevice = config.pythonDevice();
    const devicePick = await vscode.window.showQuickPick(
      [...DEVICES].sort((a, b) => (a.device === preferredDevice ? -1 : b.device === preferredDevice ? 1 : 0)).map((d) => ({ label: d.device, description: d.device === preferredDevice ? '(setting prpoStudio.python.device)' : '', detail: d.detail, device: d.device })),
      { title: title('device', preset), ignoreFocusOut: true },
    );
    if (!devicePick) return undefined;
    device = devicePick.device;
  } else {
    const preferredEp = config.executionProvider();
    const epPick = await vscode.window.showQuickPick(
      [...EPS].sort((a, b) => (a.ep === preferredEp ? -1 : b.ep === preferredEp ? 1 : 0)).map((e) => ({ label: e.ep, description: e.ep === preferredEp ? '(setting prpoStudio.executionProvider)' : '', detail: e.detail, ep: e.ep })),
      { title: title('execution provider', preset), ignoreFocusOut: true },
    );
    if (!epPick) return undefined;
    ep = epPick.ep;
  }

  const name = await vscode.window.showInputBox({
    title: title('run name', preset),
    prompt: `Shown in the explorer; the run folder is created under ${runsDir}`,
    value: defaultRunName(preset, Number(seed)),
    validateInput: (v) => (v.trim() ? undefined : 'Give the run a name.'),
    ignoreFocusOut: true,
  });
  if (name === undefined) return undefined;

  const common = { runsDir, preset, steps: Number(steps), seed: Number(seed), name: name.trim(), checkpointEvery: config.checkpointEvery() };
  const overrides = pytorch ? config.pythonRunConfig() : undefined;
  return pytorch ? { ...common, model, data, device, ...(overrides ? { config: overrides } : {}) } : { ...common, ep };
}

/**
 * A run config file: `{ "preset": "prpo", "steps": 50, "seed": 0, "ep": "cpu", "name": "…",
 * "checkpointEvery": 10, "config": { …preset overrides… } }`. Only `preset` is required. With `"model"` (a model
 * folder or Hub id) the run is the PyTorch backend's, and `"data"` (a dataset folder; required then), `"device"`
 * (auto, cuda, cpu) and `"dtype"` (bf16, fp32) apply; relative paths are taken from the config file's folder.
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
  const torch: Pick<StartParams, 'model' | 'data' | 'device' | 'dtype'> = {};
  const str = (key: string): string | undefined => {
    const x = v[key];
    if (x === undefined) return undefined;
    if (typeof x !== 'string' || !x.trim()) throw new Error(`${where}: "${key}" must be a non-empty string.`);
    return x.trim();
  };
  const model = str('model');
  if (model) {
    // A Hub id stays as it is, unless a folder of that name is next to the config file.
    const folder = path.resolve(path.dirname(where), model);
    torch.model = isHubId(model) && !existsSync(folder) ? model : folder;
    const data = str('data');
    if (!data) throw new Error(`${where}: a PyTorch run ("model" given) needs "data", a dataset folder (data.jsonl + images).`);
    torch.data = path.resolve(path.dirname(where), data);
    const device = str('device') ?? config.pythonDevice();
    if (!DEVICES.some((d) => d.device === device)) throw new Error(`${where}: "device" must be auto, cuda or cpu (got ${JSON.stringify(device)}).`);
    torch.device = device as TorchDevice;
    const dtype = str('dtype');
    if (dtype !== undefined && dtype !== 'bf16' && dtype !== 'fp32') throw new Error(`${where}: "dtype" must be bf16 or fp32 (got ${JSON.stringify(dtype)}).`);
    if (dtype) torch.dtype = dtype as TorchDtype;
  } else {
    for (const key of ['data', 'device', 'dtype']) if (v[key] !== undefined) throw new Error(`${where}: "${key}" is for the PyTorch backend; give "model" too (a model folder or Hub id).`);
  }
  return {
    ...torch,
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
