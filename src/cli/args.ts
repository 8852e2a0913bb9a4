/** Small helpers shared by the training subcommands: option parsing with clear errors, progress output. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { ExecutionProvider } from '../core/protocol/backend';

export class UsageError extends Error {}

export function parse<T extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: T, allowPositionals = false) {
  try {
    return parseArgs({ args: argv, options, allowPositionals, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

export function intOption(value: string | undefined, name: string, min: number, fallback?: number): number {
  if (value === undefined) {
    if (fallback === undefined) throw new UsageError(`--${name} is required`);
    return fallback;
  }
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name}: expected an integer ≥ ${min}, got '${value}'`);
  return n;
}

export function epOption(value: string | undefined): ExecutionProvider {
  const ep = value ?? 'cpu';
  if (ep !== 'cpu' && ep !== 'cuda' && ep !== 'webgpu') throw new UsageError(`--ep: expected cpu, cuda or webgpu, got '${ep}'`);
  return ep;
}

/** A progress bar on a TTY (rewritten in place on stderr), one plain line per update when piped. */
export class Progress {
  private readonly tty: boolean;
  private last = '';

  constructor(private readonly out: NodeJS.WriteStream = process.stderr) {
    this.tty = Boolean(out.isTTY);
  }

  update(done: number, total: number, detail: string): void {
    if (!this.tty) {
      process.stdout.write(`step ${done}/${total} ${detail}\n`);
      return;
    }
    const width = 20;
    const filled = total > 0 ? Math.round((width * Math.min(done, total)) / total) : 0;
    const line = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${total} ${detail}`;
    const cols = this.out.columns ?? 100;
    this.last = line.slice(0, cols - 1);
    this.out.write(`\r\x1b[2K${this.last}`);
  }

  /** Prints a message on its own line without breaking the bar. */
  message(text: string): void {
    if (this.tty && this.last) this.out.write('\r\x1b[2K');
    process.stdout.write(text + '\n');
    if (this.tty && this.last) this.out.write(this.last);
  }

  end(): void {
    if (this.tty && this.last) this.out.write('\n');
    this.last = '';
  }
}

