/** The extension's settings (package.json "configuration"), read in one place. */
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import * as vscode from 'vscode';
import type { ExecutionProvider, TorchDevice } from '../core/protocol/backend';
import type { AlgorithmName } from '../core/run/schema';

const SECTION = 'prpoStudio';

function settings(): vscode.WorkspaceConfiguration {
  return vscode.workspace.getConfiguration(SECTION);
}

/**
 * The folder that holds run directories: `prpoStudio.runsDirectory` with `${workspaceFolder}` and `~`
 * expanded; a relative path is taken from the first workspace folder. Undefined when the setting needs a
 * workspace folder and none is open.
 */
export function runsDirectory(): string | undefined {
  return expandPath((settings().get<string>('runsDirectory') || '${workspaceFolder}/runs').trim());
}

/** A path setting with `${workspaceFolder}` and `~` expanded, relative paths taken from the first workspace folder. */
function expandPath(raw: string): string | undefined {
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  let p = raw;
  if (p.includes('${workspaceFolder}')) {
    if (!folder) return undefined;
    p = p.split('${workspaceFolder}').join(folder);
  }
  if (p === '~' || p.startsWith('~/')) p = join(homedir(), p.slice(1));
  if (!isAbsolute(p)) {
    if (!folder) return undefined;
    p = resolve(folder, p);
  }
  return resolve(p);
}

export function executionProvider(): ExecutionProvider {
  return settings().get<ExecutionProvider>('executionProvider') ?? 'cpu';
}

export function autoStart(): boolean {
  return settings().get<boolean>('autoStart') ?? false;
}

export function defaultPreset(): AlgorithmName {
  return settings().get<AlgorithmName>('defaultPreset') ?? 'prpo';
}

export function defaultSteps(): number {
  return settings().get<number>('defaultSteps') ?? 400;
}

export function checkpointEvery(): number {
  return settings().get<number>('checkpointEvery') ?? 10;
}

export function startupTimeoutMs(): number {
  return 1000 * (settings().get<number>('backend.startupTimeout') ?? 60);
}

export function backendNodePath(): string | undefined {
  return settings().get<string>('backend.nodePath') || undefined;
}

/** `prpoStudio.python.interpreter`, expanded; undefined when empty (then the interpreter is looked for). */
export function pythonInterpreter(): string | undefined {
  const raw = settings().get<string>('python.interpreter')?.trim();
  if (!raw) return undefined;
  // A bare command name (python3) is looked up on PATH, not taken relative to the workspace.
  if (!raw.includes('/') && !raw.includes('\\') && !raw.startsWith('~')) return raw;
  return expandPath(raw) ?? raw;
}

export function pythonDevice(): TorchDevice {
  return settings().get<TorchDevice>('python.device') ?? 'auto';
}

/** `prpoStudio.python.config`: PyTorch trainer overrides for runs started from the palette. */
export function pythonRunConfig(): Record<string, unknown> | undefined {
  const v = settings().get<Record<string, unknown>>('python.config');
  return v && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length ? { ...v } : undefined;
}

export function affectsRunsDirectory(e: vscode.ConfigurationChangeEvent): boolean {
  return e.affectsConfiguration(`${SECTION}.runsDirectory`);
}
