// `npm test`: every suite, in order, with one summary a CI can read.
//
//   build        node esbuild.mjs (dist/ must match the sources the VS Code suites load); counted only if it fails
//   typecheck    tsc --noEmit -p . — counted as one test
//   toolchain    scripts/toolchain/provision.ts — Node 24 + code-server and the Python environment into
//                .toolchain/ (each reused when intact), plus Chromium for the UI tests
//   unit         scripts/test-unit.mjs (node's test runner; test/unit/python drives the Python package)
//   python       pytest python/tests with .toolchain/python's interpreter
//   ext-host     test/vscode/runExtensionTests.ts — tests inside the real extension host
//   ui           test/vscode/scenarios/*.scenario.ts — Playwright scenarios in real VS Code (code-server), one
//                node --test process per file, two files at a time (--ui-jobs=N, or PRPO_UI_JOBS; 1 = one by
//                one), never two CPU-heavy ones or two that share a resource together (uiLocks below)
//
// The last line is exactly `N passed, N failed` (all stages). Exit status 0 only when nothing failed.
//
//   npm test -- --stages=unit,ext-host      only these stages (build always runs when a VS Code stage does)
//   npm test -- --skip=ui                   all but these
//   npm test -- trajectory                  UI scenario files whose name contains "trajectory" (other args go to node --test)
//   npm test -- --ui-jobs=1                 UI scenario files one at a time
//
// Each stage runs in its own process group with a time limit; on timeout, Ctrl-C or SIGTERM the group is
// stopped, and whatever a VS Code stage started (found by its private temp folder) is killed and removed.
// The peak resident memory of each stage's process tree is sampled and reported.
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
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
const uiJobs = Math.max(1, Number(opt('ui-jobs')?.[0] ?? process.env.PRPO_UI_JOBS ?? 2) || 1);
const passthrough = argv.filter((a) => !/^--(stages|skip|ui-jobs)=/.test(a));
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

const running = new Set(); // the running stage's children (the ui stage runs several)
let interrupted = false;
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    interrupted = true;
    for (const c of running) signalGroup(c.pid, 'SIGTERM');
    setTimeout(() => {
      for (const c of running) signalGroup(c.pid, 'SIGKILL');
    }, 15_000).unref();
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
    running.add(child);
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
      running.delete(child);
      resolveStage({ code: code ?? (signal ? 128 : 1), ms: Date.now() - t0, peakRss, timedOut });
    });
  });
}

// UI scenario files run as separate `node --test` processes, `uiJobs` at a time. A file holds these locks while it
// runs, and no two files holding the same lock run together:
//  - 'cpu': the scenarios that train for real (the built-in trainer, PyTorch, a Ray head) or pace a live run
//    against the clock — two of them on 2 cores would slow each other past their bounds;
//  - 'fake-backend': useFakeBackend() rebuilds .test-output/fake-backend/fake-backend.js in place, which another
//    scenario's backend may be starting from at that moment (found from the file's source).
// Files with locks start first (the 'cpu' ones, the longest, at the head), the others fill the free slot.
const UI_CPU_HEAVY = ['cluster-runs', 'pytorch-backend', 'webview-live', 'run-control', 'vsix-install'];

const scenarioName = (file) => file.split('/').pop().replace(/\.scenario\.ts$/, '');

function uiLocks(file) {
  const locks = [];
  if (UI_CPU_HEAVY.includes(scenarioName(file))) locks.push('cpu');
  if (/\buseFakeBackend\(/.test(readFileSync(file, 'utf8'))) locks.push('fake-backend');
  return locks;
}

/**
 * Runs the scenario files `jobs` at a time under the stage's time limit; each file's output is printed whole when
 * it ends (as it comes when jobs = 1). Resolves like runStage, plus each file's TAP file and exit code.
 */
function runUiFiles(files, jobs, args, env, tapDir) {
  return new Promise((resolveStage) => {
    const t0 = Date.now();
    // The 'cpu' files first (in UI_CPU_HEAVY's order), then the other locked ones, then the rest.
    const rank = (f, locks) => (locks.includes('cpu') ? UI_CPU_HEAVY.indexOf(scenarioName(f)) : locks.length ? 100 : 200);
    const queue = files
      .map((f, i) => ({ file: f, locks: uiLocks(f), i }))
      .map((j) => ({ ...j, order: rank(j.file, j.locks) * 1000 + j.i }))
      .sort((a, b) => a.order - b.order);
    const held = new Set();
    const live = new Map(); // child → its job
    const done = [];
    let peakRss = 0;
    let timedOut = false;
    console.log(`\n[test] ── ui: ${files.length} scenario file(s), ${jobs} at a time: ${process.execPath} ${args.join(' ')} <file>`);
    const sample = setInterval(() => {
      let sum = 0;
      for (const c of live.keys()) sum += treeRss(c.pid);
      peakRss = Math.max(peakRss, sum);
    }, 1000);
    const limit = setTimeout(() => {
      timedOut = true;
      console.error(`\n[test] ui: over its ${TIMEOUTS_S.ui} s limit, stopping it`);
      queue.length = 0;
      for (const c of live.keys()) signalGroup(c.pid, 'SIGTERM');
      setTimeout(() => {
        for (const c of live.keys()) signalGroup(c.pid, 'SIGKILL');
      }, 20_000).unref();
    }, TIMEOUTS_S.ui * 1000);
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      clearInterval(sample);
      clearTimeout(limit);
      const code = done.some((d) => d.code !== 0) || timedOut ? 1 : 0;
      resolveStage({ code, ms: Date.now() - t0, peakRss, timedOut, files: done });
    };
    const start = () => {
      while (!interrupted && live.size < jobs) {
        const i = queue.findIndex((j) => j.locks.every((l) => !held.has(l)));
        if (i < 0) break;
        const [job] = queue.splice(i, 1);
        for (const l of job.locks) held.add(l);
        const name = job.file.split('/').pop();
        const tap = join(tapDir, `${name}.tap`);
        rmSync(tap, { force: true });
        const t = Date.now();
        const stream = jobs === 1;
        const child = spawn(process.execPath, [...args, `--test-reporter-destination=${tap}`, job.file], {
          stdio: ['ignore', stream ? 'inherit' : 'pipe', stream ? 'inherit' : 'pipe'],
          detached: true,
          env: { ...process.env, ...env },
        });
        const out = [];
        if (!stream) {
          console.log(`[test] ui: ${name} started${job.locks.length ? ` (holds ${job.locks.join(', ')})` : ''}`);
          child.stdout.on('data', (b) => out.push(b));
          child.stderr.on('data', (b) => out.push(b));
        }
        running.add(child);
        live.set(child, job);
        child.on('close', (code, signal) => {
          signalGroup(child.pid, 'SIGKILL'); // anything the file left in its own group
          running.delete(child);
          live.delete(child);
          for (const l of job.locks) held.delete(l);
          const ms = Date.now() - t;
          if (!stream) {
            console.log(`\n[test] ui: ── ${name} (${(ms / 1000).toFixed(1)} s, exit ${code ?? signal})`);
            process.stdout.write(Buffer.concat(out));
          }
          done.push({ file: job.file, name, tap, code: code ?? (signal ? 128 : 1), ms });
          if (live.size === 0 && (queue.length === 0 || interrupted || timedOut)) finish();
          else start();
        });
      }
      if (live.size === 0) finish();
    };
    start();
  });
}

