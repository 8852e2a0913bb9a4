// `npm test`: every suite, in order, with one summary a CI can read.
//
//   build        node esbuild.mjs (dist/ must match the sources the VS Code suites load); counted only if it fails
//   typecheck    tsc --noEmit -p . — counted as one test
//   toolchain    scripts/toolchain/provision.ts — Node 24 + code-server and the Python environment into
//                .toolchain/ (each reused when intact), plus Chromium for the UI tests
//   unit         scripts/test-unit.mjs (node's test runner; test/unit/python drives the Python package)
//   python       pytest python/tests with .toolchain/python's interpreter
//   ext-host     test/vscode/runExtensionTests.ts — tests inside the real extension host
//   ui           test/vscode/scenarios/*.scenario.ts — Playwright scenarios in real VS Code (code-server)
//
// The last line is exactly `N passed, N failed` (all stages). Exit status 0 only when nothing failed.
//
//   npm test -- --stages=unit,ext-host      only these stages (build always runs when a VS Code stage does)
//   npm test -- --skip=ui                   all but these
//   npm test -- trajectory                  UI scenario files whose name contains "trajectory" (other args go to node --test)
//
// Each stage runs in its own process group with a time limit; on timeout, Ctrl-C or SIGTERM the group is
// stopped, and whatever a VS Code stage started (found by its private temp folder) is killed and removed.
// The peak resident memory of each stage's process tree is sampled and reported.
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(import.meta.url), '..', '..');
process.chdir(root);
const out = join(root, '.test-output');
// Results are collected in a private folder (several runs may share this tree) and copied to
// .test-output/results/ at the end.
const publicResults = join(out, 'results');
const results = mkdtempSync('/tmp/prpo-r-');

const ALL = ['build', 'typecheck', 'toolchain', 'unit', 'python', 'ext-host', 'ui'];
const argv = process.argv.slice(2);
const opt = (name) => argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1]?.split(',').filter(Boolean);
const only = opt('stages');
const skip = opt('skip') ?? [];
const passthrough = argv.filter((a) => !/^--(stages|skip)=/.test(a));
const filters = passthrough.filter((a) => !a.startsWith('-'));
const nodeTestArgs = passthrough.filter((a) => a.startsWith('-'));
let stages = (only ?? ALL).filter((s) => !skip.includes(s));
for (const s of stages) if (!ALL.includes(s)) die(`unknown stage ${s}; stages: ${ALL.join(', ')}`);
if (stages.some((s) => s === 'ext-host' || s === 'ui' || s === 'python')) {
  const needs = stages.some((s) => s === 'ext-host' || s === 'ui') ? ['build', 'toolchain'] : ['toolchain'];
  for (const need of needs) if (!stages.includes(need) && !skip.includes(need)) stages.push(need);
  stages = ALL.filter((s) => stages.includes(s));
}

function die(msg) {
  console.error(msg);
  process.exit(2);
}

const TIMEOUTS_S = { build: 300, typecheck: 600, unit: 1800, toolchain: 2400, python: 900, 'ext-host': 600, ui: 2400 };
const tsx = ['--import', 'tsx'];

/** A private, short temp root for the VS Code stages (sockets need short paths); swept after each stage. */
const vscodeTmp = mkdtempSync('/tmp/prpo-t-');

let current; // the running stage's child
let interrupted = false;
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    interrupted = true;
    if (current) signalGroup(current.pid, 'SIGTERM');
    setTimeout(() => current && signalGroup(current.pid, 'SIGKILL'), 15_000).unref();
  });
}

function signalGroup(pid, sig) {
  try {
    process.kill(-pid, sig);
  } catch {
    // gone
  }
}

/** pid → { ppid, rssBytes } for every process. */
function processTable() {
  const table = new Map();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      table.set(Number(d), { ppid: Number(f[1]), rss: Number(f[21]) * 4096 });
    } catch {
      // exited meanwhile
    }
  }
  return table;
}

