// Where a secret could leak: files under a folder, and the command lines of every process (what `ps` shows
// to every user of the machine).
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Every regular file under `dir`, leaving out the paths `skip` names. */
export function filesUnder(dir: string, skip: (path: string) => boolean = () => false): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (skip(p)) return [];
    return e.isDirectory() ? filesUnder(p, skip) : e.isFile() ? [p] : [];
  });
}

/** The files among `files` whose bytes hold `needle`. */
export function filesHolding(files: string[], needle: string): string[] {
  return files.filter((f) => {
    try {
      return statSync(f).size < 256 * 1024 * 1024 && readFileSync(f).includes(needle);
    } catch {
      return false; // removed meanwhile
    }
  });
}

/** `pid: command line` of every process whose command line holds `needle`. */
export function commandLinesWith(needle: string): string[] {
  const found: string[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8');
      if (cmd.includes(needle)) found.push(`${d}: ${cmd.replace(/\0/g, ' ').slice(0, 200)}`);
    } catch {
      // exited meanwhile
    }
  }
  return found;
}
