// Runs inside the real extension host (code-server), against the real `vscode` API and the built extension.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as vscode from 'vscode';
import type { PrpoStudioApi } from '../../../src/extension/extension';
import { FIXTURE_RUN_ID, FIXTURE_RUN_NAME } from '../fixtures/runs';
import { test } from './framework';

const EXTENSION_ID = 'prpo-studio.prpo-studio';

async function api(): Promise<PrpoStudioApi> {
  const ext = vscode.extensions.getExtension<PrpoStudioApi>(EXTENSION_ID);
  assert.ok(ext, `${EXTENSION_ID} is installed`);
  return ext.isActive ? ext.exports : await ext.activate();
}

function workspaceDir(): string {
  const folder = vscode.workspace.workspaceFolders?.[0];
  assert.ok(folder, 'a workspace folder is open');
  return folder.uri.fsPath;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('the extension activates and returns its API', async () => {
  const ext = vscode.extensions.getExtension<PrpoStudioApi>(EXTENSION_ID)!;
  const exports = await api();
  assert.equal(ext.isActive, true);
  for (const key of ['runStore', 'runExplorer', 'treeView'] as const) assert.ok(exports[key], `activate() returns ${key}`);
});

test('every command contributed in package.json is registered', async () => {
  await api();
  const manifest = vscode.extensions.getExtension(EXTENSION_ID)!.packageJSON as { contributes?: { commands?: Array<{ command: string }> } };
  const contributed = (manifest.contributes?.commands ?? []).map((c) => c.command);
  assert.ok(contributed.length > 0, 'package.json contributes commands');
  const registered = new Set(await vscode.commands.getCommands(true));
  const missing = contributed.filter((id) => !registered.has(id));
  assert.deepEqual(missing, [], `contributed but not registered: ${missing.join(', ')}`);
});

test('the runs tree view is contributed in the prpoStudio view container', async () => {
  const { treeView } = await api();
  const manifest = vscode.extensions.getExtension(EXTENSION_ID)!.packageJSON as {
    contributes?: { viewsContainers?: { activitybar?: Array<{ id: string }> }; views?: Record<string, Array<{ id: string }>> };
  };
  assert.ok(manifest.contributes?.viewsContainers?.activitybar?.some((c) => c.id === 'prpoStudio'));
  assert.ok(manifest.contributes?.views?.prpoStudio?.some((v) => v.id === 'prpoStudio.runs'));
  assert.ok(treeView);
});

test("the run explorer's tree provider returns the fixture run", async () => {
  const { runStore, runExplorer } = await api();
  await runStore.refresh();
  assert.equal(runStore.root, join(workspaceDir(), 'runs'));
  const roots = (await runExplorer.getChildren()) ?? [];
  const items = await Promise.all(roots.map(async (n) => ({ node: n, item: await runExplorer.getTreeItem(n) })));
  const labels = items.map(({ item }) => (typeof item.label === 'string' ? item.label : item.label?.label));
  const run = items.find((_, i) => labels[i] === FIXTURE_RUN_NAME);
  assert.ok(run, `the fixture run among ${JSON.stringify(labels)}`);
  assert.equal(run.node.kind, 'run');
  assert.equal(run.node.runDir, join(workspaceDir(), 'runs', FIXTURE_RUN_ID));
  assert.notEqual(run.item.collapsibleState, vscode.TreeItemCollapsibleState.None, 'a run has children');
  // Its children hold the steps; the fixture has two.
  const children = (await runExplorer.getChildren(run.node)) ?? [];
  const steps = children.find((c) => c.kind === 'group' && c.group === 'steps');
  assert.ok(steps, `a steps group among ${JSON.stringify(children)}`);
  const stepNodes = (await runExplorer.getChildren(steps)) ?? [];
  assert.deepEqual(
    stepNodes.filter((s) => s.kind === 'step').map((s) => (s as { step: number }).step).sort(),
    [1, 2],
  );
});

test('openRun opens the trajectory panel of the fixture run', async () => {
  await api();
  const runDir = join(workspaceDir(), 'runs', FIXTURE_RUN_ID);
  await vscode.commands.executeCommand('prpoStudio.openRun', vscode.Uri.file(runDir));
  let tabs: string[] = [];
  for (let i = 0; i < 100; i++) {
    tabs = vscode.window.tabGroups.all.flatMap((g) => g.tabs).filter((t) => t.input instanceof vscode.TabInputWebview).map((t) => t.label);
    if (tabs.some((l) => l.includes(FIXTURE_RUN_NAME))) break;
    await sleep(100);
  }
  assert.ok(tabs.some((l) => l.includes(FIXTURE_RUN_NAME)), `a webview tab for the fixture run among ${JSON.stringify(tabs)}`);
  await vscode.commands.executeCommand('workbench.action.closeAllEditors');
});
