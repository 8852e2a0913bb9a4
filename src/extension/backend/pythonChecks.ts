/**
 * What the PyTorch backend needs before it starts, checked here so that a user meets a clear, actionable error
 * instead of a Python traceback: an interpreter that runs and is recent enough, torch and transformers in it (else
 * the exact pip command for that interpreter), a model folder that holds a model, a dataset folder with data.jsonl;
 * and the known failures of a run explained. Free of `vscode` (unit-tested); python.ts finds the interpreter.
 */
import { execFile, type ExecFileException } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';

/** Where the interpreter came from, in the words the error messages use. */
export type InterpreterSource = 'setting' | 'toolchain' | 'python-extension' | 'default';

export interface Interpreter {
  path: string;
  source: InterpreterSource;
}

/** A problem the user can fix, with the fix as buttons. */
export class PythonSetupError extends Error {
  constructor(
    message: string,
    /** A command line to copy (pip install …). */
    readonly command?: string,
    /** A setting to open. */
    readonly setting?: string,
  ) {
    super(message);
  }
}

export const INTERPRETER_SETTING = 'prpoStudio.python.interpreter';

/** The package the extension ships: put first on PYTHONPATH so it imports with any interpreter. */
export function packagePath(extensionPath: string): string {
  return path.join(extensionPath, 'python', 'src');
}

export function describeInterpreter(i: Interpreter): string {
  switch (i.source) {
    case 'setting':
      return `${i.path} (setting ${INTERPRETER_SETTING})`;
    case 'toolchain':
      return `${i.path} (the project's environment; set ${INTERPRETER_SETTING} to use another)`;
    case 'python-extension':
      return `${i.path} (the Python extension's selected interpreter; set ${INTERPRETER_SETTING} to use another)`;
    case 'default':
      return `${i.path} (from PATH; set ${INTERPRETER_SETTING} to use another)`;
  }
}

/** Import names the backend needs, with the pip distribution that provides each. */
const REQUIRED: ReadonlyArray<[module: string, distribution: string]> = [
  ['torch', 'torch'],
  ['transformers', 'transformers'],
  ['peft', 'peft'],
  ['safetensors', 'safetensors'],
  ['PIL', 'pillow'],
  ['numpy', 'numpy'],
];
const MIN_PYTHON = [3, 10] as const;

/** The version specifiers python/pyproject.toml declares (so the pip command asks for what the package needs). */
function requirementSpecs(extensionPath: string): Map<string, string> {
  const specs = new Map<string, string>();
  try {
    const toml = readFileSync(path.join(extensionPath, 'python', 'pyproject.toml'), 'utf8');
    const block = /^dependencies\s*=\s*\[([\s\S]*?)\]/m.exec(toml)?.[1] ?? '';
    for (const m of block.matchAll(/"([A-Za-z0-9_.-]+)([^"]*)"/g)) specs.set(m[1].toLowerCase(), `${m[1]}${m[2]}`);
  } catch {
    // No pyproject (a trimmed package): plain names.
  }
  return specs;
}

