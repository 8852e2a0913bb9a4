// Everything a harness run starts is registered here, so that it is shut down on every path: normal end,
// failure, timeout, Ctrl-C, SIGTERM from a CI runner, or an uncaught error. Processes are started in their
// own session (setsid) and stopped as a whole process group.
import { readFileSync, readdirSync, rmSync } from 'node:fs';

type Cleanup = { name: string; async: () => Promise<void>; sync: () => void };
const cleanups = new Set<Cleanup>();
let installed = false;
let shuttingDown = false;

/** True once a signal asked this process to stop (cleanups are running). */
export function isShuttingDown(): boolean {
  return shuttingDown;
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', () => {
    for (const c of [...cleanups].reverse()) {
      try {
        c.sync();
      } catch {
        // best effort while exiting
      }
    }
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      shuttingDown = true;
      void runAll().finally(() => process.exit(sig === 'SIGINT' ? 130 : 143));
      // A second signal, or a cleanup that hangs, still ends the process (the 'exit' hook runs sync cleanup).
      setTimeout(() => process.exit(1), 30_000).unref();
      process.once(sig, () => process.exit(1));
    });
  }
}

/** Registers a cleanup; returns a function that runs it (once) and unregisters it. */
export function onCleanup(name: string, async: () => Promise<void>, sync: () => void): () => Promise<void> {
  install();
  const c: Cleanup = { name, async, sync };
  cleanups.add(c);
  let done: Promise<void> | undefined;
  return () => (done ??= runCleanup(c));
}

/** Runs one clean-up: the async way, the sync way if that fails; either way it is done. */
async function runCleanup(c: Cleanup): Promise<void> {
  try {
    await c.async();
  } catch {
    try {
      c.sync();
    } catch {
      // nothing more to try
    }
  } finally {
    cleanups.delete(c);
  }
}

export async function runAll(): Promise<void> {
  for (const c of [...cleanups].reverse()) await runCleanup(c);
}

/** Sends a signal to a whole process group; false when the group no longer exists. */
export function killGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/**
 * True while a member of the group still runs. A group of zombies counts as gone: a member whose parent died
 * first is reparented to PID 1, and in a container PID 1 may reap only every few seconds (measured here:
 * code-server's extension host and file watcher sat ~1.8 s as zombies after exiting on SIGTERM).
 */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  return livingMember(pgid);
}

/** Whether /proc shows a member of `pgid` that is not a zombie (true when /proc cannot be read). */
function livingMember(pgid: number): boolean {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return true;
  }
  for (const d of entries) {
    if (!/^\d+$/.test(d)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${d}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    // pid (comm) state ppid pgrp …: comm may hold spaces and parentheses, so split after the last ')'.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(f[2]) === pgid && f[0] !== 'Z' && f[0] !== 'X') return true;
  }
  return false;
}

/** SIGTERM to the group, then SIGKILL after `graceMs` if any member is left. */
export async function stopGroup(pgid: number, graceMs = 5000): Promise<void> {
  if (!killGroup(pgid, 'SIGTERM')) return;
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!groupAlive(pgid)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  killGroup(pgid, 'SIGKILL');
  const hard = Date.now() + 3000;
  while (Date.now() < hard && groupAlive(pgid)) await new Promise((r) => setTimeout(r, 50));
}

export function removeDir(dir: string): void {
  try {
    rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  } catch {
    // a file still held open: left for the stage runner's sweep
  }
}