function treeRss(pid) {
  const table = processTable();
  const kids = new Map();
  for (const [p, { ppid }] of table) (kids.get(ppid) ?? kids.set(ppid, []).get(ppid)).push(p);
  let sum = 0;
  const stack = [pid];
  while (stack.length) {
    const p = stack.pop();
    sum += table.get(p)?.rss ?? 0;
    stack.push(...(kids.get(p) ?? []));
  }
  return sum;
}

/** Processes (not this one) whose command line or environment mentions `marker`: what a stage left behind. */
function leftovers(marker) {
  const found = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8');
      const env = readFileSync(`/proc/${d}/environ`, 'utf8');
      if (cmd.includes(marker) || env.includes(marker)) found.push({ pid: Number(d), cmd: cmd.replace(/\0/g, ' ').slice(0, 160) });
    } catch {
      // exited, or not ours to read
    }
  }
  return found;
}

function sweep(stage) {
  const left = leftovers(vscodeTmp);
  if (left.length) {
    console.log(`\n[test] ${stage}: stopping ${left.length} process(es) left behind:`);
    for (const p of left) console.log(`  ${p.pid} ${p.cmd}`);
    for (const p of left) signalGroup(p.pid, 'SIGKILL');
    for (const p of left) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        // gone with its group
      }
    }
  }
  for (const e of existsSync(vscodeTmp) ? readdirSync(vscodeTmp) : []) rmSync(join(vscodeTmp, e), { recursive: true, force: true, maxRetries: 3 });
  return left.length;
}