/** Counts from a TAP file written by node's test runner, with the names of failed top-level tests. */
function tapCounts(file) {
  if (!existsSync(file)) return undefined;
  const text = readFileSync(file, 'utf8');
  const num = (k) => Number(text.match(new RegExp(`^# ${k} (\\d+)$`, 'm'))?.[1] ?? NaN);
  const failedNames = [...text.matchAll(/^not ok \d+ - (.*)$/gm)].map((m) => m[1]);
  // A UI scenario that failed once and passed on its retry says so (test/vscode/harness/studio.ts).
  const flaky = [...text.matchAll(/^\s*# flaky: (.*)$/gm)].map((m) => m[1]);
  const pass = num('pass');
  const fail = num('fail') + (num('cancelled') || 0);
  if (!Number.isFinite(pass) || !Number.isFinite(fail)) return undefined;
  return { passed: pass, failed: fail, failedNames, flaky };
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
    const tapDir = join(results, 'ui');
    mkdirSync(tapDir, { recursive: true });
    const r = await runUiFiles(
      files,
      uiJobs,
      [...tsx, '--test', '--test-reporter=spec', '--test-reporter-destination=stdout', '--test-reporter=tap', ...nodeTestArgs],
      { PRPO_VSCODE_TMP: vscodeTmp, TMPDIR: vscodeTmp },
      tapDir,
    );
    const left = sweep('ui');
    // Each file's counts; a file that wrote no counts (it crashed, or was stopped) is one failure by its name.
    let passedN = 0;
    let failedN = 0;
    const failedNames = [];
    const flaky = [];
    for (const f of r.files) {
      const c = tapCounts(f.tap);
      if (!c) {
        failedN += 1;
        failedNames.push(`${f.name}: no results (exit ${f.code})`);
        continue;
      }
      passedN += c.passed;
      flaky.push(...c.flaky);
      const failedHere = c.failed || (f.code !== 0 ? 1 : 0);
      failedN += failedHere;
      failedNames.push(...(c.failedNames.length ? c.failedNames : failedHere ? [`${f.name}: exit ${f.code}`] : []));
    }
    const notRun = files.length - r.files.length;
    if (notRun > 0) {
      failedN += 1;
      failedNames.push(`${notRun} scenario file(s) not run${r.timedOut ? ' (time limit)' : interrupted ? ' (interrupted)' : ''}`);
    }
    // One ui.tap in the results: the files' reports one after another.
    writeFileSync(
      join(results, 'ui.tap'),
      r.files.map((f) => `# file: ${f.file} (${(f.ms / 1000).toFixed(1)} s, exit ${f.code})\n${existsSync(f.tap) ? readFileSync(f.tap, 'utf8') : ''}`).join('\n'),
    );
    rmSync(tapDir, { recursive: true, force: true });
    const shots = join('.test-output', 'screenshots');
    for (const line of flaky) console.log(`[test] ui: flaky: ${line}`);
    const note = [
      failedNames.join('; '),
      failedN ? `screenshots and reports: ${shots}/, .test-output/failures/` : '',
      flaky.length ? `${flaky.length} flaky (failed once, passed on retry; reports in .test-output/flaky/)` : '',
      left ? `${left} stray processes killed` : '',
    ]
      .filter(Boolean)
      .join(' — ');
    record('ui', r, passedN, failedN, note);
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
