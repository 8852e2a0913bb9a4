/**
 * Which Python interpreter runs the PyTorch backend (the setting, the project's environment, the Python extension's
 * choice, python3), and the export of the built-in shapes task as a dataset folder (`dist/cli.js export-task`).
 * The checks before a start are in pythonChecks.ts.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import * as config from '../config';
import type { Interpreter } from './pythonChecks';

export * from './pythonChecks';

/** The Python extension's API, as far as it is used here (ms-python.python, `environments`). */
interface PythonExtensionApi {
  environments?: {
    getActiveEnvironmentPath(resource?: vscode.Uri): { id: string; path: string };
    resolveEnvironment(env: { id: string; path: string } | string): Promise<{ executable: { uri?: vscode.Uri } } | undefined>;
  };
}

/**
 * The interpreter for the PyTorch backend: the setting prpoStudio.python.interpreter when set; else the
 * environment the project's set-up makes (`<extension>/.toolchain/python`); else the interpreter selected in the
 * Python extension when it is installed; else `python3` from PATH.
 */
export async function resolveInterpreter(extensionPath: string): Promise<Interpreter> {
  const fromSetting = config.pythonInterpreter();
  if (fromSetting) return { path: fromSetting, source: 'setting' };
  const toolchain = path.join(extensionPath, '.toolchain', 'python', 'bin', 'python');
  if (existsSync(toolchain)) return { path: toolchain, source: 'toolchain' };
  const ext = vscode.extensions.getExtension<PythonExtensionApi>('ms-python.python');
  if (ext) {
    try {
      const api = ext.isActive ? ext.exports : await ext.activate();
      const envs = api?.environments;
      if (envs) {
        const active = envs.getActiveEnvironmentPath(vscode.workspace.workspaceFolders?.[0]?.uri);
        const resolved = await envs.resolveEnvironment(active);
        const exe = resolved?.executable.uri?.fsPath ?? active.path;
        if (exe) return { path: exe, source: 'python-extension' };
      }
    } catch {
      // The Python extension failed to answer: fall through to python3.
    }
  }
  return { path: 'python3', source: 'default' };
}

/** Writes `n` examples of the built-in shapes task into `out` with the extension's own CLI. */
export async function exportShapesTask(extensionPath: string, out: string, n: number): Promise<string> {
  const cli = path.join(extensionPath, 'dist', 'cli.js');
  const node = config.backendNodePath() || process.execPath;
  const r = await new Promise<{ stderr: string; error?: Error }>((resolve) =>
    execFile(node, [cli, 'export-task', 'shapes', '--out', out, '--n', String(n)], { env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' }, timeout: 120_000, encoding: 'utf8' }, (error, _stdout, stderr) => resolve({ stderr, error: error ?? undefined })),
  );
  if (r.error) throw new Error(`Exporting the shapes task into ${out} failed: ${(r.stderr || r.error.message).trim()}`);
  return out;
}

