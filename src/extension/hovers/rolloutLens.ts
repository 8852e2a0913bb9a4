/**
 * CodeLenses over each line of a rollouts file: a one-line summary of the rollout (its lines are long JSON)
 * with links to the same step in the trajectory view and in the token view.
 */
import * as vscode from 'vscode';
import { parseRolloutLine } from '../../core/run/lines';
import { lensTitle } from './tokenCard';

/** Only the first MAX_LINES lines get lenses: a step of thousands of rollouts is not parsed again on every edit. */
const MAX_LINES = 2000;

export class RolloutLensProvider implements vscode.CodeLensProvider {
  provideCodeLenses(document: vscode.TextDocument): vscode.CodeLens[] {
    const lenses: vscode.CodeLens[] = [];
    for (let i = 0; i < Math.min(document.lineCount, MAX_LINES); i++) {
      const text = document.lineAt(i).text;
      if (!text.trim()) continue;
      // Lines that are not valid rollouts get no lens (their hover says what is wrong).
      const r = parseRolloutLine(text, document.uri.fsPath, i + 1).record;
      if (!r) continue;
      const range = new vscode.Range(i, 0, i, 0);
      const title = lensTitle(r);
      lenses.push(
        new vscode.CodeLens(range, { title, command: 'prpoStudio.openRun', arguments: [document.uri], tooltip: 'Open this step in the trajectory view' }),
        new vscode.CodeLens(range, { title: 'as tokens', command: 'prpoStudio.openRolloutTokens', arguments: [document.uri], tooltip: 'Open this step as tokens coloured by advantage' }),
      );
    }
    return lenses;
  }
}
