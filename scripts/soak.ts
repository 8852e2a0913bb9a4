/**
 * `npm run soak`: the long crash soaks of issue #14 — 50 kill -9 of the built-in backend (a checkpoint every
 * step, every third kill held mid-checkpoint), and of the PyTorch backend when python/ and its environment are
 * there. Prints a line per kill and the tally; exits 1 if any promise broke. Options: --kills N, --seed N,
 * --only builtin|pytorch. Builds dist/cli.js first when it is missing or stale.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { soakBuiltin } from '../test/soak/builtin';
import { havePython, soakPytorch } from '../test/soak/pytorch';
import { ensureCliBuilt } from '../test/unit/cliBuild';
import type { SoakTally } from '../test/soak/checks';

const { values } = parseArgs({ options: { kills: { type: 'string', default: '50' }, seed: { type: 'string', default: '14' }, only: { type: 'string' } } });
const kills = Number(values.kills);
const seed = Number(values.seed);
const tallies: SoakTally[] = [];

async function main(): Promise<void> {
  if (values.only !== 'pytorch') {
    if (!ensureCliBuilt()) throw new Error('dist/cli.js could not be built (npm run build)');
    const runsDir = mkdtempSync(join(tmpdir(), 'prpo-soak-'));
    try {
      console.log(`built-in backend: ${kills} kills, seed ${seed}`);
      tallies.push(await soakBuiltin({ kills, runsDir, seed, log: (l) => console.log(`  ${l}`) }));
    } finally {
      rmSync(runsDir, { recursive: true, force: true });
    }
  }
  if (values.only !== 'builtin') {
    if (!havePython()) console.log('PyTorch backend: skipped (no python/ package or no .toolchain/python; set PRPO_STUDIO_PYTHON)');
    else {
      console.log(`PyTorch backend: ${kills} kills, seed ${seed}`);
      tallies.push(await soakPytorch({ kills, seed, log: (l) => console.log(`  ${l}`) }));
    }
  }
  console.log('\ntally');
  for (const t of tallies) {
    console.log(
      `  ${t.backend}: ${t.kills} kills (${t.midCheckpoint} mid-checkpoint), ${t.interrupted} read as interrupted, ` +
        `${t.resumedAtLatest} resumes at the latest complete checkpoint, ${t.checkpointsVerified} checkpoint reads verified against their manifests, ` +
        `${t.secondWriterRefused} second writers refused, final run completed at step ${t.finalSteps ?? '—'}; ${t.violations.length} problems`,
    );
    for (const v of t.violations) console.log(`    ✗ ${v}`);
  }
  process.exitCode = tallies.some((t) => t.violations.length) ? 1 : 0;
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
