/**
 * Study folders: runs folders holding a study.json (`npm run study`, scripts/study.ts). The context key
 * `prpoStudio.studyFolders` lists the workspace's, so the file explorer offers *Open Study Charts* on exactly
 * those folders; `readStudy` turns one into the run directories the charts group by arm.
 */
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { parseStudyIndex, type StudyRunRef } from '../core/study/groups';

export const STUDY_FILE = 'study.json';

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

export interface StudyRun extends StudyRunRef {
  /** The run directory, resolved. */
  runDir: string;
}

/**
 * The runs of the study in `folder`, each resolved: study.json's path as written (absolute, or relative to the
 * folder), else the folder of that name inside the study folder (a study copied or moved from where it ran).
 * Throws, naming the file, when there is no study.json or it cannot be read.
 */
export function readStudy(folder: string): { name: string; runs: StudyRun[]; missing: StudyRunRef[] } {
  const file = path.join(folder, STUDY_FILE);
  if (!existsSync(file)) {
    throw new Error(`${folder} has no ${STUDY_FILE}: a study folder is the runs folder npm run study wrote (its ${STUDY_FILE} maps arm × seed to a run).`);
  }
  const index = parseStudyIndex(readFileSync(file, 'utf8'), file);
  const runs: StudyRun[] = [];
  const missing: StudyRunRef[] = [];
  for (const ref of index.runs) {
    const candidates = [path.resolve(folder, ref.dir), path.join(folder, path.basename(ref.dir))];
    const runDir = candidates.find((d) => existsSync(d));
    if (runDir) runs.push({ ...ref, runDir });
    else missing.push(ref);
  }
  return { name: path.basename(folder), runs, missing };
}
