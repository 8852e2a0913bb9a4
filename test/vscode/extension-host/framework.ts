// A small test framework for code that runs inside VS Code's extension host (no mocha in this project):
// test() registers, run() — the `extensionTestsPath` module's entry point — runs them in order, prints one
// line per test and a summary, writes the counts to $PRPO_EXT_TEST_RESULTS, and rejects when any failed
// (the workbench then reports a non-zero exit code to the driver through `codeAutomationExit`).
import { writeFileSync } from 'node:fs';

interface Case {
  name: string;
  fn: () => unknown | Promise<unknown>;
  timeoutMs: number;
}

const cases: Case[] = [];

export function test(name: string, fn: () => unknown | Promise<unknown>, opts: { timeoutMs?: number } = {}): void {
  cases.push({ name, fn, timeoutMs: opts.timeoutMs ?? 60_000 });
}

export interface CaseResult {
  name: string;
  ok: boolean;
  ms: number;
  error?: string;
}

export async function run(): Promise<void> {
  const results: CaseResult[] = [];
  console.log(`[ext-host] running ${cases.length} tests`);
  for (const c of cases) {
    const t0 = Date.now();
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        Promise.resolve().then(c.fn),
        new Promise((_, rej) => (timer = setTimeout(() => rej(new Error(`timed out after ${c.timeoutMs} ms`)), c.timeoutMs))),
      ]);
      results.push({ name: c.name, ok: true, ms: Date.now() - t0 });
      console.log(`[ext-host] ✔ ${c.name} (${Date.now() - t0} ms)`);
    } catch (e) {
      const error = e instanceof Error ? (e.stack ?? e.message) : String(e);
      results.push({ name: c.name, ok: false, ms: Date.now() - t0, error });
      console.log(`[ext-host] ✖ ${c.name} (${Date.now() - t0} ms)\n${error}`);
    } finally {
      clearTimeout(timer);
    }
  }
  const passed = results.filter((r) => r.ok).length;
  const failed = results.length - passed;
  console.log(`[ext-host] ${passed} passed, ${failed} failed`);
  const out = process.env.PRPO_EXT_TEST_RESULTS;
  if (out) writeFileSync(out, JSON.stringify({ passed, failed, results }, null, 2));
  if (failed) throw new Error(`${failed} extension-host test(s) failed`);
}