/** Quotes a command-line word for a POSIX shell when it needs it. */
function shellWord(w: string): string {
  return /^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`;
}

/** The pip command that installs `distributions` into `python`. */
export function pipCommand(python: string, distributions: string[], extensionPath: string): string {
  const specs = requirementSpecs(extensionPath);
  return [python, '-m', 'pip', 'install', ...distributions.map((d) => specs.get(d.toLowerCase()) ?? d)].map(shellWord).join(' ');
}

const PROBE = `
import importlib.util as u, json, sys
print(json.dumps({"version": list(sys.version_info[:2]), "missing": [m for m in sys.argv[1:] if u.find_spec(m) is None]}))
`;

function run(file: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<{ stdout: string; stderr: string; error?: ExecFileException }> {
  return new Promise((resolve) => {
    execFile(file, args, { env, timeout: timeoutMs, encoding: 'utf8' }, (error, stdout, stderr) => resolve({ stdout, stderr, error: error ?? undefined }));
  });
}

/**
 * Checks that the interpreter runs, is recent enough, and has what the backend imports (found, not imported: fast).
 * Throws a PythonSetupError that says what to do.
 */
export async function checkInterpreter(interpreter: Interpreter, extensionPath: string): Promise<void> {
  const env = { ...process.env, PYTHONPATH: packagePath(extensionPath) };
  const r = await run(interpreter.path, ['-c', PROBE, ...REQUIRED.map(([m]) => m), 'prpo_studio'], env, 30_000);
  const where = describeInterpreter(interpreter);
  if (r.error && (r.error.code === 'ENOENT' || r.error.code === 'EACCES')) {
    throw new PythonSetupError(
      `No Python interpreter at ${where}. Set ${INTERPRETER_SETTING} to a Python ≥ ${MIN_PYTHON.join('.')} with torch and transformers, or run \`npm run toolchain\` in the extension's folder to make its environment.`,
      undefined,
      INTERPRETER_SETTING,
    );
  }
  let probe: { version: [number, number]; missing: string[] };
  try {
    probe = JSON.parse(r.stdout.trim().split('\n').pop() ?? '');
  } catch {
    throw new PythonSetupError(`The Python interpreter ${where} did not run: ${(r.stderr || r.error?.message || 'no output').trim().split('\n').slice(-3).join(' ')}`, undefined, INTERPRETER_SETTING);
  }
  const [maj, min] = probe.version;
  if (maj < MIN_PYTHON[0] || (maj === MIN_PYTHON[0] && min < MIN_PYTHON[1])) {
    throw new PythonSetupError(`The PyTorch backend needs Python ≥ ${MIN_PYTHON.join('.')}; ${where} is Python ${maj}.${min}.`, undefined, INTERPRETER_SETTING);
  }
  if (probe.missing.includes('prpo_studio')) {
    throw new PythonSetupError(`The backend's package is missing from the extension (${packagePath(extensionPath)}): reinstall the extension.`);
  }
  const missing = REQUIRED.filter(([m]) => probe.missing.includes(m)).map(([, d]) => d);
  if (missing.length) {
    const command = pipCommand(interpreter.path, missing, extensionPath);
    throw new PythonSetupError(`${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not installed for ${where}. Install with: ${command}`, command, INTERPRETER_SETTING);
  }
}

/** A Hub id (`org/name`): the backend looks it up in the local cache; nothing is downloaded. */
export function isHubId(model: string): boolean {
  return /^[A-Za-z0-9][\w.-]*\/[\w.-]+$/.test(model) && !path.isAbsolute(model);
}

/**
 * Checks that `model` is a model folder (config.json, weights, tokenizer) or a Hub id; names the missing file.
 */
export function checkModelFolder(model: string): void {
  if (!existsSync(model)) {
    if (isHubId(model)) return;
    throw new PythonSetupError(`The model folder ${model} does not exist. Pick a folder with a Hugging Face model (config.json + *.safetensors), or a Hub id already in the local cache.`);
  }
  if (!statSync(model).isDirectory()) throw new PythonSetupError(`The model ${model} is a file; pick the folder that holds its config.json.`);
  const files = readdirSync(model);
  const need = (what: string, ok: boolean, expected: string) => {
    if (!ok) throw new PythonSetupError(`${model} is not a usable model folder: ${what} is missing (expected ${expected}). A folder written by save_pretrained, or a full download of the model, has it.`);
  };
  need('config.json', files.includes('config.json'), 'config.json');
  need('the weights', files.some((f) => /\.safetensors$|^model\.safetensors\.index\.json$|^pytorch_model.*\.bin$/.test(f)), '*.safetensors or pytorch_model*.bin');
  need('the tokenizer', files.some((f) => f === 'tokenizer.json' || f === 'tokenizer_config.json' || f === 'vocab.json'), 'tokenizer.json or tokenizer_config.json');
}

/** Checks that `data` is a dataset folder (data.jsonl next to its images). */
export function checkDatasetFolder(data: string): void {
  if (!existsSync(path.join(data, 'data.jsonl'))) {
    throw new PythonSetupError(`${data} is not a dataset folder: data.jsonl is missing. A dataset folder holds data.jsonl (one {"id", "image", "prompt", "answer"} per line) and its images; "Export the shapes task" writes one.`);
  }
}

/**
 * Turns an error the PyTorch backend reported into one that says what to do, where the cause is known.
 */
export function explainBackendError(message: string): string {
  if (!/CUDA out of memory|OutOfMemoryError|CUDA error: out of memory/i.test(message)) return message;
  const where = 'the setting prpoStudio.python.config (runs started from the palette) or the run config file\'s "config"';
  // The trainer names the keys and their values itself where it catches the error (trainer/core.py): say where they are set.
  if (/Lower config\./.test(message)) return `${message} These are set in ${where}.`;
  return (
    `The GPU ran out of memory. Lower microBatchSize first, then groupSize, maxNewTokens or promptsPerStep, in ${where}; ` +
    `keep LoRA on and bf16, or set prpoStudio.python.device to cpu. (${message.split('\n')[0]})`
  );
}
