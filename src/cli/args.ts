/** Small helpers shared by the subcommands: option parsing (node:util parseArgs) with clear errors, progress output. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { ExecutionProvider } from '../core/protocol/backend';

/** A usage or input problem: reported as one line, exit code 2. */
export class UsageError extends Error {}

/**
 * Parses options strictly. The result's `tokens` keep the command line's order (for options whose later
 * occurrences override earlier ones). Errors say what is wrong in the CLI's words:
 * `unknown option "--x" (see --help)`, `--input needs a value`.
 */
export function parse<T extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: T, allowPositionals = false) {
  try {
    return parseArgs({ args: argv, options, allowPositionals, strict: true, tokens: true });
  } catch (e) {
    const err = e as Error & { code?: string };
    const quoted = /'([^']+)'/.exec(err.message)?.[1];
    if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' || err.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
      throw new UsageError(`unknown option ${JSON.stringify(quoted ?? '')} (see --help)`);
    }
    if (err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && quoted && /argument missing|ambiguous/.test(err.message)) {
      throw new UsageError(`${quoted.split(' ')[0]} needs a value`);
    }
    throw new UsageError(err.message);
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