/** Runs a command as its own process group with a time limit; resolves { code, ms, peakRss, timedOut }. */
function runStage(name, cmd, args, env = {}) {
  return new Promise((resolveStage) => {
    const t0 = Date.now();
    console.log(`\n[test] ── ${name}: ${[cmd, ...args].join(' ')}`);
    const child = spawn(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'], detached: true, env: { ...process.env, ...env } });
    current = child;
    let peakRss = 0;
    let timedOut = false;
    const sample = setInterval(() => (peakRss = Math.max(peakRss, treeRss(child.pid))), 1000);
    const limit = setTimeout(() => {
      timedOut = true;
      console.error(`\n[test] ${name}: over its ${TIMEOUTS_S[name]} s limit, stopping it`);
      signalGroup(child.pid, 'SIGTERM');
      setTimeout(() => signalGroup(child.pid, 'SIGKILL'), 20_000).unref();
    }, TIMEOUTS_S[name] * 1000);
    child.on('exit', (code, signal) => {
      clearInterval(sample);
      clearTimeout(limit);
      signalGroup(child.pid, 'SIGKILL'); // anything the stage left in its own group
      current = undefined;
      resolveStage({ code: code ?? (signal ? 128 : 1), ms: Date.now() - t0, peakRss, timedOut });
    });
  });
}

/** Counts from a TAP file written by node's test runner, with the names of failed top-level tests. */
function tapCounts(file) {
  if (!existsSync(file)) return undefined;
  const text = readFileSync(file, 'utf8');
  const num = (k) => Number(text.match(new RegExp(`^# ${k} (\\d+)$`, 'm'))?.[1] ?? NaN);
  const failedNames = [...text.matchAll(/^not ok \d+ - (.*)$/gm)].map((m) => m[1]);
  const pass = num('pass');
  const fail = num('fail') + (num('cancelled') || 0);
  if (!Number.isFinite(pass) || !Number.isFinite(fail)) return undefined;
  return { passed: pass, failed: fail, failedNames };
}

/** Counts from pytest's JUnit XML report (tests − failures − errors − skipped passed), with the failed tests' names. */
function junitCounts(file) {
  if (!existsSync(file)) return undefined;
  const text = readFileSync(file, 'utf8');
  const suite = text.match(/<testsuite\b[^>]*>/)?.[0];
  if (!suite) return undefined;
  const attr = (k) => Number(suite.match(new RegExp(`\\b${k}="(\\d+)"`))?.[1] ?? 0);
  const failed = attr('failures') + attr('errors');
  const passed = attr('tests') - failed - attr('skipped');
  const failedNames = [...text.matchAll(/<testcase\b[^>]*\bname="([^"]*)"[^>]*>\s*<(failure|error)\b/g)].map((m) => m[1]);
  return { passed, failed, failedNames };
}

const summary = [];
const record = (stage, r, passed, failed, note = '') => {
  summary.push({ stage, passed, failed, ms: r?.ms ?? 0, peakRss: r?.peakRss ?? 0, note });
};

const tapFile = (stage) => {
  const f = join(results, `${stage}.tap`);
  rmSync(f, { force: true });
  return f;
};

let toolchainOk = true;
let buildOk = true;
const t0 = Date.now();
for (const stage of stages) {
  if (interrupted) break;
  if (stage === 'build') {
    const r = await runStage('build', process.execPath, ['esbuild.mjs']);
    buildOk = r.code === 0;
    if (!buildOk) record('build', r, 0, 1, 'esbuild failed');
    else summary.push({ stage: 'build', passed: 0, failed: 0, ms: r.ms, peakRss: r.peakRss, note: 'not counted' });
  } else if (stage === 'typecheck') {
    const r = await runStage('typecheck', process.execPath, [join('node_modules', 'typescript', 'bin', 'tsc'), '--noEmit', '-p', '.']);
    record('typecheck', r, r.code === 0 ? 1 : 0, r.code === 0 ? 0 : 1, r.code === 0 ? '' : 'tsc reported errors (above)');
  } else if (stage === 'unit') {
    const tap = tapFile('unit');
    const r = await runStage('unit', process.execPath, [
      join('scripts', 'test-unit.mjs'),
      '--test-reporter-destination=stdout',
      '--test-reporter=tap',
      `--test-reporter-destination=${tap}`,
      ...nodeTestArgs,
    ]);
    const c = tapCounts(tap);
    if (c) record('unit', r, c.passed, c.failed || (r.code !== 0 && c.failed === 0 ? 1 : 0), c.failedNames.slice(0, 10).join('; '));
    else record('unit', r, 0, 1, `no results (exit ${r.code}${r.timedOut ? ', timed out' : ''})`);
  } else if (stage === 'toolchain') {
    const r = await runStage('toolchain', process.execPath, [...tsx, join('scripts', 'toolchain', 'provision.ts'), '--with-browser']);
    toolchainOk = r.code === 0;
    if (!toolchainOk) record('toolchain', r, 0, 1, 'provisioning failed: the VS Code stages cannot run');
    else summary.push({ stage: 'toolchain', passed: 0, failed: 0, ms: r.ms, peakRss: r.peakRss, note: 'not counted' });
  } else if (stage === 'python') {
    if (!toolchainOk) {
      record('python', undefined, 0, 1, 'not run (toolchain failed)');
      continue;
    }
    const junit = join(results, 'python.xml');
    rmSync(junit, { force: true });
    // pytest's own summary line stays visible above ours; its JUnit report gives the counts.
    const r = await runStage('python', join('.toolchain', 'python', 'bin', 'python'), ['-m', 'pytest', join('python', 'tests'), '-q', '-p', 'no:cacheprovider', `--junitxml=${junit}`], {
      PYTHONDONTWRITEBYTECODE: '1',
    });
    const c = junitCounts(junit);
    if (c) record('python', r, c.passed, c.failed || (r.code !== 0 && r.code !== 5 ? 1 : 0), c.failedNames.slice(0, 10).join('; '));
    else record('python', r, 0, 1, `no results (exit ${r.code}${r.timedOut ? ', timed out' : ''})`);
  } else if (stage === 'ext-host') {
    if (!toolchainOk || !buildOk) {
      record('ext-host', undefined, 0, 1, 'not run (build or toolchain failed)');
      continue;
    }
    const file = join(results, 'extension-host.json');
    rmSync(file, { force: true });
    const r = await runStage('ext-host', process.execPath, [...tsx, join('test', 'vscode', 'runExtensionTests.ts')], {
      PRPO_VSCODE_TMP: vscodeTmp,
      TMPDIR: vscodeTmp,
      PRPO_RESULTS_DIR: results,
    });
    const left = sweep('ext-host');
    let c;
    try {
      c = JSON.parse(readFileSync(file, 'utf8'));
    } catch {
      c = undefined;
    }
    const failedNames = (c?.results ?? []).filter((x) => !x.ok).map((x) => x.name);
    if (c) record('ext-host', r, c.passed, c.failed || (r.code !== 0 ? 1 : 0), [...failedNames, c.error ?? ''].filter(Boolean).join('; ') + (left ? ` (${left} stray processes killed)` : ''));
    else record('ext-host', r, 0, 1, `no results (exit ${r.code}${r.timedOut ? ', timed out' : ''})`);
  } else if (stage === 'ui') {
    if (!toolchainOk || !buildOk) {
      record('ui', undefined, 0, 1, 'not run (build or toolchain failed)');
      continue;
    }
    const dir = join('test', 'vscode', 'scenarios');
    const files = readdirSync(dir)
      .filter((f) => f.endsWith('.scenario.ts'))
      .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
      .sort()
      .map((f) => join(dir, f));
    if (files.length === 0) {
      record('ui', undefined, 0, filters.length ? 0 : 1, filters.length ? 'no scenario matches' : 'no scenarios found');
      continue;
    }
    const tap = tapFile('ui');
    const r = await runStage(
      'ui',
      process.execPath,
      [
        ...tsx,
        '--test',
        '--test-concurrency=1',
        '--test-reporter=spec',
        '--test-reporter-destination=stdout',
        '--test-reporter=tap',
        `--test-reporter-destination=${tap}`,
        ...nodeTestArgs,
        ...files,
      ],
      { PRPO_VSCODE_TMP: vscodeTmp, TMPDIR: vscodeTmp },
    );
    const left = sweep('ui');
    const c = tapCounts(tap);
    const shots = join('.test-output', 'screenshots');
    if (c) {
      const note = [c.failedNames.join('; '), c.failed ? `screenshots and reports: ${shots}/, .test-output/failures/` : '', left ? `${left} stray processes killed` : '']
        .filter(Boolean)
        .join(' — ');
      record('ui', r, c.passed, c.failed || (r.code !== 0 ? 1 : 0), note);
    } else record('ui', r, 0, 1, `no results (exit ${r.code}${r.timedOut ? ', timed out' : ''})`);
  }
}
rmSync(vscodeTmp, { recursive: true, force: true });
mkdirSync(publicResults, { recursive: true });
for (const f of readdirSync(results)) cpSync(join(results, f), join(publicResults, f));
rmSync(results, { recursive: true, force: true });

const mib = (b) => `${Math.round(b / 2 ** 20)} MiB`;
const passed = summary.reduce((s, x) => s + x.passed, 0);
const failed = summary.reduce((s, x) => s + x.failed, 0) + (interrupted ? 1 : 0);
const peak = Math.max(0, ...summary.map((x) => x.peakRss));
console.log('\n[test] ── summary');
for (const s of summary) {
  const counts = s.note === 'not counted' ? 'ok'.padEnd(22) : `${s.passed} passed, ${s.failed} failed`.padEnd(22);
  console.log(`  ${s.stage.padEnd(10)} ${counts} ${(s.ms / 1000).toFixed(1).padStart(6)} s  peak ${mib(s.peakRss).padStart(8)}${s.note && s.note !== 'not counted' ? `  ${s.note}` : ''}`);
}
if (interrupted) console.log('  interrupted: counted as one failure');
console.log(`  wall time ${((Date.now() - t0) / 1000).toFixed(1)} s, peak memory of one stage's processes ${mib(peak)}`);
console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failed > 0 ? 1 : 0;
