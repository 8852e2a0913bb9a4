/**
 * A study folder on disk: the runs folder `npm run study` (scripts/study.ts) wrote, with its study.json. Node only
 * (the webview reads the grouping from groups.ts).
 */
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { parseStudyIndex, type StudyRunRef } from './groups';

export const STUDY_FILE = 'study.json';

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
