/**
 * Study folders: runs folders holding a study.json (`npm run study`, scripts/study.ts). The context key
 * `prpoStudio.studyFolders` lists the workspace's, so the file explorer offers *Open Study Charts* on exactly
 * those folders (core/study/folder.ts's `readStudy` turns one into the runs the charts group by arm).
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { STUDY_FILE } from '../core/study/folder';

export class StudyFolders implements vscode.Disposable {
  private readonly watcher = vscode.workspace.createFileSystemWatcher(`**/${STUDY_FILE}`, false, true, false);
  private readonly subscriptions: vscode.Disposable[];
  private timer: NodeJS.Timeout | undefined;

  constructor() {
    const update = () => {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => void this.update(), 300);
    };
    this.subscriptions = [this.watcher, this.watcher.onDidCreate(update), this.watcher.onDidDelete(update), vscode.workspace.onDidChangeWorkspaceFolders(update)];
    void this.update();
  }

  private async update(): Promise<void> {
    const files = await vscode.workspace.findFiles(`**/${STUDY_FILE}`, '**/node_modules/**', 200);
    // `resourcePath in prpoStudio.studyFolders` matches the explorer's folder paths.
    void vscode.commands.executeCommand('setContext', 'prpoStudio.studyFolders', files.map((f) => path.dirname(f.fsPath)));
  }

  dispose(): void {
    clearTimeout(this.timer);
    for (const d of this.subscriptions) d.dispose();
  }
}
