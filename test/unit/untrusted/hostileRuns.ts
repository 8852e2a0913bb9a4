/**
 * Hostile text in runs written by the studio's Python side (issue #14): the payloads, and the three run
 * directories test/unit/untrusted/hostile_runs.py writes with them (a PyTorch-backend run, the same as a Ray
 * job writes it on a cluster node, a verl-plugin run). Shared by writtenRuns.test.ts and the webview-hostile
 * UI scenario. Not a test file itself.
 */
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { PYTHON } from '../../soak/pytorch';

/** Each way text could do something in an editor view or a webview, or hide what it says. */
export const PAYLOADS = [
  '<script>document.title="pwned"</script>',
  '<img src=x onerror="document.title=\'pwned\'">',
  '<b>bold</b> &lt;x&gt;',
  '\u202Eevil\u202C',
  '\u0000\u0007\u001b[31m\u0085\u009b',
  'zero\u200Bwidth\u200D\uFEFF',
  '$(alert) $(sync~spin)',
  '[x](command:workbench.action.terminal.new)',
  '${process.exit()}',
  '{{constructor.constructor("alert(1)")()}}',
];

/** Response tokens as a real tokenizer's pieces come out (byte-level BPE 'Ġ', SentencePiece '▁'), each a payload. */
export const TOKENS = ['Look', ...PAYLOADS.map((p, i) => `${i % 2 ? '▁' : 'Ġ'}${p}`), 'Ċ', '▁end'];

export const RUN_NAME = `run ${PAYLOADS[0]} ${PAYLOADS[3]}`;
/** The text of every other field: model, task, prompt, answer, ids, groups, the failure reason, the cluster's word. */
export const TEXT = PAYLOADS.join(' ');

export interface HostileRuns {
  pytorch: string;
  cluster?: string;
  verl?: string;
}

const ROOT = resolve(import.meta.dirname, '..', '..', '..');

/**
 * Writes the three runs under `runsDir` with the Python writer (only the PyTorch one with `onlyPytorch`: it
 * skips importing verl); throws with Python's stderr if it fails.
 */
export function writeHostileRuns(runsDir: string, onlyPytorch = false): HostileRuns {
  const r = spawnSync(PYTHON, [join(import.meta.dirname, 'hostile_runs.py'), runsDir, ...(onlyPytorch ? ['--only-pytorch'] : [])], {
    input: JSON.stringify({ name: RUN_NAME, text: TEXT, tokens: TOKENS }),
    encoding: 'utf8',
    timeout: 300_000,
    env: { ...process.env, PYTHONPATH: join(ROOT, 'python', 'src'), OMP_NUM_THREADS: '1' },
  });
  if (r.status !== 0) throw new Error(`hostile_runs.py: exit ${r.status}\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as HostileRuns;
}
